import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './clock.js';
import { GC_TRACE_FLAG, isGcLine } from './gc-trace.js';
import { freePort, launchRedis, waitForPort } from './local-servers.js';
import { clusterMasterOfKey, launchRedisCluster } from './redis-cluster-servers.js';

/** bench/ (the folder holding dist/ and src/). */
export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = dirname(BENCH_DIR);
/**
 * The checkout whose built gateway and protocol the bench runs: this repository, or another
 * (SWITCHBOARD_BENCH_BUILD, a built checkout of an older commit) so today's generator can
 * measure an older build, as a bisection of a regression needs.
 */
export const BUILD_DIR = process.env.SWITCHBOARD_BENCH_BUILD || REPO_DIR;
/** Scratch space: configs, history databases, logs, CPU profiles (git-ignored). */
export const WORK_DIR = join(BENCH_DIR, '.work');
const DIST = join(BENCH_DIR, 'dist');

// Where the gateway and protocol builds are run from: the repository, or a snapshot of them.
let buildRoot = BUILD_DIR;

/** The gateway's entry point (in the snapshot once snapshotBuilds() has run). */
export function gatewayMain(): string {
  return join(buildRoot, 'apps/gateway/dist/main.js');
}

/** The protocol package's built entry, for the codec scenario. */
export function protocolEntry(): string {
  return join(buildRoot, 'packages/protocol/dist/index.js');
}

/**
 * Copies the built gateway and protocol (dist/, package.json and the other files at each
 * package's top, such as PROTOCOL.md, which the gateway serves) into .work/build-snapshot and
 * runs every Switchboard of this invocation from there: a rebuild of the repository while the
 * bench runs (someone running tsc or the tests) cannot mix two builds into one set of figures.
 * Dependencies are links to the installed packages. Returns a fingerprint of the copied code.
 */
export function snapshotBuilds(): string {
  const root = join(WORK_DIR, 'build-snapshot');
  rmSync(root, { recursive: true, force: true });
  const hash = createHash('sha256');
  for (const pkg of ['apps/gateway', 'packages/protocol']) {
    cpSync(join(BUILD_DIR, pkg, 'dist'), join(root, pkg, 'dist'), { recursive: true });
    // package.json and the package's other top-level files: the gateway serves PROTOCOL.md.
    for (const entry of readdirSync(join(BUILD_DIR, pkg), { withFileTypes: true })) {
      if (entry.isFile()) cpSync(join(BUILD_DIR, pkg, entry.name), join(root, pkg, entry.name));
    }
    // The byte vectors PROTOCOL.md links to, which the gateway serves at /protocol/vectors.json.
    if (pkg === 'packages/protocol' && existsSync(join(BUILD_DIR, pkg, 'test/vectors.json')))
      cpSync(join(BUILD_DIR, pkg, 'test/vectors.json'), join(root, pkg, 'test/vectors.json'));
    for (const file of listFiles(join(root, pkg, 'dist'))
      .filter((f) => f.endsWith('.js'))
      .sort()) {
      hash.update(relative(root, file));
      hash.update(readFileSync(file));
    }
  }
  const realModules = join(BUILD_DIR, 'apps/gateway/node_modules');
  const modules = join(root, 'apps/gateway/node_modules');
  const link = (entry: string): void => {
    const target = entry === '@switchboard/protocol' ? join(root, 'packages/protocol') : realpathSync(join(realModules, entry));
    mkdirSync(dirname(join(modules, entry)), { recursive: true });
    symlinkSync(target, join(modules, entry), 'dir');
  };
  for (const entry of readdirSync(realModules)) {
    if (entry === '.bin') continue;
    if (entry.startsWith('@')) for (const sub of readdirSync(join(realModules, entry))) link(`${entry}/${sub}`);
    else link(entry);
  }
  buildRoot = root;
  const check = spawnSync(process.execPath, [gatewayMain(), '--help'], { encoding: 'utf8' });
  if (check.status !== 0) {
    buildRoot = BUILD_DIR;
    throw new Error(`the gateway snapshot in ${root} does not start (was dist/ half-written by a build?):\n${check.stderr}`);
  }
  return hash.digest('hex').slice(0, 12);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The server runs on core 0 and every load generator on core 1, when there are two cores. */
export const CAN_PIN = os.cpus().length >= 2;
export const SERVER_CORE = 0;
export const GENERATOR_CORE = 1;

export type Role = 'server' | 'generator';

/**
 * Run as root, the bench's processes get a higher priority than anything else on the machine
 * (nice -10; -15 for the process that sends, so receivers cannot delay its schedule), so a
 * build or a test run started meanwhile disturbs the figures less.
 */
const IS_ROOT = process.getuid?.() === 0;
export const NICE = IS_ROOT ? -10 : 0;
export const SENDER_NICE = IS_ROOT ? -15 : 0;

/** argv prefixed so it runs pinned to its role's core, at a raised priority, with a raised open-file limit. */
function pinnedShell(role: Role, argv: string[], nice: number, cores?: string): string[] {
  const pin = CAN_PIN ? ['taskset', '-c', cores ?? String(role === 'server' ? SERVER_CORE : GENERATOR_CORE)] : [];
  const priority = nice !== 0 ? ['nice', '-n', String(nice)] : [];
  // exec keeps the PID: the child's pid is the server's own, so /proc/<pid> reads it.
  return ['sh', '-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"', 'sh', ...priority, ...pin, ...argv];
}

let logCounter = 0;
const children = new Set<ChildProcess>();

/** Kills every child still running (on exit: a leftover server would skew the next run). */
export function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Starts a pinned process; its output goes to a log file under .work/logs. */
export function spawnPinned(
  role: Role,
  name: string,
  argv: string[],
  options: { ipc?: boolean; cwd?: string; nice?: number; cores?: string } = {},
): { child: ChildProcess; log: string } {
  mkdirSync(join(WORK_DIR, 'logs'), { recursive: true });
  const log = join(WORK_DIR, 'logs', `${String(++logCounter).padStart(3, '0')}-${name}.log`);
  const fd = openSync(log, 'w');
  const [command, ...args] = pinnedShell(role, argv, options.nice ?? NICE, options.cores);
  const stdio: StdioOptions = options.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd];
  const child = spawn(command!, args, { stdio, cwd: options.cwd ?? REPO_DIR });
  closeSync(fd);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return { child, log };
}

