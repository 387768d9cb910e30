#!/usr/bin/env node
/**
 * `npm run bench`: Switchboard against ngircd, websockify and a bare node:net hub, side by
 * side in one invocation. See bench/README.md for what each scenario does.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { profileBridge, runBridge, type BridgeSettings } from './bridge.js';
import { profilePipe, runPipe } from './pipe.js';
import { sleep } from './clock.js';
import { summarizeProfile } from './cpu-profile.js';
import { coreBusy, coreTimes } from './proc-stats.js';
import { FanoutSession, doublingRates, measurePoint, runLadder, type CaseResult, type FanoutCase, type PointResult, type Timing } from './fanout.js';
import { measureIdle, type IdleCase, type IdleResult } from './idle.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { ensurePeers } from './prerequisites.js';
import { writeReport } from './report.js';
import { readAll, writeScenario, type ClusterData, type CodecData, type EfficiencyData, type FanoutData, type ScenarioFile } from './results-files.js';
import { BENCH_DIR, CODEC_BENCH, REDIS_FLAGS, WORK_DIR, cleanWorkDir, gatewayMain, killChildren, pinSelf, protocolEntry, snapshotBuilds, spawnPinned } from './systems.js';

const HELP = `Usage: npm run bench [-- options]

Runs Switchboard's benchmark: fan-out against ngircd and a bare node:net hub, the browser
bridge and the raw device pipe against websockify, idle memory, the codec, and two gateways on
one Redis against one gateway. Writes bench/RESULTS.md, the raw figures
in bench/results/*.json and the chart bench/results/fanout-k200.svg.

  --quick              A 2-3 minute smoke run (1 run per point, short windows, fewer rates);
                       writes to bench/.work/quick/ instead of bench/.
  --scenario <n>       Run only scenario n (1-8); repeat or comma-separate for several.
                       RESULTS.md is rebuilt from every results/*.json present.
  --runs <n>           Runs per point (default 3; median reported).
  --warmup-ms <n>      Warm-up before each measured window (default 2000).
  --measure-ms <n>     Measured window of each run (default 4000).
  --generators <n>     Load-generator processes (default 2: senders, receivers).
  --efficiency-rate <n>  Offered rate for scenario 3 (default: the highest rate every system
                       passed in scenario 1 of this invocation, else 1000).
  --no-profile         Skip the CPU profile of the gateway.
  --out <dir>          Write RESULTS.md and results/ here instead.
  --report-only        Rebuild RESULTS.md and the chart from results/*.json; run nothing.
  -h, --help           This text.

Scenarios: 1 fan-out over TCP (K=200 and 1,000), 2 half the members on WebSocket,
3 CPU per million deliveries, 4 bridge vs websockify, 5 idle memory, 6 codec,
7 raw WebSocket pipe (/ws/devices/:id) vs websockify in front of one TCP echo server,
8 cluster: K=200 split over two gateways on one Redis (redis-server, appendfsync always)
against one gateway with and without Redis, same ladder; gateway CPU summed, Redis CPU apart.`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true },
      runs: { type: 'string' },
      'warmup-ms': { type: 'string' },
      'measure-ms': { type: 'string' },
      generators: { type: 'string' },
      'efficiency-rate': { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      out: { type: 'string' },
      'report-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const int = (name: string, value: string | undefined, fallback: number, min = 1): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
  const scenarios = new Set<number>();
  for (const s of values.scenario ?? []) {
    for (const part of s.split(',')) {
      const n = Number(part.trim());
      if (!Number.isInteger(n) || n < 1 || n > 8) throw new Error(`--scenario takes 1 to 8, got "${part}"`);
      scenarios.add(n);
    }
  }
  if (scenarios.size === 0) [1, 2, 3, 4, 5, 6, 7, 8].forEach((n) => scenarios.add(n));
  const quick = values.quick ?? false;
  return {
    help: values.help ?? false,
    reportOnly: values['report-only'] ?? false,
    quick,
    scenarios,
    runs: int('runs', values.runs, quick ? 1 : 3),
    warmupMs: int('warmup-ms', values['warmup-ms'], quick ? 700 : 2000),
    measureMs: int('measure-ms', values['measure-ms'], quick ? 1500 : 4000),
    generators: int('generators', values.generators, 2),
    efficiencyRate: values['efficiency-rate'] === undefined ? undefined : int('efficiency-rate', values['efficiency-rate'], 1000),
    profile: !(values['no-profile'] ?? false),
    outDir: values.out ?? (quick ? join(WORK_DIR, 'quick') : BENCH_DIR),
  };
}

type Options = ReturnType<typeof options>;

/**
 * Waits (up to `maxMs`) until the machine's other work uses under a third of a core over 2 s,
 * so a scenario does not start in the middle of somebody's build.
 */
