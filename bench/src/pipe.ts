import http from 'node:http';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './clock.js';
import { summarizeProfile, type ProfileSummary } from './cpu-profile.js';
import { drive, summarize, type BridgePath, type BridgeSettings } from './bridge.js';
import type { BridgeMode, BridgeRun } from './bridge-client.js';
import { BUSY_MACHINE_CPU, median } from './fanout.js';
import { ECHO_PEER, WORK_DIR, freePort, getJson, startHelper, startSwitchboard, type Helper } from './systems.js';

/**
 * Scenario 7: the raw WebSocket pipe. A WebSocket client (scenario 4's) sends the same frame
 * bytes to one TCP echo server either through Switchboard's `GET /ws/devices/:id` (the echo
 * server is an outbound device link with raw framing) or through websockify; both in one
 * invocation, in front of the same echo server process.
 */

/**
 * How the client sends: `corked`, the sends one received WebSocket message causes leave in one
 * write (each still its own WebSocket message); `per-message`, each send is its own write, as a
 * page's code that calls `send` per message does. The per-message client is the C one
 * (bench/c/pipe-client.c) when the bench built it: the Node client's cost per write held the
 * generator core at 89 %, so the figure was partly the client's.
 */
export type ClientStyle = 'corked' | 'per-message';

export const CLIENT_STYLES: readonly { style: ClientStyle; batchSends: boolean; suffix: string; label: string }[] = [
  { style: 'corked', batchSends: true, suffix: '', label: 'corked client' },
  { style: 'per-message', batchSends: false, suffix: '-per-message', label: 'a write per message' },
];

export interface PipePath extends BridgePath {
  /** Absent in older files: corked. */
  clientStyle?: ClientStyle;
  /** Which program drove it: bridge-client.ts (`node`, and older files) or bench/c/pipe-client.c (`c`). */
  client?: 'node' | 'c';
  /** The generator core (the client and the echo server) while 64 were in flight, share of one core. */
  generatorCpu: number;
  /** The client's part of it. */
  loadedClientCpu: number;
  /** What other processes used during the kept runs (median), in cores. */
  otherCpu: number;
  /** Kept runs during which other processes used more than a quarter of a core (after two repeats). */
  noisyRuns: number;
  /** The server's read and write system calls per message while 64 were in flight (median; absent in older files). */
  serverReadsPerMessage?: number;
  serverWritesPerMessage?: number;
}

export interface PipeRoomSide {
  /** Chat messages the raw framing made of the echo's bytes and stored in the room's history (the last pipe run's gateway). */
  storedMessages: number;
  /** Their text, in characters (the newest page of history, averaged). */
  meanTextChars: number;
}

export interface PipeProfile {
  file: string;
  serverCpu: number;
  messagesPerSecond: number;
  rttP99Ms: number;
  /** Samples while 64 were in flight (the measured window). */
  loaded: ProfileSummary;
  /** Samples while one was in flight (warm-up included). */
  oneInFlight: ProfileSummary;
}

const DEVICE_NAME = 'bench-echo';

function postJson(port: number, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const request = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: text });
          }
        });
      },
    );
    request.on('error', reject);
    request.end(data);
  });
}

/** `POST /api/devices` (raw framing, the echo server), then `GET /api/devices` until it is connected. Returns its id. */
async function addEchoDevice(httpPort: number, echoPort: number): Promise<string> {
  const created = await postJson(httpPort, '/api/devices', { name: DEVICE_NAME, host: '127.0.0.1', port: echoPort, framing: 'raw' });
  const id = (created.body as { id?: string }).id;
  if (created.status !== 201 || id === undefined) throw new Error(`POST /api/devices answered ${created.status}: ${JSON.stringify(created.body)}`);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { devices } = (await getJson(httpPort, '/api/devices')) as { devices: { id: string; state: string; lastError: unknown }[] };
    const device = devices.find((d) => d.id === id);
    if (device?.state === 'connected') return id;
    if (Date.now() > deadline) throw new Error(`device link ${id} to the echo server is not connected after 10 s: ${JSON.stringify(device)}`);
    await sleep(20);
  }
}

async function roomSide(httpPort: number): Promise<PipeRoomSide> {
  // A fresh history with nothing else said in it: the newest id is the count.
  const page = (await getJson(httpPort, '/api/history?room=devices&limit=20')) as { entries?: { id: number; text?: string }[] };
  const messages = page.entries ?? [];
  const last = messages.at(-1);
  return {
    storedMessages: last === undefined ? 0 : last.id,
    meanTextChars: messages.length === 0 ? 0 : messages.reduce((n, m) => n + (m.text?.length ?? 0), 0) / messages.length,
  };
}