/** Clears what an earlier (possibly interrupted) invocation left in .work: logs, databases, configs. */
export function cleanWorkDir(): void {
  if (!existsSync(WORK_DIR)) return;
  for (const entry of readdirSync(WORK_DIR)) {
    if (entry === 'logs' || entry === 'build-snapshot' || entry.startsWith('switchboard-data-') || entry.startsWith('ngircd-') || entry.startsWith('redis-')) {
      rmSync(join(WORK_DIR, entry), { recursive: true, force: true });
    }
  }
}

/** Pins this process (the coordinator) to the generator core, away from the server, at the bench's priority. */
export function pinSelf(): void {
  if (CAN_PIN) spawnSync('taskset', ['-p', '-c', String(GENERATOR_CORE), String(process.pid)], { stdio: 'ignore' });
  if (NICE !== 0) spawnSync('renice', ['-n', String(NICE), '-p', String(process.pid)], { stdio: 'ignore' });
}

export { freePort };

/** waitForPort with the tail of the child's log in the error. */
async function waitForListen(port: number, child: ChildProcess, log: string, timeoutMs = 15_000): Promise<void> {
  try {
    await waitForPort(port, child, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}; log: ${log}\n${tail(log)}`, { cause: error });
  }
}

/** The last lines of a log, a gateway's garbage-collection trace left out. */
function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .filter((line) => !isGcLine(line))
      .slice(-lines)
      .join('\n');
  } catch {
    return '';
  }
}

async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export type SystemKind = 'switchboard' | 'ngircd' | 'bare-hub' | 'bare-hub-corked';

export interface RunningSystem {
  kind: SystemKind;
  pid: number;
  tcpPort: number;
  /** Switchboard's HTTP port (/ws, /api); 0 for the others. */
  httpPort: number;
  /** Switchboard's line listener (started with SwitchboardOptions.lineRoom): receivers, `hears=everyone`. */
  linePort?: number;
  /** The line listener for the senders, `hears=addressed`: they hear nothing. */
  senderLinePort?: number;
  /** Switchboard's --data-dir. */
  dataDir?: string;
  log: string;
  /** Set when the gateway's log also holds V8's trace of its garbage collections (SwitchboardOptions.traceGc). */
  gcTraced?: boolean;
  /** Whether the process is still running (every gateway, and Redis, for a cluster). */
  alive(): boolean;
  stop(): Promise<void>;
  /** Several gateways on one Redis (scenario 8): each one's pid and ports; `pid`, `tcpPort` and `httpPort` are the first's. */
  nodes?: { id: string; pid: number; tcpPort: number; httpPort: number; log: string }[];
  /** The Redis the gateways share (a Redis Cluster: its first master). */
  redis?: RedisServer;
  /** A Redis Cluster (scenario 8, `redis: 'cluster'`): every master, in start order. */
  redisMasters?: RedisServer[];
  /** A Redis Cluster: the port of the master holding the keys every gateway shares (`{shared}`: the message-id counter). */
  sharedShardPort?: number;
}

/** The pids of a system's gateways (one, except for a cluster), whose CPU is the server's. */
export function serverPids(system: RunningSystem): number[] {
  return system.nodes?.map((n) => n.pid) ?? [system.pid];
}

export interface SwitchboardOptions {
  /** Write a V8 CPU profile into this folder when the gateway exits. */
  cpuProfileDir?: string;
  /** Node flags for the gateway's process beside GATEWAY_NODE_FLAGS (scenario 5: `--inspect` on loopback, to ask for a GC). */
  nodeFlags?: string[];
  /** One gateway, not profiled: trace its garbage collections into its log (gc-trace.ts). */
  traceGc?: boolean;
  /** More documented gateway flags (appended after the bench's own). */
  extraFlags?: string[];
  /**
   * Start a Redis and this many gateways on it (`--redis-url`, `--node-id a, b, …`); unset: one
   * gateway, no Redis. `redis: 'cluster'`: a Redis Cluster of CLUSTER_MASTERS masters instead of one Redis.
   */
  cluster?: { gateways: number; redis?: 'single' | 'cluster' };
  /** Also listen for line devices (`--listen line://127.0.0.1:<port>?room=<lineRoom>`). */
  lineRoom?: string;
  /** Leave the data directory in place when the gateway stops (to seed later ones from it). */
  keepDataDir?: boolean;
  /** Start from a copy of this data directory (a history database that already holds messages) instead of an empty one. */
  seedDataDir?: string;
}

/**
 * How the bench runs Redis: the persistence the no-loss promise of docs/several-gateways.md needs (an
 * acknowledged message survives kill -9 of Redis), no RDB snapshots, loopback only.
 */
export const REDIS_FLAGS = ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];