async function waitForQuietMachine(maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let said = false;
  for (;;) {
    const before = coreTimes();
    await sleep(2000);
    const busy = coreBusy(before, coreTimes()).reduce((a, b) => a + b, 0);
    if (busy < 0.33) return;
    if (Date.now() > deadline) {
      log(`  the machine is still busy (${(busy * 100).toFixed(0)} % of a core used by other processes): going ahead; noisy runs are repeated or flagged`);
      return;
    }
    if (!said) log(`  waiting for other processes to quieten down (${(busy * 100).toFixed(0)} % of a core busy)…`);
    said = true;
  }
}

const started = Date.now();
function log(line: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  console.log(`[${s} s] ${line}`);
}

function tcpCases(members: number): FanoutCase[] {
  return [
    { id: `switchboard-tcp-k${members}`, label: 'Switchboard (TCP)', system: 'switchboard', members, senders: 10, wsShare: 0 },
    { id: `ngircd-k${members}`, label: 'ngircd', system: 'ngircd', members, senders: 10, wsShare: 0 },
    { id: `bare-hub-k${members}`, label: 'bare node:net hub', system: 'bare-hub', members, senders: 10, wsShare: 0 },
  ];
}

/**
 * Scenario 8: the same room on one gateway (scenario 1's case), one gateway on Redis, and two
 * gateways on one Redis with member i on gateway i mod 2 (half the senders and samples on each).
 */
function clusterCases(members: number): FanoutCase[] {
  return [
    { id: `switchboard-tcp-k${members}`, label: 'one gateway, no Redis', system: 'switchboard', members, senders: 10, wsShare: 0 },
    { id: `switchboard-redis-1-k${members}`, label: 'one gateway on Redis', system: 'switchboard', members, senders: 10, wsShare: 0, cluster: { gateways: 1 } },
    { id: `switchboard-redis-2-k${members}`, label: 'two gateways on one Redis', system: 'switchboard', members, senders: 10, wsShare: 0, cluster: { gateways: 2 } },
  ];
}

function mixedCase(members: number): FanoutCase {
  return { id: `switchboard-mixed-k${members}`, label: 'Switchboard (½ TCP, ½ WebSocket)', system: 'switchboard', members, senders: 10, wsShare: 0.5 };
}

interface Ladder {
  rates: number[];
  refineSteps: number;
}

function ladderFor(o: Options, members: number): Ladder {
  if (o.quick) return { rates: members >= 1000 ? [1000, 4000] : [2000, 8000, 32000, 64000], refineSteps: 0 };
  // K = 1,000 steps by 4 (its systems span 250 to 16,000 msg/s), then bisects twice.
  return members >= 1000 ? { rates: [250, 1000, 4000, 16_000, 64_000], refineSteps: 2 } : { rates: doublingRates(1000, 128_000), refineSteps: 2 };
}

/** runLadder, then extra bisection steps between the last pass and the first fail. */
async function capacity(c: FanoutCase, timing: Timing, ladder: Ladder): Promise<CaseResult> {
  let result = await runLadder(c, timing, { rates: ladder.rates, refine: ladder.refineSteps > 0, log });
  // If even the first rate failed, step down so the chart has a passing point.
  let lowest = ladder.rates[0]!;
  for (let i = 0; i < 3 && result.capacity === null; i++) {
    lowest = Math.round(lowest / 2);
    const lower = await runLadder(c, timing, { rates: [lowest], refine: false, log });
    result = merge(result, lower.points);
  }
  for (let step = 1; step < ladder.refineSteps && result.capacity !== null; step++) {
    const fail = result.points.find((p) => !p.pass && p.rate > result.capacity!);
    if (!fail) break;
    const mid = Math.round(Math.sqrt(result.capacity * fail.rate) / 100) * 100;
    if (mid <= result.capacity || mid >= fail.rate || result.points.some((p) => p.rate === mid)) break;
    const extra = await runLadder(c, timing, { rates: [mid], refine: false, log });
    result = merge(result, extra.points);
  }
  log(`  → ${c.label} K=${c.members}: capacity ${result.capacity ?? 'none'} msg/s${result.capacityGeneratorBound ? ' (generator-bound)' : ''}`);
  return result;
}

