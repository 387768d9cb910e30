import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeProfile, type ProfileSummary } from './cpu-profile.js';
import type { BridgeMode, BridgeRun } from './bridge-client.js';
import { median } from './fanout.js';
import { frameTemplate } from './outgoing.js';
import { MARKER, PAYLOAD_BYTES } from './payload.js';
import { coreBusy, coreTimes, processTreeByParent, syscallCounts, syscallDelta, treeCpu, treeCpuAgain, treeCpuDelta, type CoreTimes } from './proc-stats.js';
import { BRIDGE_CLIENT, ECHO_PEER, WORK_DIR, freePort, spawnPinned, startHelper, startSwitchboard, type Helper } from './systems.js';

export interface BridgeSettings {
  rttCount: number;
  rttWarmup: number;
  inFlight: number;
  throughputMs: number;
  runs: number;
  /** The client leaves the sends one received message causes in one write (scenario 7; see bridge-client.ts). */
  batchSends?: boolean;
  /**
   * Scenario 7's per-message style: the client is the C program built from bench/c/pipe-client.c
   * (this path), not bridge-client.ts; it writes each message on its own (batchSends is ignored).
   */
  cClient?: string;
}

export interface BridgePath {
  /** `switchboard`, `websockify`, or `switchboard-flush-window-0` (informational). */
  path: string;
  label: string;
  runs: BridgeRun[];
  rttP50Ms: number;
  rttP99Ms: number;
  messagesPerSecond: number;
  loadedP99Ms: number;
  clientCpu: number;
  /** Gateway or websockify CPU while 64 messages were in flight, share of one core. */
  serverCpu: number;
}

export function summarize(path: string, label: string, runs: BridgeRun[]): BridgePath {
  return {
    path,
    label,
    runs,
    rttP50Ms: median(runs.map((r) => r.rttP50Ms)),
    rttP99Ms: median(runs.map((r) => r.rttP99Ms)),
    messagesPerSecond: median(runs.map((r) => r.messagesPerSecond)),
    loadedP99Ms: median(runs.map((r) => r.loadedP99Ms)),
    clientCpu: median(runs.map((r) => r.clientCpu)),
    serverCpu: median(runs.map((r) => r.serverCpu ?? NaN)),
  };
}

/**
 * Runs the bridge client against a URL; `onWaiting` starts the peer once the client is in.
 * The server's CPU (`serverPid` and its children) is read around each loaded phase; with
 * `generatorPids`, so is the generator core's (the client and those processes, e.g. the echo
 * server) as each run's `generatorCpu`.
 */