export interface RedisServer {
  pid: number;
  port: number;
  url: string;
  log: string;
  alive(): boolean;
  stop(): Promise<void>;
}

/** Debian's redis-server on a free loopback port, its data in a fresh folder under .work, pinned to the server core. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = join(WORK_DIR, `redis-${process.pid}-${port}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = { log: '' };
  const spawnServer = (argv: string[]): ChildProcess => {
    const { child, log } = spawnPinned('server', 'redis', argv);
    started.log = log;
    return child;
  };
  let child: ChildProcess;
  try {
    child = await launchRedis(spawnServer, { port, dir, flags: ['--daemonize', 'no', ...REDIS_FLAGS], timeoutMs: 15_000 });
  } catch (error) {
    throw new Error(`redis-server did not start: ${(error as Error).message}; log: ${started.log}\n${tail(started.log)}`, { cause: error });
  }
  const { log } = started;
  return {
    pid: child.pid!,
    port,
    url: `redis://127.0.0.1:${port}`,
    log,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Masters of scenario 8's Redis Cluster (no replicas). */
export const CLUSTER_MASTERS = 3;

/**
 * A Redis Cluster of CLUSTER_MASTERS masters, each with REDIS_FLAGS' persistence, pinned to the
 * server core; `url` is the gateways' `redis+cluster://` form (every master a seed).
 */