const noisy = (r: BridgeRun): boolean => (r.otherCpu ?? 0) > BUSY_MACHINE_CPU;

/**
 * `drive`, then runs during which other processes used more than a quarter of a core are run
 * again (up to twice, as the fan-out scenarios do); what is still noisy then is kept and flagged.
 */
async function driveQuietly(
  url: string,
  mode: BridgeMode,
  settings: BridgeSettings,
  serverPid: number,
  echoPid: number,
  log: (line: string) => void,
): Promise<BridgeRun[]> {
  let runs = await drive(url, mode, settings, serverPid, undefined, [echoPid]);
  for (let retry = 0; retry < 2; retry++) {
    const bad = runs.filter(noisy);
    if (bad.length === 0) break;
    log(
      `    (other processes used ${bad.map((r) => `${((r.otherCpu ?? 0) * 100).toFixed(0)} %`).join(', ')} of a core during ${bad.length} run(s): repeating ${bad.length === 1 ? 'it' : 'them'})`,
    );
    const again = await drive(url, mode, { ...settings, runs: bad.length }, serverPid, undefined, [echoPid]);
    runs = [...runs.filter((r) => !noisy(r)), ...again];
  }
  return runs;
}

/** One Switchboard with the echo server as a device link; the client drives `/ws/devices/:id`. */
async function throughPipe(
  settings: BridgeSettings,
  echo: Helper,
  echoPort: number,
  log: (line: string) => void,
  cpuProfileDir?: string,
): Promise<{ runs: BridgeRun[]; room: PipeRoomSide }> {
  const sb = await startSwitchboard({ extraFlags: ['--device-targets', `127.0.0.1:${echoPort}`], ...(cpuProfileDir !== undefined && { cpuProfileDir }) });
  try {
    const id = await addEchoDevice(sb.httpPort, echoPort);
    const url = `ws://127.0.0.1:${sb.httpPort}/ws/devices/${id}`;
    // A profiled run is one run as it comes: repeating it would mix two runs into one profile.
    const runs =
      cpuProfileDir === undefined
        ? await driveQuietly(url, 'pipe', settings, sb.pid, echo.pid, log)
        : await drive(url, 'pipe', settings, sb.pid, undefined, [echo.pid]);
    return { runs, room: await roomSide(sb.httpPort) };
  } finally {
    await sb.stop();
  }
}

function withGenerator(path: BridgePath, runs: BridgeRun[]): PipePath {
  return {
    ...path,
    generatorCpu: median(runs.map((r) => r.generatorCpu ?? NaN)),
    loadedClientCpu: median(runs.map((r) => r.loadedClientCpu ?? NaN)),
    otherCpu: median(runs.map((r) => r.otherCpu ?? NaN)),
    noisyRuns: runs.filter(noisy).length,
    serverReadsPerMessage: median(runs.map((r) => r.serverReadsPerMessage ?? NaN)),
    serverWritesPerMessage: median(runs.map((r) => r.serverWritesPerMessage ?? NaN)),
  };
}

/**
 * Both paths with both client styles (CLIENT_STYLES), in one invocation, in front of one echo
 * server: the pipe corked, the pipe a write per message (each on a fresh gateway), then one
 * websockify driven both ways. Paths: `switchboard-pipe`, `websockify` (corked: the ids older
 * files have) and the same with `-per-message`.
 */