export async function drive(
  url: string,
  mode: BridgeMode,
  settings: BridgeSettings,
  serverPid: number,
  onWaiting?: () => Promise<unknown>,
  generatorPids?: number[],
): Promise<BridgeRun[]> {
  const argv = settings.cClient !== undefined ? [settings.cClient] : ['node', BRIDGE_CLIENT];
  const { child, log } = spawnPinned('generator', `${settings.cClient !== undefined ? 'c-pipe-client' : 'bridge-client'}-${mode}`, argv, { ipc: true });
  const budgetMs = settings.runs * (settings.throughputMs + 30_000) + 30_000;
  try {
    return await new Promise<BridgeRun[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bridge client (${mode}) took longer than ${budgetMs} ms; log: ${log}`)), budgetMs);
      const loadCpu: number[] = [];
      const generatorCpu: number[] = [];
      const generators = generatorPids === undefined ? undefined : [child.pid!, ...generatorPids];
      const generatorTree = (): Map<number, number> => new Map(generators!.flatMap((pid) => [...treeCpu(pid)]));
      const otherCpu: number[] = [];
      const clientCpu: number[] = [];
      const serverSyscalls: { reads: number; writes: number }[] = [];
      type Mark = {
        cpu: Map<number, number>;
        syscalls: ReturnType<typeof syscallCounts>;
        generators?: Map<number, number>;
        cores?: CoreTimes[];
        at: number;
      };
      let runStart: Mark | undefined;
      let mark: Mark | undefined;
      child.on('message', (m: { type: string; message?: string; runs?: BridgeRun[]; what?: string }) => {
        if (m.type === 'mark') {
          // At a window's end the server's processes seen at its start are read too: a child the
          // /proc listing misses (websockify's, for one) would otherwise count as no CPU.
          const cpu = m.what === 'load-end' && mark ? treeCpuAgain(serverPid, new Map([...(runStart?.cpu ?? []), ...mark.cpu])) : treeCpu(serverPid);
          const now: Mark = {
            cpu,
            syscalls: syscallCounts(processTreeByParent(serverPid)),
            ...(generators && { generators: generatorTree(), cores: coreTimes() }),
            at: performance.now(),
          };
          if (m.what === 'rtt-start') runStart = now;
          else if (m.what === 'load-start') mark = now;
          else if (m.what === 'load-end' && mark) {
            const seconds = (now.at - mark.at) / 1000;
            loadCpu.push(treeCpuDelta(mark.cpu, now.cpu) / seconds);
            serverSyscalls.push(syscallDelta(mark.syscalls, now.syscalls));
            if (mark.generators && now.generators) {
              generatorCpu.push(treeCpuDelta(mark.generators, now.generators) / seconds);
              const client = (m: Map<number, number>): Map<number, number> => new Map([[child.pid!, m.get(child.pid!) ?? 0]]);
              clientCpu.push(treeCpuDelta(client(mark.generators), client(now.generators)) / seconds);
            }
            // Whatever else ran on the machine during the whole run (both phases).
            if (runStart?.generators && runStart.cores && now.generators && now.cores) {
              const whole = (now.at - runStart.at) / 1000;
              const busy = coreBusy(runStart.cores, now.cores).reduce((a, b) => a + b, 0);
              otherCpu.push(busy - treeCpuDelta(runStart.cpu, now.cpu) / whole - treeCpuDelta(runStart.generators, now.generators) / whole);
            }
          }
        } else if (m.type === 'waiting') {
          onWaiting?.().catch(reject);
        } else if (m.type === 'done') {
          clearTimeout(timer);
          resolve(
            m.runs!.map((r, i) => ({
              ...r,
              serverCpu: loadCpu[i] ?? NaN,
              ...perMessage(serverSyscalls[i], r),
              ...(generators && { generatorCpu: generatorCpu[i] ?? NaN, loadedClientCpu: clientCpu[i] ?? NaN, otherCpu: otherCpu[i] ?? NaN }),
            })),
          );
        } else if (m.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`bridge client (${mode}): ${m.message}; log: ${log}`));
        }
      });
      child.on('exit', (code) => reject(new Error(`bridge client (${mode}) exited (${code}); log: ${log}`)));
      child.send({ type: 'start', url, mode, ...settings, ...(settings.cClient !== undefined && cFrame()) });
    });
  } finally {
    stop(child);
  }
}

/** The frame the C client sends (the Node client's, sender 0), and where its payload starts. */
function cFrame(): { frameHex: string; payloadAt: number } {
  const frame = frameTemplate(PAYLOAD_BYTES).build(0, 0, 0);
  return { frameHex: frame.toString('hex'), payloadAt: frame.indexOf(MARKER) };
}

/** The server's read and write system calls per message in the loaded window (the client's count of messages that came back in it). */
function perMessage(calls: { reads: number; writes: number } | undefined, r: BridgeRun): Pick<BridgeRun, 'serverReadsPerMessage' | 'serverWritesPerMessage'> {
  const messages = r.messagesPerSecond * ((r.loadToUs! - r.loadFromUs!) / 1e6);
  if (calls === undefined || !(messages > 0)) return {};
  return { serverReadsPerMessage: calls.reads / messages, serverWritesPerMessage: calls.writes / messages };
}

function stop(child: ChildProcess): void {
  if (child.exitCode === null) child.kill('SIGTERM');
}

/**
 * A WebSocket client and a raw TCP echo peer, joined by Switchboard (the peer is a plain
 * device in `lobby`, alone there with the client) or by websockify (in front of a TCP echo
 * server). One message in flight for round-trip times, then a window of messages in flight
 * for throughput.
 */
async function throughSwitchboard(path: string, label: string, settings: BridgeSettings, extraFlags: string[], cpuProfileDir?: string): Promise<BridgePath> {
  const sb = await startSwitchboard({ extraFlags, ...(cpuProfileDir !== undefined && { cpuProfileDir }) });
  let device: Helper | undefined;
  try {
    const runs = await drive(`ws://127.0.0.1:${sb.httpPort}/ws`, 'switchboard', settings, sb.pid, async () => {
      device = await startHelper('generator', 'echo-device', ['node', ECHO_PEER, '--device', `127.0.0.1:${sb.tcpPort}`]);
    });
    return summarize(path, label, runs);
  } finally {
    await device?.stop();
    await sb.stop();
  }
}