export async function startRedisCluster(): Promise<{ masters: RedisServer[]; url: string; sharedShardPort: number | undefined; stop(): Promise<void> }> {
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const dirs: string[] = [];
  const dirOf = (port: number): string => {
    const dir = join(WORK_DIR, `redis-${process.pid}-${port}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    dirs.push(dir);
    return dir;
  };
  const spawnServer = (index: number, argv: string[]): ChildProcess => {
    const { child, log } = spawnPinned('server', `redis-cluster-${index}`, argv);
    children.push(child);
    logs[index] = log;
    return child;
  };
  let started;
  try {
    started = await launchRedisCluster(spawnServer, { masters: CLUSTER_MASTERS, dirOf, flags: ['--daemonize', 'no', ...REDIS_FLAGS], timeoutMs: 30_000 });
  } catch (error) {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    throw new Error(`the Redis Cluster did not start: ${(error as Error).message}; logs: ${logs.join(', ')}`, { cause: error });
  }
  const masters: RedisServer[] = started.map((m, i) => ({
    pid: m.child.pid!,
    port: m.port,
    url: `redis://127.0.0.1:${m.port}`,
    log: logs[i]!,
    alive: () => m.child.exitCode === null && m.child.signalCode === null,
    stop: async () => {
      await stopChild(m.child);
      rmSync(m.dir, { recursive: true, force: true });
    },
  }));
  const ports = masters.map((m) => m.port);
  return {
    masters,
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    // The gateway's keys every node shares carry the hash tag {shared} (apps/gateway/src/cluster/redis-cluster.ts, keyLayout).
    sharedShardPort: await clusterMasterOfKey(ports, '{shared}').catch(() => undefined),
    stop: async () => {
      await Promise.all(masters.map((m) => m.stop()));
    },
  };
}

/**
 * A Redis (or a Redis Cluster) and `gateways` Switchboards on it, each as startSwitchboard starts
 * one plus `--redis-url` and `--node-id` (a, b, …; on a cluster without replicas also
 * `--redis-wait-replicas 0`). The first gateway's pid and ports stand for the system.
 */
