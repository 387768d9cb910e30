import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_FRAME_LENGTH } from '@switchboard/protocol';
import { ConfigFileError, readConfigFile, type ConfigFile } from './config-file.js';
import { options, type Option } from './config-flags.js';
import { parseRedisUrl } from './cluster/redis-url.js';
import { historySettingProblem } from './history/history-setting.js';
import { parseListenUrl, parseTargets } from './devices/device-settings.js';

/** Everything the gateway can be told. `buildApp` takes one of these; `loadConfig` reads it from flags and env. */
export interface GatewayConfig {
  http: { host: string; port: number };
  tcp: { host: string; port: number; backlog: number; autoStart: boolean };
  /** Folder for the SQLite history database; null keeps history in memory only (tests). */
  dataDir: string | null;
  /** Folder of the built web page; null serves no page. */
  webRoot: string | null;
  limits: {
    maxFrameLength: number;
    maxTextBytes: number;
    maxFileBytes: number;
    maxQueueBytes: number;
    maxConnections: number;
    maxConnectionsPerIp: number;
    ratePerSecond: number;
    rateBurst: number;
    maxTransfersPerMember: number;
    /** HTTP connections (page, API, WebSocket upgrades still in HTTP) in total, and from one address. */
    maxHttpConnections: number;
    maxHttpConnectionsPerIp: number;
  };
  timing: {
    helloTimeoutMs: number;
    heartbeatMs: number;
    frameTimeoutMs: number;
    closeTimeoutMs: number;
    fileStallMs: number;
    shutdownGraceMs: number;
    /** Under load, the most a frame waits so that it shares a write with the frames after it. */
    flushWindowMs: number;
    /** How far a wide flush's window may stretch while each member gathers a few frames (0: no stretch), --flush-window-max-ms. */
    flushWindowMaxMs: number;
    /** Longest a history commit waits for more rows while they keep coming (group commit), --commit-window-ms. */
    commitWindowMs: number;
    /** On SIGTERM, how long to stay up but not ready before closing. */
    drainMs: number;
    /** An HTTP connection with no request under way is closed after this long (keep-alive included). */
    httpIdleTimeoutMs: number;
    /** The most an HTTP request may take to arrive (headers and body). */
    httpRequestTimeoutMs: number;
  };
  /** `privateHistory`: private conversations' setting (--private-history); the memory rings' default bounds; `sync`: --history-sync. */
  history: { onJoin: number; maxPage: number; privateHistory: string; memorySize: number; memoryTtlSeconds: number; sync: string };
  /** Files kept for later in `<data-dir>/files` (docs/chat.md, "Files kept"). */
  files: {
    store: boolean;
    maxFileBytes: number;
    maxRoomBytes: number;
    maxTotalBytes: number;
    retentionDays: number;
  };
  /** Rooms' access from --config, applied at every start (docs/identity-and-security.md, "Rooms and who may use them"). */
  rooms: ConfigFile['rooms'];
  devices: {
    /** Listeners beside the default one, as URLs: `line://0.0.0.0:9100?delimiter=%0D%0A&room=plc`. */
    listen: string[];
    /** Where outbound device links may dial: `host[/prefix][:port[-port]]`, comma-separated. */
    targets: string;
    /** The longest wait between dials of a device that is down. */
    backoffMaxMs: number;
    /** Entries of recent traffic kept per device (each at most 4 KiB of its bytes). */
    trafficEntries: number;
    /** No auto-reply rule fires more often than this many times a second. */
    ruleMaxPerSecond: number;
    /** Listeners and outbound device links from --config (REST body shapes); not stored in the data directory. */
    fromFile: { listeners: Record<string, unknown>[]; links: Record<string, unknown>[] };
  };
  identity: {
    /** Who may register an account: anyone (open), operators (admin), nobody (closed). */
    registration: 'open' | 'admin' | 'closed';
    requireLogin: boolean;
    requireLoginDevices: boolean;
    tokenTtlDays: number;
  };
  security: {
    adminToken: string | null;
    /** Extra Origins allowed to open the WebSocket and call the API, besides the gateway's own. `*` allows any. */
    allowedOrigins: string[];
    /** Host names served besides loopback names and the listen address (DNS rebinding guard). `*` allows any. */
    allowedHosts: string[];
    /** GET /api/clients and /api/history?room= without admin rights; null: on unless --require-login. */
    publicRead: boolean | null;
    tlsCert: string | null;
    tlsKey: string | null;
    /** Serve the TCP listener over TLS too (needs tlsCert and tlsKey). */
    tcpTls: boolean;
    /** /metrics without admin rights (for a Prometheus on the same network). */
    metricsPublic: boolean;
  };
  /** Several gateways on one Redis (absent URL: one gateway, nothing shared). */
  cluster: {
    redisUrl: string | null;
    /** This node's name in logs, member ids and /api/clients; null: generated at start. */
    nodeId: string | null;
    /** How often a node says it is alive; one silent for 1.5 of these is lost. */
    heartbeatMs: number;
    /** How long a message waits for Redis, and an operator's request for another node. */
    timeoutMs: number;
    /** Entries kept in the Redis history stream (about; trimmed with MAXLEN ~). */
    historyRetention: number;
    /** On a Redis Cluster, 1: a message is acknowledged once a replica of its master has it (WAIT 1); 0: once the master has it. */
    waitReplicas: number;
  };
  logLevel: string;
}

