import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { CAN_PIN, GATEWAY_NODE_FLAGS, GENERATOR_CORE, NICE, BUILD_DIR, SENDER_NICE, SERVER_CORE, gatewayMain } from './systems.js';

export interface MachineInfo {
  date: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  ngircd: string;
  websockify: string;
  /** redis-server (scenario 8); absent in files written before it. */
  redis?: string;
  commit: string;
  /** sha256 (first 12 hex digits) of the gateway and protocol builds every Switchboard ran from. */
  build?: string;
  /** Extra flags the gateway's node ran with (SWITCHBOARD_BENCH_NODE_FLAGS); absent: none. */
  gatewayNodeFlags?: string;
  pinning: string;
  /** Open-file limit the servers and generators get (ulimit -n 65536, or the hard limit). */
  openFiles: string;
  loadAverage: number[];
  /** The gateway's own defaults (from --help), flag → default: the settings the bench leaves alone. */
  gatewayDefaults: Record<string, string>;
}

function gatewayDefaults(): Record<string, string> {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stdout is null when the command could not be started
  const help = spawnSync(process.execPath, [gatewayMain(), '--help'], { encoding: 'utf8' }).stdout ?? '';
  const defaults: Record<string, string> = {};
  let flag: string | undefined;
  for (const line of help.split('\n')) {
    const f = /^\s+--(?:\[no-\])?([a-z0-9-]+)/.exec(line);
    if (f) flag = f[1];
    const d = /default (.*)$/.exec(line);
    if (d && flag) defaults[flag] = d[1]!.trim();
  }
  return defaults;
}

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- null when the command could not be started
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

function debianVersion(pkg: string): string {
  const v = run('dpkg-query', ['-W', '-f=${Version}', pkg]);
  return v && !v.includes('no packages found') ? v : 'unknown';
}

export function machineInfo(build?: string): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const ngircd = run('ngircd', ['--version']).split('\n')[0] ?? 'unknown';
  const head = run('git', ['-C', BUILD_DIR, 'rev-parse', '--short', 'HEAD']);
  const dirty = run('git', ['-C', BUILD_DIR, 'status', '--porcelain', '--', 'apps', 'packages']) !== '';
  return {
    date: new Date().toISOString(),
    cpuModel: model,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    ngircd: `${ngircd} (Debian ${debianVersion('ngircd')})`,
    websockify: `websockify ${debianVersion('websockify')} (Debian), Python ${run('python3', ['--version']).replace('Python ', '')}`,
    redis: `${/v=(\S+)/.exec(run('redis-server', ['--version']))?.[1] ?? 'unknown'} (Debian ${debianVersion('redis-server')})`,
    commit: `${head}${dirty ? ' + uncommitted changes in apps/ or packages/' : ''}`,
    build,
    ...(GATEWAY_NODE_FLAGS.length > 0 && { gatewayNodeFlags: GATEWAY_NODE_FLAGS.join(' ') }),
    pinning:
      (CAN_PIN
        ? `server on core ${SERVER_CORE}, load generators and the coordinator on core ${GENERATOR_CORE} (taskset)`
        : 'one core: nothing pinned, server and generator share it') +
      (NICE !== 0 ? `; every bench process at nice ${NICE} (the sending generator at ${SENDER_NICE})` : ''),
    openFiles: run('sh', ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ulimit -n']),
    loadAverage: os.loadavg(),
    gatewayDefaults: gatewayDefaults(),
  };
}