function merge(result: CaseResult, more: CaseResult['points']): CaseResult {
  const points = [...result.points, ...more].sort((a, b) => a.rate - b.rate);
  let cap: number | null = null;
  let gb = false;
  for (const p of points) {
    if (!p.pass) {
      gb ||= p.generatorBoundRuns > 0;
      break;
    }
    cap = p.rate;
    gb = p.generatorBoundRuns > 0;
  }
  return { ...result, points, capacity: cap, capacityGeneratorBound: gb };
}

/**
 * The rate to profile at: the highest passing rate below capacity (profiling costs the gateway
 * some speed, and a run at the very edge may fall over and show mostly idle time).
 */
function profileRate(c: CaseResult, ladder: Ladder): number {
  const passing = c.points.filter((p) => p.pass && (c.capacity === null || p.rate <= c.capacity)).map((p) => p.rate);
  if (passing.length === 0) return ladder.rates[0]!;
  const below = passing.filter((r) => r < c.capacity!);
  return below.length > 0 ? Math.max(...below) : Math.max(...passing);
}

/** One run of the gateway under `node --cpu-prof`, summarized. */
async function profileGateway(c: FanoutCase, timing: Timing, rate: number): Promise<FanoutData['profile']> {
  const dir = join(WORK_DIR, `cpu-profile-${c.id}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`  CPU profile of the gateway: ${c.label}, K=${c.members}, ${rate} msg/s`);
  const session = new FanoutSession(c, { ...timing, runs: 1 }, { cpuProfileDir: dir });
  await session.open();
  let point: PointResult;
  try {
    point = await measurePoint(session, rate, log);
  } finally {
    await session.close();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the gateway wrote no CPU profile into ${dir}`);
  const run = point.runs[0]!;
  // Only the measured window: joining, warm-up and shutdown stay out of the figures.
  const summary = summarizeProfile(join(dir, file), run.windowStartUs, run.windowEndUs);
  return { rate, members: c.members, label: c.label, summary, file: join(dir, file), serverCpu: run.serverCpu, pass: run.pass };
}

function scenarioFile<T>(scenario: number, title: string, o: Options, machine: MachineInfo, runId: string, settings: Record<string, unknown>, data: T): ScenarioFile<T> {
  return { scenario, title, runId, quick: o.quick, machine, settings, data };
}