/** The embedded defaults: `npm start` with no flags runs on these. */
export function defaultConfig(): GatewayConfig {
  return {
    http: { host: '127.0.0.1', port: 8080 },
    tcp: { host: '127.0.0.1', port: 9000, backlog: 511, autoStart: true },
    dataDir: 'data',
    // apps/web/dist, seen from apps/gateway/src or apps/gateway/dist.
    webRoot: fileURLToPath(new URL('../../web/dist', import.meta.url)),
    limits: {
      maxFrameLength: DEFAULT_MAX_FRAME_LENGTH,
      maxTextBytes: 64 * 1024,
      maxFileBytes: 50 * 1024 * 1024,
      maxQueueBytes: 1024 * 1024,
      maxConnections: 10_000,
      maxConnectionsPerIp: 1_000,
      ratePerSecond: 50,
      rateBurst: 100,
      maxTransfersPerMember: 4,
      maxHttpConnections: 1_000,
      maxHttpConnectionsPerIp: 100,
    },
    timing: {
      helloTimeoutMs: 500,
      heartbeatMs: 30_000,
      frameTimeoutMs: 30_000,
      closeTimeoutMs: 5_000,
      fileStallMs: 30_000,
      shutdownGraceMs: 5_000,
      flushWindowMs: 4,
      flushWindowMaxMs: 10,
      commitWindowMs: 2,
      drainMs: 0,
      httpIdleTimeoutMs: 10_000,
      httpRequestTimeoutMs: 30_000,
    },
    history: { onJoin: 50, maxPage: 500, privateHistory: 'durable', memorySize: 100, memoryTtlSeconds: 3600, sync: 'normal' },
    files: { store: true, maxFileBytes: 50 * 1024 * 1024, maxRoomBytes: 1024 * 1024 * 1024, maxTotalBytes: 4 * 1024 * 1024 * 1024, retentionDays: 30 },
    rooms: {},
    devices: {
      listen: [],
      targets: '127.0.0.0/8,::1',
      backoffMaxMs: 10_000,
      trafficEntries: 1000,
      ruleMaxPerSecond: 5,
      fromFile: { listeners: [], links: [] },
    },
    identity: { registration: 'open', requireLogin: false, requireLoginDevices: false, tokenTtlDays: 30 },
    cluster: { redisUrl: null, nodeId: null, heartbeatMs: 4_000, timeoutMs: 2_000, historyRetention: 100_000, waitReplicas: 1 },
    security: { adminToken: null, allowedOrigins: [], allowedHosts: [], publicRead: null, tlsCert: null, tlsKey: null, tcpTls: false, metricsPublic: false },
    logLevel: 'info',
  };
}

/** --public-read in force: as set, else on unless --require-login. */
export function publicReadOn(config: Pick<GatewayConfig, 'security' | 'identity'>): boolean {
  return config.security.publicRead ?? !config.identity.requireLogin;
}