async function startSwitchboardCluster(gateways: number, kind: 'single' | 'cluster', options: SwitchboardOptions): Promise<RunningSystem> {
  const shared = kind === 'cluster' ? await startRedisCluster() : undefined;
  const single = shared === undefined ? await startRedis() : undefined;
  const redis = single ?? shared!.masters[0]!;
  const url = shared?.url ?? single!.url;
  const nodes: RunningSystem[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    await (shared ?? single!).stop();
  };
  try {
    for (let i = 0; i < gateways; i++) {
      const id = String.fromCharCode(0x61 + i);
      const clusterFlags = ['--redis-url', url, '--node-id', id, ...(shared ? ['--redis-wait-replicas', '0'] : [])];
      nodes.push(await startSwitchboard({ ...options, cluster: undefined, traceGc: false, extraFlags: [...clusterFlags, ...(options.extraFlags ?? [])] }));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const first = nodes[0]!;
  return {
    kind: 'switchboard',
    pid: first.pid,
    tcpPort: first.tcpPort,
    httpPort: first.httpPort,
    log: first.log,
    nodes: nodes.map((n, i) => ({ id: String.fromCharCode(0x61 + i), pid: n.pid, tcpPort: n.tcpPort, httpPort: n.httpPort, log: n.log })),
    redis,
    ...(shared && { redisMasters: shared.masters, ...(shared.sharedShardPort !== undefined && { sharedShardPort: shared.sharedShardPort }) }),
    alive: () => (shared?.masters ?? [redis]).every((r) => r.alive()) && nodes.every((n) => n.alive()),
    stop,
  };
}

/**
 * The real gateway, as an operator starts it, with a fresh history database. Only documented
 * flags change it: the per-member rate limit is raised far above the load, heartbeats are off
 * (the generator's members are silent receivers), and connection limits are raised for the
 * idle scenario. History stays on.
 */
/** A line device's rate (messages a second / burst, the most a listener takes): above any rate the bench offers one sender. */
const LINE_RATE = '100000/100000';

export async function startSwitchboard(options: SwitchboardOptions = {}): Promise<RunningSystem> {
  if (options.cluster) return startSwitchboardCluster(options.cluster.gateways, options.cluster.redis ?? 'single', options);
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const dataDir = join(WORK_DIR, `switchboard-data-${process.pid}-${tcpPort}`);
  rmSync(dataDir, { recursive: true, force: true });
  if (options.seedDataDir) cpSync(options.seedDataDir, dataDir, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  const linePort = options.lineRoom !== undefined ? await freePort() : undefined;
  const senderLinePort = options.lineRoom !== undefined ? await freePort() : undefined;
  // Receivers hear everyone (devices hear only people by default); senders hear nothing, or what
  // each said after hearing another device would count as a device's answer, which no device
  // hears (docs/devices.md, "Who a device hears"). Neither is paced at the bench's rates.
  const lineFlags =
    linePort !== undefined
      ? [
          ...['--listen', `line://127.0.0.1:${linePort}?room=${options.lineRoom}&hears=everyone&rate=${LINE_RATE}`],
          ...['--listen', `line://127.0.0.1:${senderLinePort}?room=${options.lineRoom}&hears=addressed&rate=${LINE_RATE}`],
        ]
      : [];
  // A profiled run is left as it was: the trace's writes would show in its samples.
  const traceGc = options.traceGc === true && options.cpuProfileDir === undefined;
  const nodeFlags = [...GATEWAY_NODE_FLAGS, ...(options.nodeFlags ?? []), ...(traceGc ? [GC_TRACE_FLAG] : [])];
  const node = options.cpuProfileDir ? ['node', ...nodeFlags, '--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : ['node', ...nodeFlags];
  // V8's sampling thread starves on a core the main thread keeps busy, and then samples mostly
  // the idle moments: a profiled gateway may use both cores (its main thread stays on the
  // one the generators leave free).
  const { child, log } = spawnPinned(
    'server',
    'switchboard',
    [...node, gatewayMain(), ...switchboardFlags(httpPort, tcpPort, dataDir), ...lineFlags, ...(options.extraFlags ?? [])],
    options.cpuProfileDir ? { cores: `${SERVER_CORE},${GENERATOR_CORE}` } : {},
  );
  try {
    await waitForListen(tcpPort, child, log);
    if (linePort !== undefined) await waitForListen(linePort, child, log);
    if (senderLinePort !== undefined) await waitForListen(senderLinePort, child, log);
    await waitForHealth(httpPort);
    // Line devices and chat members share this room on purpose: a device room is operators-only until opened.
    if (options.lineRoom !== undefined) {
      const opened = await fetch(`http://127.0.0.1:${httpPort}/api/rooms/${options.lineRoom}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ access: 'anyone' }),
      });
      if (opened.status !== 200) throw new Error(`PUT /api/rooms/${options.lineRoom} answered ${opened.status}`);
    }
  } catch (error) {
    await stopChild(child);
    throw new Error(`Switchboard did not start: ${(error as Error).message}`, { cause: error });
  }
  return {
    kind: 'switchboard',
    pid: child.pid!,
    tcpPort,
    httpPort,
    ...(linePort !== undefined && { linePort }),
    ...(senderLinePort !== undefined && { senderLinePort }),
    dataDir,
    log,
    ...(traceGc && { gcTraced: true }),
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      await stopChild(child);
      if (!options.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Extra flags for the gateway's node only (SWITCHBOARD_BENCH_NODE_FLAGS, space-separated), for an
 * A/B of V8 settings: V8 flags such as --initial-old-space-size are not allowed in NODE_OPTIONS.
 * RESULTS.md names them (machine.ts).
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = (process.env.SWITCHBOARD_BENCH_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '');

/** The gateway flags the bench uses (shown in RESULTS.md). */
export function switchboardFlags(httpPort: number | string, tcpPort: number | string, dataDir: string): string[] {
  return [
    '--http-port',
    String(httpPort),
    '--tcp-port',
    String(tcpPort),
    '--data-dir',
    dataDir,
    '--log-level',
    'warn',
    '--web-root',
    '',
    '--heartbeat-ms',
    '0',
    '--rate',
    '1000000',
    '--rate-burst',
    '1000000',
    '--max-connections',
    '30000',
    '--max-connections-per-ip',
    '30000',
  ];
}

async function waitForHealth(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/api/health' }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`GET /api/health on port ${port} never answered 200`);
}

/** GET a JSON document from Switchboard's REST API. */
export function getJson(port: number, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      })
      .on('error', reject);
  });
}

/** ngircd's configuration: nothing throttles the load, nothing looks anything up. */
export function ngircdConfig(port: number, includeDir: string): string {
  return `# Written by Switchboard's bench: ngircd with its throttles out of the way.
[Global]
	Name = bench.switchboard.invalid
	Info = Switchboard bench peer
	AdminInfo1 = Switchboard bench
	AdminInfo2 = loopback only
	AdminEMail = bench@switchboard.invalid
	Listen = 127.0.0.1
	Ports = ${port}
	MotdPhrase = bench
[Limits]
	MaxConnections = 0
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxNickLength = 31
	MaxPenaltyTime = 0
	PingTimeout = 600
	PongTimeout = 600
[Options]
	PAM = no
	DNS = no
	Ident = no
	IncludeDir = ${includeDir}
`;
}

export async function startNgircd(): Promise<RunningSystem> {
  const tcpPort = await freePort();
  const dir = join(WORK_DIR, `ngircd-${process.pid}-${tcpPort}`);
  mkdirSync(join(dir, 'conf.d'), { recursive: true });
  const conf = join(dir, 'ngircd.conf');
  writeFileSync(conf, ngircdConfig(tcpPort, join(dir, 'conf.d')));
  const test = spawnSync('ngircd', ['--configtest', '-f', conf], { encoding: 'utf8' });
  const problems = (test.stdout + test.stderr).split('\n').filter((l) => /^ - /.test(l) && !/MaxPenaltyTime/.test(l));
  if (test.status !== 0 || problems.length > 0) {
    throw new Error(`ngircd --configtest rejected ${conf}:\n${problems.join('\n') || test.stderr}`);
  }
  const { child, log } = spawnPinned('server', 'ngircd', ['ngircd', '-n', '-f', conf]);
  try {
    await waitForListen(tcpPort, child, log);
  } catch (error) {
    await stopChild(child);
    throw new Error(`ngircd did not start: ${(error as Error).message}`, { cause: error });
  }
  return {
    kind: 'ngircd',
    pid: child.pid!,
    tcpPort,
    httpPort: 0,
    log,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startBareHub(corked = false): Promise<RunningSystem> {
  const tcpPort = await freePort();
  const { child, log } = spawnPinned('server', corked ? 'bare-hub-corked' : 'bare-hub', [
    'node',
    join(DIST, 'bare-hub.js'),
    '--port',
    String(tcpPort),
    ...(corked ? ['--cork'] : []),
  ]);
  try {
    await waitForListen(tcpPort, child, log);
  } catch (error) {
    await stopChild(child);
    throw new Error(`the bare hub did not start: ${(error as Error).message}`, { cause: error });
  }
  return {
    kind: corked ? 'bare-hub-corked' : 'bare-hub',
    pid: child.pid!,
    tcpPort,
    httpPort: 0,
    log,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () => stopChild(child),
  };
}

export function startSystem(kind: SystemKind, options: SwitchboardOptions = {}): Promise<RunningSystem> {
  if (kind === 'switchboard') return startSwitchboard(options);
  if (kind === 'ngircd') return startNgircd();
  return startBareHub(kind === 'bare-hub-corked');
}

/** A helper process (echo peer, websockify) that only needs starting and stopping. */
export interface Helper {
  pid: number;
  log: string;
  stop(): Promise<void>;
}

export async function startHelper(role: Role, name: string, argv: string[], port?: number): Promise<Helper> {
  const { child, log } = spawnPinned(role, name, argv);
  if (port !== undefined) {
    try {
      await waitForListen(port, child, log);
    } catch (error) {
      await stopChild(child);
      throw new Error(`${name} did not start: ${(error as Error).message}`, { cause: error });
    }
  }
  return { pid: child.pid!, log, stop: () => stopChild(child, 5_000) };
}

export const ECHO_PEER = join(DIST, 'echo-peer.js');
export const LOAD_GENERATOR = join(DIST, 'load-generator.js');
export const BRIDGE_CLIENT = join(DIST, 'bridge-client.js');
export const CODEC_BENCH = join(DIST, 'codec-bench.js');
