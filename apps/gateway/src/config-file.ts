import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { historySettingBody, type HistorySetting } from './history/history-setting.js';
import { deviceBody, listenerBody, roomAccessBody } from './settings-schemas.js';

/**
 * `--config switchboard.json`: everything the flags hold, by the flags' names
 * (`{"http-port": 8081, "admin-token": "…", "listen": ["line://…"]}`), plus `listeners` and
 * `devices`: arrays shaped like the REST bodies of POST /api/listeners and /api/devices.
 * Validated with a JSON schema; an error names the file, the line and the field.
 */
export interface ConfigFile {
  /** Flag name → value as JSON (numbers, booleans, strings, arrays for lists). */
  flags: Map<string, unknown>;
  listeners: Record<string, unknown>[];
  devices: Record<string, unknown>[];
  /**
   * Room name → who may use it, shaped like the body of PUT /api/rooms/:name, and how its
   * messages are kept (`history`, shaped like the body of PUT /api/rooms/:name/history).
   */
  rooms: Record<string, { access?: 'anyone' | 'accounts' | 'operators' | 'named'; accounts?: string[]; history?: HistorySetting }>;
}

export type FlagKind = 'string' | 'port' | 'int' | 'bool' | 'list' | 'path' | 'repeat';

const schemaOf: Record<FlagKind, object> = {
  string: { type: 'string' },
  path: { type: 'string' },
  port: { type: 'integer', minimum: 0, maximum: 65535 },
  int: { type: 'integer', minimum: 0 },
  bool: { type: 'boolean' },
  list: { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }] },
  repeat: { type: 'array', items: { type: 'string' } },
};

/** A room in a config file: its access (optional here: a room may set only its history), its history setting, or both. */
const roomConfigBody = {
  type: 'object',
  properties: { ...roomAccessBody.properties, history: historySettingBody },
  additionalProperties: false,
} as const;

export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

/** Reads and checks a config file against the flags the gateway has. */
export function readConfigFile(path: string, flags: readonly { flag: string; kind: FlagKind }[]): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(`${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    const line = at === undefined ? '' : `:${text.slice(0, Number(at)).split('\n').length}`;
    throw new ConfigFileError(`${path}${line}: not valid JSON (${(error as Error).message}).`);
  }
  const schema = {
    type: 'object',
    properties: {
      ...Object.fromEntries(flags.map((f) => [f.flag, schemaOf[f.kind]])),
      listeners: { type: 'array', items: listenerBody },
      devices: { type: 'array', items: deviceBody },
      rooms: { type: 'object', propertyNames: { pattern: '^[\\p{L}\\p{N}_.-]{1,32}$' }, additionalProperties: roomConfigBody },
    },
    additionalProperties: false,
  };
  const ajv = new Ajv({ allErrors: false, strict: false });
  const validate = ajv.compile(schema);
  if (!validate(json)) {
    const error = validate.errors![0]!;
    const pointer =
      error.keyword === 'additionalProperties'
        ? `${error.instancePath}/${(error.params as { additionalProperty: string }).additionalProperty}`
        : error.instancePath;
    const field = pointer.slice(1).replaceAll('/', '.') || '(top level)';
    const message = error.keyword === 'additionalProperties' ? 'is not a setting this gateway has (see --help)' : error.message;
    throw new ConfigFileError(`${path}:${lineOf(text, pointer)}: ${field} ${message}.`);
  }
  const { listeners = [], devices = [], rooms = {}, ...rest } = json as Record<string, unknown> & Partial<Pick<ConfigFile, 'listeners' | 'devices' | 'rooms'>>;
  return { flags: new Map(Object.entries(rest)), listeners, devices, rooms };
}

/** The line (1-based) where the value at a JSON pointer starts, by scanning the text once. */
export function lineOf(text: string, pointer: string): number {
  const wanted =
    pointer === ''
      ? []
      : pointer
          .slice(1)
          .split('/')
          .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  let at = 0;
  let line = 1;
  const skip = (): void => {
    while (at < text.length && /\s/.test(text[at]!)) if (text[at++] === '\n') line++;
  };
  const string = (): string => {
    let out = '';
    at++; // the opening quote
    while (at < text.length && text[at] !== '"') {
      if (text[at] === '\\') out += text.charAt(at++);
      out += text.charAt(at++); // '' past the end (a file ending in a backslash), not "undefined"
    }
    at++;
    return JSON.parse(`"${out}"`) as string;
  };
  /** Walks one value; returns the line of the pointer's target when it lies inside it. */
  const value = (path: string[]): number | undefined => {
    skip();
    if (path.length === wanted.length && path.every((p, i) => p === wanted[i])) return line;
    const c = text[at];
    if (c === '{' || c === '[') {
      at++;
      let index = 0;
      for (;;) {
        skip();
        if (text[at] === '}' || text[at] === ']') {
          at++;
          return undefined;
        }
        let key = String(index++);
        if (c === '{') {
          key = string();
          skip();
          at++; // the colon
        }
        const found = value([...path, key]);
        if (found !== undefined) return found;
        skip();
        if (text[at] === ',') at++;
      }
    }
    if (c === '"') string();
    else while (at < text.length && !/[\s,\]}]/.test(text[at]!)) at++;
    return undefined;
  };
  return value([]) ?? 1;
}