export const envName = (flag: string): string => `SWITCHBOARD_${flag.toUpperCase().replaceAll('-', '_')}`;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads the settings: the defaults, then --config's file, then SWITCHBOARD_* environment
 * variables, then flags (each wins over the ones before).
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): { config: GatewayConfig; help: boolean; print: boolean } {
  const parsed = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' },
      config: { type: 'string' },
      'print-config': { type: 'boolean' },
      ...Object.fromEntries(
        options.map((o) => [o.flag, { type: o.kind === 'bool' ? ('boolean' as const) : ('string' as const), multiple: o.kind === 'repeat' }]),
      ),
      ...Object.fromEntries(options.filter((o) => o.kind === 'bool').map((o) => [`no-${o.flag}`, { type: 'boolean' as const }])),
    },
  });
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const config = defaultConfig();
  const file = (values.config as string | undefined) ?? env.SWITCHBOARD_CONFIG;
  if (file !== undefined) {
    let read;
    try {
      read = readConfigFile(file, options);
    } catch (error) {
      throw new ConfigError((error as ConfigFileError).message);
    }
    for (const option of options) {
      const value = read.flags.get(option.flag);
      if (value === undefined) continue;
      // The file's values pass the same conversion as a flag's, so one rule checks both.
      const raw = Array.isArray(value)
        ? option.kind === 'repeat'
          ? value.map(String)
          : value.join(',')
        : typeof value === 'boolean'
          ? value
          : typeof value === 'string'
            ? value
            : JSON.stringify(value); // an object shows as itself, not [object Object]
      option.set(config, convert(option, raw) as never);
    }
    config.devices.fromFile = { listeners: read.listeners, links: read.devices };
    config.rooms = read.rooms;
  }
  for (const option of options) {
    let raw: string | string[] | boolean | undefined = env[envName(option.flag)];
    if (values[option.flag] !== undefined) raw = values[option.flag];
    if (values[`no-${option.flag}`]) raw = false;
    if (raw === undefined) continue;
    option.set(config, convert(option, raw) as never);
  }
  validate(config);
  return { config, help: values.help === true, print: values['print-config'] === true };
}

/** The settings in force, in the config file's form: what --print-config shows. */
export function printableConfig(config: GatewayConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const option of options) {
    // --public-read unset means "follow --require-login": shown as the value in force, which a file can hold.
    const value = option.flag === 'public-read' ? publicReadOn(config) : option.get(config);
    out[option.flag] = option.kind === 'repeat' ? config.devices.listen : option.kind === 'list' ? String(value).split(',').filter(Boolean) : value;
  }
  return { ...out, listeners: config.devices.fromFile.listeners, devices: config.devices.fromFile.links, rooms: config.rooms };
}

function convert(option: Option, raw: string | string[] | boolean): unknown {
  const where = `--${option.flag} (${envName(option.flag)})`;
  switch (option.kind) {
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (/^(1|true|yes|on)$/i.test(String(raw))) return true;
      if (/^(0|false|no|off)$/i.test(String(raw))) return false;
      throw new ConfigError(`${where} must be true or false, got "${String(raw)}".`);
    case 'port':
    case 'int': {
      const n = Number(raw);
      const max = option.kind === 'port' ? 65535 : Number.MAX_SAFE_INTEGER;
      if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim()) || n > max) {
        throw new ConfigError(`${where} must be ${option.kind === 'port' ? 'a port from 0 to 65535' : 'a whole number'}, got "${String(raw)}".`);
      }
      return n;
    }
    case 'repeat':
      return Array.isArray(raw) ? raw : String(raw).split(/\s+/).filter(Boolean);
    case 'list':
      return String(raw)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'path':
      return String(raw).trim() === '' ? null : String(raw);
    case 'string':
      return String(raw);
  }
}

