import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './clock.js';
import type { CrowdCommand, CrowdReport } from './crowd-peer.js';
import { FanoutSession, median, waitForQuiet, type RunResult, type Timing } from './fanout.js';
import { processRssBytes } from './proc-stats.js';
import { getJson, spawnPinned } from './systems.js';

/**
 * Scenario 12: a crowd of idle members on one gateway (half TCP, half WebSocket, from several
 * loopback source addresses), the gateway's resident memory and the kernel's socket memory per
 * connection, and the p99 of an active room of 200 members at 1,000 msg/s before and while the
 * crowd is connected.
 */
export interface CrowdResult {
  requested: number;
  /** Members the crowd held (fewer than requested when the open-file limit is lower). */
  members: number;
  failed: number;
  firstError?: string | undefined;
  /** Why fewer than requested, when so. */
  limitedBy?: string | undefined;
  openFileLimit: { soft: number; hard: number };
  processes: number;
  sources: string[];
  setupSeconds: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** Gateway VmRSS growth ÷ members. */
  perConnectionBytes: number;
  /** /proc/net/sockstat TCP `mem` (pages), before and after: both ends of each loopback connection. */
  kernelPagesBefore: number;
  kernelPagesAfter: number;
  kernelPerConnectionBytes: number;
  /** Slab memory of the TCP sockets themselves (both ends), per connection. */
  slabPerConnectionBytes: number;
  /** The active room's runs at 1,000 msg/s, alone and among the crowd, and their median p99. */
  activeBefore: RunResult[];
  activeDuring: RunResult[];
  p99BeforeMs: number;
  p99DuringMs: number;
  stats?: unknown;
}

const CROWD_PEER = join(dirname(fileURLToPath(import.meta.url)), 'crowd-peer.js');
const SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
/** Descriptors the gateway keeps for itself (its reserve, the active room, HTTP, the database). */
const GATEWAY_RESERVE = 1_000;
/** Connections per crowd process, under its own open-file limit. */
const PER_PROCESS = 5_000;

/** This process's open-file limits (children inherit them). */
export function openFileLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line
    .replace('Max open files', '')
    .trim()
    .split(/\s+/)
    .map((v) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v)));
  return { soft: soft!, hard: hard! };
}

/** Kernel slab memory of TCP sockets (the TCP and TCPv6 sock structures and their inodes), in bytes; 0 where /proc/slabinfo cannot be read. */
function socketSlabBytes(): number {
  try {
    let bytes = 0;
    for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n')) {
      const [name, active, , objectSize] = line.split(/\s+/);
      if (name === 'TCP' || name === 'TCPv6' || name === 'sock_inode_cache') bytes += Number(active) * Number(objectSize);
    }
    return bytes;
  } catch {
    return 0;
  }
}

