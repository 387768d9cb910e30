import net from 'node:net';
import { isValidName, parseEscapes } from '@switchboard/protocol';
import { inBlock } from '../address-match.js';
import { GatewayError } from '../errors.js';
import { hearings, type Hears } from '../hub/device.js';
import type { Hub } from '../hub/hub.js';
import { DEVICE_ROOM_DEFAULT } from '../room-access.js';
import { deviceOptionsSchema } from '../settings-schemas.js';
import { HeldBudget, LineFraming, RawFraming, type Framing } from './framing.js';

export { hearings, type Hears };

/** How fast a device may send: messages a second sustained, and at once; past it its socket is not read. */
export interface DeviceRate {
  perSecond: number;
  burst: number;
}

/** How a socket's bytes become messages (docs/devices.md, "Devices as they are"). */
export const framings = ['frame', 'line', 'raw'] as const;
export type FramingName = (typeof framings)[number];

/** What a device socket is framed with and how its members behave; shared by listeners and outbound links. */
export interface DeviceOptions {
  framing: FramingName;
  room: string;
  /** line: what ends a message, as text with escapes (`\r\n`, `#`, `\x03`). */
  delimiter: string;
  maxLineBytes: number;
  /** line: a partial line that sits this long is a message (0: never). */
  idleFlushMs: number;
  encoding: 'utf8' | 'latin1';
  /** raw: a message ends after this long without bytes. */
  idleMs: number;
  /** raw: or at this many bytes (null: no fixed length). */
  fixedLength: number | null;
  /** raw: the WinForms client's leading byte, 0 text, 1 file. */
  typeByte: boolean;
  /** Members get `alice: …` lines and presence (chat use); off: the text alone. */
  senderPrefix: boolean;
  /** Close a device silent for this long (0: never): TCP keepalive takes minutes to see a half-open peer. */
  idleTimeoutMs: number;
  /** Whose words it hears in its room. */
  hears: Hears;
  /** Presence, server notices and error lines reach it too (off: it gets only what someone said). */
  notices: boolean;
  /** Its sending rate; past it, it is paused, not cut. */
  rate: DeviceRate;
}

export interface ListenerSettings extends DeviceOptions {
  id: string;
  host: string;
  port: number;
  backlog: number;
  tls: boolean;
}

export interface DeviceLinkSettings extends DeviceOptions {
  id: string;
  name: string;
  host: string;
  port: number;
}

/**
 * Where line/raw listeners and device links put their devices unless told: a room of their own,
 * not lobby, since a room with devices in it is closed to all but operators until an operator
 * opens it (closeDeviceRoom), and lobby is where everyone chats.
 */
export const DEVICE_ROOM = 'devices';

/**
 * A room a line/raw listener or a device link puts devices in is open to operators only, unless
 * its access was set (PUT /api/rooms/:name, --config): a device acts on every line it hears.
 */
export function closeDeviceRoom(hub: Hub, room: string): void {
  // Members already there that it does not admit leave it (a listener added for a busy room).
  if (hub.identity.store.configureRoomAccess({ room, ...DEVICE_ROOM_DEFAULT }, { unlessSet: true })) hub.roomAccessChanged(room);
}

/** Options as given (REST body, config file, --listen): any may be left out, a rate's fields too. */
export type GivenOptions = Partial<Omit<DeviceOptions, 'rate'>> & { rate?: Partial<DeviceRate> | undefined };

export const DEVICE_DEFAULTS: DeviceOptions = {
  framing: 'line',
  room: DEVICE_ROOM,
  delimiter: '\\n',
  maxLineBytes: 64 * 1024,
  idleFlushMs: 0,
  encoding: 'utf8',
  idleMs: 20,
  fixedLength: null,
  typeByte: false,
  senderPrefix: false,
  idleTimeoutMs: 0,
  // Machines that answer what they hear must not hear each other unless asked: no echo storms.
  hears: 'people',
  // A device may take any line as a command: gateway words reach it only when asked.
  notices: false,
  // Generous for a PLC or a sensor stream, bounded so one device cannot flood its room.
  rate: { perSecond: 500, burst: 1000 },
};