async function main(): Promise<void> {
  const o = options();
  if (o.help) {
    console.log(HELP);
    return;
  }
  if (o.reportOnly) {
    const resultsDir = join(o.outDir, 'results');
    writeReport(readAll(resultsDir), join(o.outDir, 'RESULTS.md'), resultsDir);
    log(`Rebuilt ${join(o.outDir, 'RESULTS.md')} from ${resultsDir}`);
    return;
  }
  if (!existsSync(gatewayMain())) throw new Error(`${gatewayMain()} is missing: build first (npm run bench builds it).`);
  ensurePeers(log);
  cleanWorkDir();
  pinSelf();
  const build = snapshotBuilds();
  const machine = machineInfo(build);
  const runId = machine.date;
  const resultsDir = join(o.outDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const timing: Timing = {
    warmupMs: o.warmupMs,
    measureMs: o.measureMs,
    drainMs: o.quick ? 1000 : 1500,
    runs: o.runs,
    generators: o.generators,
    payloadBytes: 64,
    samples: 20,
  };
  log(`Switchboard bench${o.quick ? ' (quick)' : ''}: scenarios ${[...o.scenarios].join(', ')}; ${machine.cpuModel}, ${machine.cores} cores; ${machine.pinning}`);
  log(`Writing to ${o.outDir}; Switchboard runs from a snapshot of its build (${build})`);
  const settings = { timing, quick: o.quick };
  let efficiencyRate = o.efficiencyRate;
  let efficiencyRateSource =
    o.efficiencyRate !== undefined
      ? '--efficiency-rate'
      : o.scenarios.has(1)
        ? 'the default: no rate was passed by every system in scenario 1'
        : 'the default: scenario 1 did not run in this invocation';

  if (o.scenarios.has(1)) {
    await waitForQuietMachine(o.quick ? 10_000 : 120_000);
    log('Scenario 1: fan-out, TCP members (K=200' + (o.quick ? '' : ' and 1,000') + ', S=10, 64-byte messages)');
    const cases: CaseResult[] = [];
    for (const members of o.quick ? [200] : [200, 1000]) {
      for (const c of tcpCases(members)) cases.push(await capacity(c, timing, ladderFor(o, members)));
    }
    const data: FanoutData = { timing, cases };
    const sb = cases.find((c) => c.case.id === 'switchboard-tcp-k200');
    if (o.profile && sb) data.profile = await profileGateway(sb.case, timing, profileRate(sb, ladderFor(o, 200)));
    writeScenario(resultsDir, 'fanoutTcp', scenarioFile(1, 'Fan-out, TCP members', o, machine, runId, settings, data));
    if (efficiencyRate === undefined) {
      // A rate every system carries: the highest rate every K=200 system passed.
      const k200 = cases.filter((c) => c.case.members === 200);
      const rates = [...new Set(k200.flatMap((c) => c.points.map((p) => p.rate)))];
      const passedByAll = rates.filter((r) => k200.every((c) => c.points.some((p) => p.rate === r && p.pass)));
      if (passedByAll.length > 0) {
        efficiencyRate = Math.max(...passedByAll);
        efficiencyRateSource = 'the highest rate every system passed at K=200 in scenario 1';
      }
    }
  }

  if (o.scenarios.has(2)) {
    await waitForQuietMachine(o.quick ? 10_000 : 120_000);
    log('Scenario 2: fan-out with half the members on WebSocket (K=200, S=10)');
    const c = mixedCase(200);
    const result = await capacity(c, timing, ladderFor(o, 200));
    const data: FanoutData = { timing, cases: [result] };
    if (o.profile) data.profile = await profileGateway(c, timing, profileRate(result, ladderFor(o, 200)));
    writeScenario(resultsDir, 'fanoutMixed', scenarioFile(2, 'Fan-out, half the members on WebSocket', o, machine, runId, settings, data));
  }

  if (o.scenarios.has(3)) {
    await waitForQuietMachine(o.quick ? 10_000 : 120_000);
    const chosenBy = efficiencyRateSource;
    const rate = efficiencyRate ?? 1000;
    log(`Scenario 3: server CPU per million deliveries at ${rate} msg/s, K=200`);
    const points: EfficiencyData['points'] = [];
    for (const c of tcpCases(200)) {
      const session = new FanoutSession({ ...c, id: `${c.id}-efficiency` }, timing);
      await session.open();
      try {
        const point = await measurePoint(session, rate, log);
        points.push({ label: c.label, system: c.system, point });
        log(`    ${c.label}: ${point.cpuSecondsPerMillion.toFixed(2)} CPU s per million deliveries (server ${(point.serverCpu * 100).toFixed(0)} % of a core)`);
      } finally {
        await session.close();
      }
    }
    writeScenario(resultsDir, 'efficiency', scenarioFile(3, 'Efficiency', o, machine, runId, settings, { rate, members: 200, rateChosenBy: chosenBy, points }));
  }

  // Scenarios 4 and 7: the same client, message size, in-flight counts and windows.
  const bridgeSettings: BridgeSettings = o.quick
    ? { rttCount: 300, rttWarmup: 50, inFlight: 64, throughputMs: 1500, runs: 1 }
    : { rttCount: 2000, rttWarmup: 200, inFlight: 64, throughputMs: 5000, runs: o.runs };

  if (o.scenarios.has(4)) {
    await waitForQuietMachine(o.quick ? 10_000 : 120_000);
    log('Scenario 4: browser bridge, Switchboard vs websockify');
    const paths = await runBridge(bridgeSettings, 'flush-window-ms' in machine.gatewayDefaults, log);
    const profile = o.profile ? await profileBridge(bridgeSettings, log) : undefined;
    writeScenario(resultsDir, 'bridge', scenarioFile(4, 'Bridge', o, machine, runId, { ...bridgeSettings }, { settings: bridgeSettings, paths, ...(profile && { profile }) }));
  }

  if (o.scenarios.has(5)) {
    await waitForQuietMachine(o.quick ? 10_000 : 120_000);
    const n = o.quick ? 2000 : 10_000;
    log(`Scenario 5: ${n} idle connections, resident memory per connection`);
    const cases: IdleCase[] = [
      { id: 'switchboard-mixed', label: 'Switchboard (½ TCP, ½ WebSocket)', system: 'switchboard', connections: n, wsShare: 0.5 },
      ...(o.quick
        ? []
        : [
            { id: 'switchboard-tcp', label: 'Switchboard (TCP only)', system: 'switchboard', connections: n, wsShare: 0 } as IdleCase,
            { id: 'switchboard-ws', label: 'Switchboard (WebSocket only)', system: 'switchboard', connections: n, wsShare: 1 } as IdleCase,
          ]),
      { id: 'ngircd', label: 'ngircd', system: 'ngircd', connections: n, wsShare: 0 },
      { id: 'bare-hub', label: 'bare node:net hub', system: 'bare-hub', connections: n, wsShare: 0 },
    ];
    const results: IdleResult[] = [];
    for (const c of cases) results.push(await measureIdle(c, o.generators, log));
    writeScenario(resultsDir, 'idle', scenarioFile(5, 'Idle members', o, machine, runId, { connections: n, roomSize: 100 }, { results }));
  }

  if (o.scenarios.has(6)) {
    await waitForQuietMachine(o.quick ? 10_000 : 120_000);
    log('Scenario 6: codec throughput');
    const args = [...(o.quick ? ['--seconds', '0.3', '--repeats', '1'] : ['--seconds', '1', '--repeats', '3']), '--protocol', protocolEntry()];
    const { child, log: codecLog } = spawnPinned('server', 'codec-bench', ['node', CODEC_BENCH, ...args]);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const out = readFileSync(codecLog, 'utf8').trim().split('\n').pop() ?? '';
    if (code !== 0) throw new Error(`codec bench failed (exit ${code}); log: ${codecLog}`);
    const data = JSON.parse(out) as CodecData;
    for (const f of data.figures) log(`    ${f.name}: ${(f.framesPerSecond / 1e6).toFixed(2)} M frames/s, ${f.megabytesPerSecond.toFixed(0)} MB/s`);
    log(`    small frames as views of the read: ${data.zeroCopy.views}/${data.zeroCopy.frames} ${data.zeroCopy.pass ? '(no copies)' : '(COPIED)'}`);
    writeScenario(resultsDir, 'codec', scenarioFile(6, 'Codec', o, machine, runId, { args }, data));
  }

  if (o.scenarios.has(7)) {
    await waitForQuietMachine(o.quick ? 10_000 : 120_000);
    log('Scenario 7: raw WebSocket pipe (/ws/devices/:id) vs websockify, one TCP echo server');
    // Scenario 4's settings; the client leaves the sends one received message causes in one
    // write, so the generator core is not what limits a pipe that is 3× websockify.
    const pipeSettings: BridgeSettings = { ...bridgeSettings, batchSends: true };
    const { paths, room } = await runPipe(pipeSettings, log);
    const profile = o.profile ? await profilePipe(pipeSettings, log) : undefined;
    writeScenario(resultsDir, 'pipe', scenarioFile(7, 'Raw pipe', o, machine, runId, { ...pipeSettings }, { settings: pipeSettings, paths, room, ...(profile && { profile }) }));
  }

  if (o.scenarios.has(8)) {
    await waitForQuietMachine(o.quick ? 10_000 : 120_000);
    log('Scenario 8: two gateways on one Redis against one gateway (K=200, S=10, members split by index parity)');
    // Quick: two rates, so the three cases fit in well under a minute.
    const ladder: Ladder = o.quick ? { rates: [4000, 32000], refineSteps: 0 } : ladderFor(o, 200);
    const cases: CaseResult[] = [];
    for (const c of clusterCases(200)) cases.push(await capacity(c, timing, ladder));
    const pinning = machine.pinning.startsWith('server on core')
      ? `every gateway and redis-server on the server core (${machine.pinning.split(',')[0]!.replace('server on ', '')}), as one gateway is: the cases compare the work each costs on one core`
      : machine.pinning;
    const data: ClusterData = { timing, cases, redisFlags: REDIS_FLAGS, pinning };
    writeScenario(resultsDir, 'cluster', scenarioFile(8, 'Several gateways on one Redis', o, machine, runId, { ...settings, ladder }, data));
  }

  const reportFile = join(o.outDir, 'RESULTS.md');
  writeReport(readAll(resultsDir), reportFile, resultsDir);
  log(`Done in ${((Date.now() - started) / 60000).toFixed(1)} min: ${reportFile}`);
}

main().catch((error: Error) => {
  console.error(`\nbench failed: ${error.message}`);
  process.exit(1);
});

// A server or generator left behind would skew the next run: every child goes when we do.
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