/**
 * One more Switchboard run of the bridge under `node --cpu-prof`, to say where its time goes
 * (the whole run: round trips with one in flight, then the loaded phase).
 */
export async function profileBridge(
  settings: BridgeSettings,
  log: (line: string) => void,
): Promise<{ summary: ProfileSummary; file: string; serverCpu: number; messagesPerSecond: number }> {
  const dir = join(WORK_DIR, 'cpu-profile-bridge');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log('  CPU profile of the gateway on the bridge path (one run)');
  const result = await throughSwitchboard('switchboard-profile', 'Switchboard (profiled)', { ...settings, runs: 1 }, [], dir);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the gateway wrote no CPU profile into ${dir}`);
  return { summary: summarizeProfile(join(dir, file)), file: join(dir, file), serverCpu: result.serverCpu, messagesPerSecond: result.messagesPerSecond };
}

export async function runBridge(settings: BridgeSettings, flushWindowFlag: boolean, log: (line: string) => void): Promise<BridgePath[]> {
  const results: BridgePath[] = [];

  log('  WebSocket client → Switchboard → plain TCP device (echo) → Switchboard → client');
  results.push(await throughSwitchboard('switchboard', 'Switchboard (/ws → TCP device)', settings, []));
  if (flushWindowFlag) {
    // Informational: the same path with the gateway's documented write batching turned off.
    log('  … again with --flush-window-ms 0 (informational)');
    results.push(
      await throughSwitchboard('switchboard-flush-window-0', 'Switchboard, --flush-window-ms 0 (informational)', settings, ['--flush-window-ms', '0']),
    );
  }

  log('  WebSocket client → websockify → TCP echo server → websockify → client');
  const echoPort = await freePort();
  const wsPort = await freePort();
  const echo = await startHelper('generator', 'echo-server', ['node', ECHO_PEER, '--listen', String(echoPort)], echoPort);
  let websockify: Helper | undefined;
  try {
    websockify = await startHelper('server', 'websockify', ['websockify', `127.0.0.1:${wsPort}`, `127.0.0.1:${echoPort}`], wsPort);
    const runs = await drive(`ws://127.0.0.1:${wsPort}/`, 'websockify', settings, websockify.pid);
    results.push(summarize('websockify', 'websockify (→ TCP echo server)', runs));
  } finally {
    await websockify?.stop();
    await echo.stop();
  }
  for (const r of results) {
    log(
      `    ${r.label}: round trip p50 ${r.rttP50Ms.toFixed(3)} ms, p99 ${r.rttP99Ms.toFixed(3)} ms (1 in flight); ` +
        `${r.messagesPerSecond.toFixed(0)} msg/s with ${settings.inFlight} in flight (p99 ${r.loadedP99Ms.toFixed(1)} ms, server CPU ${(r.serverCpu * 100).toFixed(0)} %)`,
    );
  }
  return results;
}