/** What raw connections' unfinished files may hold together, at least (one file of --max-file-bytes always fits). */
export const DEVICE_FILES_HELD_BYTES = 64 * 1024 * 1024;

export function deviceFileBudget(maxFileBytes: number): HeldBudget {
  return new HeldBudget(Math.max(DEVICE_FILES_HELD_BYTES, maxFileBytes + 1));
}

/** Fills defaults and checks what a schema cannot: the room name, the delimiter's escapes. */
export function completeOptions<T extends GivenOptions>(given: T, defaults: DeviceOptions = DEVICE_DEFAULTS): Omit<T, 'rate'> & DeviceOptions {
  const options = { ...defaults, ...given, rate: { ...defaults.rate, ...given.rate } };
  // A delimiter given as its bytes (a config file's "\r\n" in JSON) is kept and shown as the
  // escapes that mean the same bytes, as everywhere else; with a backslash it is escapes already.
  if (/[\x00-\x1f\x7f]/.test(options.delimiter) && !options.delimiter.includes('\\')) options.delimiter = escapeBytes(options.delimiter);
  if (!isValidName(options.room)) throw new GatewayError('ROOM_INVALID', `"${options.room}" is not a valid room name.`);
  // What a schema checks for REST bodies, checked again for --listen and stored files.
  if (!hearings.includes(options.hears)) throw new GatewayError('VALIDATION_FAILED', `hears: "${options.hears}" is not one of ${hearings.join(', ')}.`);
  const { perSecond, burst } = options.rate;
  if (!(Number.isInteger(perSecond) && perSecond >= 1 && Number.isInteger(burst) && burst >= 1)) {
    throw new GatewayError('VALIDATION_FAILED', 'rate: perSecond and burst are whole numbers of messages, at least 1.');
  }
  try {
    if (parseEscapes(options.delimiter).length === 0) throw new RangeError('The delimiter is empty.');
  } catch (error) {
    throw new GatewayError('VALIDATION_FAILED', `delimiter: ${(error as Error).message}`);
  }
  return options;
}

/**
 * The framing for one device connection (each has its own buffers). No message is longer than
 * the gateway allows: a raw stream with no pause is cut at the text limit (at the file limit
 * with the type byte, where one message may be a whole file), and so is a line.
 */
export function makeFraming(options: DeviceOptions, limits: { maxTextBytes: number; maxFileBytes: number }, fileBudget?: HeldBudget): Framing {
  const { maxTextBytes, maxFileBytes } = limits;
  if (options.framing === 'raw') {
    // With the type byte, text is cut at the text limit like any raw stream; a file is held whole (it has no length) within the shared budget.
    const { idleMs, fixedLength, typeByte } = options;
    const maxMessageBytes = typeByte ? maxTextBytes + 1 : maxTextBytes;
    return new RawFraming({ idleMs, fixedLength, typeByte, maxMessageBytes, maxFileMessageBytes: maxFileBytes + 1, fileBudget });
  }
  return new LineFraming({
    delimiter: parseEscapes(options.delimiter),
    maxLineBytes: Math.min(options.maxLineBytes, maxTextBytes),
    idleFlushMs: options.idleFlushMs,
  });
}

/**
 * A listener from the command line: `line://0.0.0.0:9100?delimiter=%0D%0A&room=plc`, or
 * `raw://…?typeByte=true`, `frame://…`. Query fields are the REST body's fields.
 */