function validate(c: GatewayConfig): void {
  const positive: [string, number][] = [
    ['max-frame-bytes', c.limits.maxFrameLength],
    ['max-queue-bytes', c.limits.maxQueueBytes],
    ['max-connections', c.limits.maxConnections],
    ['max-connections-per-ip', c.limits.maxConnectionsPerIp],
    ['max-http-connections', c.limits.maxHttpConnections],
    ['max-http-connections-per-ip', c.limits.maxHttpConnectionsPerIp],
    ['http-idle-timeout-ms', c.timing.httpIdleTimeoutMs],
    ['http-request-timeout-ms', c.timing.httpRequestTimeoutMs],
    ['rate', c.limits.ratePerSecond],
    ['rate-burst', c.limits.rateBurst],
    ['history-max-page', c.history.maxPage],
    ['history-memory-size', c.history.memorySize],
    ['history-memory-ttl', c.history.memoryTtlSeconds],
    ['node-heartbeat-ms', c.cluster.heartbeatMs],
    ['cluster-timeout-ms', c.cluster.timeoutMs],
    ['history-retention', c.cluster.historyRetention],
  ];
  for (const [flag, value] of positive) {
    if (value < 1) throw new ConfigError(`--${flag} must be at least 1.`);
  }
  if (c.limits.maxFrameLength > 0xffffffff) throw new ConfigError('--max-frame-bytes must fit in 32 bits.');
  if ((c.security.tlsCert === null) !== (c.security.tlsKey === null)) {
    throw new ConfigError('--tls-cert and --tls-key go together.');
  }
  if (c.security.tcpTls && c.security.tlsCert === null) throw new ConfigError('--tcp-tls needs --tls-cert and --tls-key.');
  try {
    parseTargets(c.devices.targets);
    c.devices.listen.forEach(parseListenUrl);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (c.cluster.nodeId !== null && !/^[A-Za-z0-9_-]{1,32}$/.test(c.cluster.nodeId)) {
    throw new ConfigError('--node-id takes letters, digits, - and _, at most 32 of them.');
  }
  if (c.cluster.redisUrl !== null) {
    try {
      parseRedisUrl(c.cluster.redisUrl);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
  }
  if (c.cluster.waitReplicas !== 0 && c.cluster.waitReplicas !== 1) throw new ConfigError('--redis-wait-replicas must be 0 or 1.');
  for (const [room, { access, accounts, history }] of Object.entries(c.rooms)) {
    const problem = history === undefined ? undefined : historySettingProblem(history);
    if (problem !== undefined) throw new ConfigError(`rooms.${room}.history: ${problem}`);
    if (access === undefined && accounts !== undefined) throw new ConfigError(`rooms.${room}: \`accounts\` goes with access "named" only.`);
  }
  if (!['durable', 'memory', 'none'].includes(c.history.privateHistory)) throw new ConfigError('--private-history must be durable, memory or none.');
  if (!['normal', 'full'].includes(c.history.sync)) throw new ConfigError('--history-sync must be normal or full.');
  if (c.history.memorySize > 10_000) throw new ConfigError('--history-memory-size must be at most 10000.');
  if (c.history.memoryTtlSeconds > 2_592_000) throw new ConfigError('--history-memory-ttl must be at most 2592000 (30 days).');
  if (!['open', 'admin', 'closed'].includes(c.identity.registration)) throw new ConfigError('--registration must be open, admin or closed.');
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(c.logLevel)) throw new ConfigError(`--log-level must be one of ${levels.join(', ')}.`);
}

/** The text of --help, generated from the same table the parser uses. */
export function helpText(): string {
  const defaults = defaultConfig();
  const lines = [
    'Usage: switchboard [options]',
    '',
    'Switchboard gateway: a TCP chat listener, a WebSocket bridge at /ws, a REST API at /api and the web page.',
    'Every option can also be set by the environment variable shown, and in a JSON file given with --config (keys are the',
    'option names; also "listeners" and "devices", arrays shaped like the REST bodies). Flags win over the environment,',
    'which wins over the file. --print-config shows the result and exits.',
    '',
  ];
  for (const o of options) {
    const value = o.get(defaults);
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- defaults are strings, numbers, booleans and lists
    const shown = o.flag === 'public-read' && value === null ? 'on (off with --require-login)' : value === null || value === '' ? '(unset)' : String(value);
    const placeholder =
      o.kind === 'list'
        ? 'list'
        : o.kind === 'repeat'
          ? 'url'
          : o.kind === 'path'
            ? /dir|root/.test(o.flag)
              ? 'dir'
              : 'file'
            : o.kind === 'string'
              ? 'value'
              : 'n';
    const flag = o.kind === 'bool' ? `--[no-]${o.flag}` : `--${o.flag} <${placeholder}>`;
    lines.push(`  ${flag}`, `      ${o.help}`, `      env ${envName(o.flag)}, default ${shown}`);
  }
  lines.push(
    '  --config <file>',
    '      A JSON file of settings (env SWITCHBOARD_CONFIG).',
    '  --print-config',
    '      Print the settings in force, as a config file, and exit.',
  );
  lines.push('  -h, --help', '      Show this text.');
  return lines.join('\n');
}