export async function runPipe(
  settings: BridgeSettings,
  log: (line: string) => void,
  cClient?: string,
): Promise<{ paths: PipePath[]; room: PipeRoomSide; roomPerMessage: PipeRoomSide }> {
  const styled = (style: ClientStyle, batchSends: boolean): BridgeSettings => ({
    ...settings,
    batchSends,
    ...(style === 'per-message' && cClient !== undefined && { cClient }),
  });
  const paths: PipePath[] = [];
  const echoPort = await freePort();
  const echo = await startHelper('generator', 'echo-server', ['node', ECHO_PEER, '--listen', String(echoPort)], echoPort);
  const rooms: PipeRoomSide[] = [];
  try {
    for (const { style, batchSends, suffix, label } of CLIENT_STYLES) {
      log(`  WebSocket client (${label}) → Switchboard /ws/devices/:id → TCP echo server (a raw device link) → Switchboard → client`);
      const pipe = await throughPipe(styled(style, batchSends), echo, echoPort, log);
      rooms.push(pipe.room);
      const path = summarize(`switchboard-pipe${suffix}`, `Switchboard (/ws/devices/:id → TCP echo server), ${label}`, pipe.runs);
      paths.push({ ...withGenerator(path, pipe.runs), clientStyle: style, client: styled(style, batchSends).cClient !== undefined ? 'c' : 'node' });
    }
    const wsPort = await freePort();
    let websockify: Helper | undefined;
    try {
      websockify = await startHelper('server', 'websockify', ['websockify', `127.0.0.1:${wsPort}`, `127.0.0.1:${echoPort}`], wsPort);
      for (const { style, batchSends, suffix, label } of CLIENT_STYLES) {
        log(`  WebSocket client (${label}) → websockify → the same TCP echo server → websockify → client`);
        const runs = await driveQuietly(`ws://127.0.0.1:${wsPort}/`, 'websockify', styled(style, batchSends), websockify.pid, echo.pid, log);
        paths.push({
          ...withGenerator(summarize(`websockify${suffix}`, `websockify (→ TCP echo server), ${label}`, runs), runs),
          clientStyle: style,
          client: styled(style, batchSends).cClient !== undefined ? 'c' : 'node',
        });
      }
    } finally {
      await websockify?.stop();
    }
  } finally {
    await echo.stop();
  }
  const [room, roomPerMessage] = rooms as [PipeRoomSide, PipeRoomSide];
  for (const r of paths) {
    log(
      `    ${r.label}: round trip p50 ${r.rttP50Ms.toFixed(3)} ms, p99 ${r.rttP99Ms.toFixed(3)} ms (1 in flight); ` +
        `${r.messagesPerSecond.toFixed(0)} msg/s with ${settings.inFlight} in flight (p99 ${r.loadedP99Ms.toFixed(1)} ms, server CPU ${(r.serverCpu * 100).toFixed(0)} %, ` +
        `generator core ${(r.generatorCpu * 100).toFixed(0)} % (client ${(r.loadedClientCpu * 100).toFixed(0)} %)${r.noisyRuns > 0 ? `; ${r.noisyRuns} run(s) on a busy machine` : ''})`,
    );
  }
  for (const { suffix, label } of CLIENT_STYLES) {
    const sb = paths.find((p) => p.path === `switchboard-pipe${suffix}`);
    const ws = paths.find((p) => p.path === `websockify${suffix}`);
    if (sb && ws)
      log(
        `    ${label}: pipe ÷ websockify ${(sb.messagesPerSecond / ws.messagesPerSecond).toFixed(2)}× msg/s; p99 with 1 in flight ${sb.rttP99Ms.toFixed(3)} vs ${ws.rttP99Ms.toFixed(3)} ms`,
      );
  }
  log(
    `    the room side: the raw framing stored ${room.storedMessages} chat messages of the echo's bytes (about ${Math.round(room.meanTextChars)} characters each) in the corked run's history, ${roomPerMessage.storedMessages} in the per-message run's`,
  );
  return { paths, room, roomPerMessage };
}

/**
 * One more pipe run under `node --cpu-prof`, summarized twice: the samples while 64 were in
 * flight (the measured window) and while one was (what the round trips pay).
 */
export async function profilePipe(settings: BridgeSettings, log: (line: string) => void): Promise<PipeProfile> {
  const style = settings.batchSends ? 'corked' : 'per-message';
  const dir = join(WORK_DIR, style === 'corked' ? 'cpu-profile-pipe' : 'cpu-profile-pipe-per-message');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`  CPU profile of the gateway on the pipe path (one run, ${style} client)`);
  const echoPort = await freePort();
  const echo = await startHelper('generator', 'echo-server', ['node', ECHO_PEER, '--listen', String(echoPort)], echoPort);
  let runs: BridgeRun[];
  try {
    ({ runs } = await throughPipe({ ...settings, runs: 1 }, echo, echoPort, log, dir));
  } finally {
    await echo.stop();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the gateway wrote no CPU profile into ${dir}`);
  const run = runs[0]!;
  const path = join(dir, file);
  return {
    file: path,
    serverCpu: run.serverCpu ?? NaN,
    messagesPerSecond: run.messagesPerSecond,
    rttP99Ms: run.rttP99Ms,
    loaded: summarizeProfile(path, run.loadFromUs, run.loadToUs),
    oneInFlight: summarizeProfile(path, run.rttFromUs, run.rttToUs),
  };
}