export function parseListenUrl(text: string): Omit<Partial<ListenerSettings>, 'rate'> & GivenOptions & { host: string; port: number; framing: FramingName } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`--listen ${text}: not a URL like line://0.0.0.0:9100?delimiter=%0D%0A`);
  }
  const framing = url.protocol.slice(0, -1) as FramingName;
  if (!framings.includes(framing)) throw new Error(`--listen ${text}: the scheme must be frame, line or raw`);
  const port = Number(url.port);
  // Port 0: any free port, as a REST body may ask (the listener's status says which).
  if (url.port === '' || !Number.isInteger(port) || port < 0) throw new Error(`--listen ${text}: a port is needed`);
  const settings: Record<string, unknown> = { framing, host: url.hostname.replace(/^\[|\]$/g, ''), port };
  for (const [key, value] of url.searchParams) {
    if (key === 'rate') {
      // rate=PER_SECOND or rate=PER_SECOND/BURST
      const match = /^(\d+)(?:\/(\d+))?$/.exec(value);
      if (match === null) throw new Error(`--listen ${text}: rate is messages a second, optionally /burst (rate=500/1000)`);
      settings.rate = { perSecond: Number(match[1]), ...(match[2] !== undefined && { burst: Number(match[2]) }) };
      continue;
    }
    if (key === 'delimiter') {
      // Shown and stored as escaped text, as a REST body gives it: `%0D%0A` is `\r\n`.
      settings.delimiter = value.includes('\\') ? value : escapeBytes(value);
      continue;
    }
    const schema = (deviceOptionsSchema as Record<string, { type: string | readonly string[] }>)[key];
    if (schema === undefined && key !== 'backlog' && key !== 'id') throw new Error(`--listen ${text}: unknown field "${key}"`);
    const type = schema?.type ?? (key === 'id' ? 'string' : 'integer');
    settings[key] =
      type === 'boolean' ? value === 'true' : type === 'string' || (Array.isArray(type) && value === '') ? value : value === 'null' ? null : Number(value);
  }
  return settings as Omit<Partial<ListenerSettings>, 'rate'> & GivenOptions & { host: string; port: number; framing: FramingName };
}

/** Text with control characters written as the escapes parseEscapes reads (`\r\n`, `\x03`). */
export function escapeBytes(text: string): string {
  const named: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\t': '\\t', '\0': '\\0', '\\': '\\\\' };
  return text.replace(/[\x00-\x1f\x7f\\]/g, (c) => named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// ---- Where outbound links may dial (never an open proxy) ----

interface TargetRule {
  host: string;
  prefix: number | null;
  ports: [number, number] | null;
}

/** `host[/prefix][:port[-port]]`, comma-separated: `127.0.0.1:9200-9299,10.0.0.0/8:502`. */
export function parseTargets(text: string): TargetRule[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      // A bare IPv6 address (`::1`, `fd00::/8`) has no port; with one it is written `[::1]:502`.
      const [bare, bits] = part.split('/');
      if (net.isIPv6(bare!) && (bits === undefined || /^\d{1,3}$/.test(bits))) {
        return { host: bare!, prefix: bits === undefined ? null : Number(bits), ports: null };
      }
      const match = /^(\[[^\]]+\]|[^:/]+)(?:\/(\d{1,3}))?(?::(\d{1,5})(?:-(\d{1,5}))?)?$/.exec(part);
      if (match === null) throw new Error(`--device-targets: "${part}" is not host[/prefix][:port[-port]]`);
      const [, host, prefix, low, high] = match;
      return {
        host: host!.replace(/^\[|\]$/g, ''),
        prefix: prefix === undefined ? null : Number(prefix),
        ports: low === undefined ? null : [Number(low), Number(high ?? low)],
      };
    });
}

export const DEFAULT_DEVICE_TARGETS = '127.0.0.0/8,::1';

/** Whether `host:port` is on the allowlist; checked before any dialing. */
export function targetAllowed(rules: readonly TargetRule[], host: string, port: number): boolean {
  return rules.some((rule) => {
    if (rule.ports !== null && (port < rule.ports[0] || port > rule.ports[1])) return false;
    return inBlock(host, rule.host, rule.prefix);
  });
}