function sockstatPages(): number {
  const tcp = readFileSync('/proc/net/sockstat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('TCP:'))!;
  return Number(/\bmem (\d+)/.exec(tcp)![1]);
}

class CrowdProcess {
  readonly child;
  readonly log: string;
  constructor(name: string) {
    ({ child: this.child, log: this.log } = spawnPinned('generator', name, ['node', CROWD_PEER], { ipc: true }));
  }

  connect(command: CrowdCommand, timeoutMs: number): Promise<Extract<CrowdReport, { type: 'connected' }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`crowd process did not connect its members within ${timeoutMs} ms (log: ${this.log})`)), timeoutMs);
      this.child.once('message', (report: CrowdReport) => {
        clearTimeout(timer);
        if (report.type === 'error') reject(new Error(`${report.message} (log: ${this.log})`));
        else resolve(report);
      });
      this.child.send(command);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export async function measureCrowd(requested: number, timing: Timing, log: (line: string) => void): Promise<CrowdResult> {
  const limits = openFileLimits();
  // The bench cannot raise the hard limit (that takes CAP_SYS_RESOURCE or limits.conf); every
  // child starts with the soft limit raised to it (systems.ts), and the crowd is sized to fit.
  const fits = Math.max(0, limits.hard - GATEWAY_RESERVE);
  const members = Math.min(requested, fits);
  const limitedBy =
    members < requested
      ? `the hard open-file limit (ulimit -Hn = ${limits.hard}): one gateway process cannot hold more descriptors; raise it (limits.conf, systemd LimitNOFILE, or a container's nofile ulimit) to measure ${requested.toLocaleString('en-US')}`
      : undefined;
  if (limitedBy) log(`    crowd of ${members.toLocaleString('en-US')} instead of ${requested.toLocaleString('en-US')}: ${limitedBy}`);
  const session = new FanoutSession(
    { id: 'switchboard-crowd', label: 'Switchboard, active room among a crowd', system: 'switchboard', members: 200, senders: 10, wsShare: 0 },
    timing,
    {
      extraFlags: ['--max-connections', String(members + 2_000), '--max-connections-per-ip', String(members + 2_000)],
    },
  );
  const crowd: CrowdProcess[] = [];
  try {
    await session.open();
    const pid = session.system.pid;
    log('    the active room alone, 1,000 msg/s');
    const activeBefore = await measureAt(session, 1000, log);
    await waitForQuiet(pid);
    const rssBefore = processRssBytes(pid);
    const kernelBefore = sockstatPages();
    const slabBefore = socketSlabBytes();
    const processes = Math.max(1, Math.ceil(members / PER_PROCESS));
    const started = Date.now();
    for (let i = 0; i < processes; i++) crowd.push(new CrowdProcess(`crowd-${i}`));
    const reports = await Promise.all(
      crowd.map((proc, i) => {
        const first = i * PER_PROCESS;
        const count = Math.min(PER_PROCESS, members - first);
        return proc.connect(
          {
            type: 'connect',
            host: '127.0.0.1',
            tcpPort: session.system.tcpPort,
            httpPort: session.system.httpPort,
            first,
            count,
            wsShare: 0.5,
            sources: SOURCES,
            concurrency: 32,
          },
          300_000,
        );
      }),
    );
    const setupSeconds = (Date.now() - started) / 1000;
    const connected = reports.reduce((sum, r) => sum + r.connected, 0);
    const failed = reports.reduce((sum, r) => sum + r.failed, 0);
    await waitForQuiet(pid, 60_000);
    await sleep(2000);
    const rssAfter = processRssBytes(pid);
    const kernelAfter = sockstatPages();
    const slabAfter = socketSlabBytes();
    const stats = await getJson(session.system.httpPort, '/api/stats').catch(() => undefined);
    log(
      `    ${connected.toLocaleString('en-US')} idle members (${failed} failed) in ${setupSeconds.toFixed(0)} s: gateway RSS ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssAfter / 2 ** 20).toFixed(1)} MiB, ` +
        `${((rssAfter - rssBefore) / Math.max(1, connected) / 1024).toFixed(2)} KiB per connection; kernel: socket buffers ${(((kernelAfter - kernelBefore) * 4096) / Math.max(1, connected) / 1024).toFixed(2)} KiB, socket slab ${((slabAfter - slabBefore) / Math.max(1, connected) / 1024).toFixed(2)} KiB per connection (both ends)`,
    );
    log('    the active room among the crowd, 1,000 msg/s');
    const activeDuring = await measureAt(session, 1000, log);
    return {
      requested,
      members: connected,
      failed,
      firstError: reports.find((r) => r.firstError !== undefined)?.firstError,
      limitedBy,
      openFileLimit: limits,
      processes,
      sources: SOURCES,
      setupSeconds,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      perConnectionBytes: (rssAfter - rssBefore) / Math.max(1, connected),
      kernelPagesBefore: kernelBefore,
      kernelPagesAfter: kernelAfter,
      kernelPerConnectionBytes: ((kernelAfter - kernelBefore) * 4096) / Math.max(1, connected),
      slabPerConnectionBytes: (slabAfter - slabBefore) / Math.max(1, connected),
      activeBefore,
      activeDuring,
      p99BeforeMs: median(activeBefore.map((r) => r.latencyMs.p99)),
      p99DuringMs: median(activeDuring.map((r) => r.latencyMs.p99)),
      stats,
    };
  } finally {
    await Promise.all(crowd.map((c) => c.close()));
    await session.close();
  }
}

/** Runs at one rate on this session, without ever reopening it (that would drop the crowd). */
async function measureAt(session: FanoutSession, rate: number, log: (line: string) => void): Promise<RunResult[]> {
  const runs: RunResult[] = [];
  for (let i = 0; i < session.timing.runs; i++) {
    const r = await session.run(rate);
    runs.push(r);
    log(
      `      run ${i + 1}: delivered ${r.deliveredRate.toFixed(0)} msg/s, p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, server CPU ${(r.serverCpu * 100).toFixed(0)} %${r.pass ? '' : ` — FAIL: ${r.failures.join('; ')}`}`,
    );
  }
  return runs;
}
