#!/usr/bin/env node
/**
 * `npm run bench`: Switchboard against ngircd, websockify and a bare node:net hub, side by
 * side in one invocation. See bench/README.md for what each scenario does.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { profileBridge, runBridge, type BridgeSettings } from './bridge.js';
import { profilePipe, runPipe } from './pipe.js';
import { sleep } from './clock.js';
import { summarizeProfile } from './cpu-profile.js';
import { coreBusy, coreTimes } from './proc-stats.js';
import {
  FanoutSession,
  MANY_ROOMS,
  SPREAD,
  doublingRates,
  measurePoint,
  runLadder,
  type CaseResult,
  type FanoutCase,
  type PointResult,
  type Timing,
} from './fanout.js';
import { measureCrowd } from './crowd.js';
import { measureIdle, type IdleCase, type IdleResult } from './idle.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { ensurePeers } from './prerequisites.js';
import { buildCPipeClient, buildCReceiver } from './c-receiver.js';
import { writeReport } from './report.js';
import {
  readAll,
  mergeCases,
  writeScenario,
  type AllResults,
  type ClusterData,
  type CodecData,
  type SpreadData,
  type EfficiencyData,
  type FanoutData,
  type ScenarioFile,
} from './results-files.js';
import {
  BENCH_DIR,
  CLUSTER_MASTERS,
  CODEC_BENCH,
  NICE,
  REDIS_FLAGS,
  WORK_DIR,
  cleanWorkDir,
  gatewayMain,
  killChildren,
  pinSelf,
  protocolEntry,
  snapshotBuilds,
  spawnPinned,
  type SwitchboardOptions,
} from './systems.js';

const HELP = `Usage: npm run bench [-- options]

Runs Switchboard's benchmark: fan-out against ngircd and a bare node:net hub, the browser
bridge and the raw device pipe against websockify, idle memory, the codec, and two gateways on
one Redis against one gateway. Writes bench/RESULTS.md, the raw figures
in bench/results/*.json and the chart bench/results/fanout-k200.svg.

  --quick              A 2-3 minute smoke run (1 run per point, short windows, fewer rates);
                       writes to bench/.work/quick/ instead of bench/.
  --scenario <n>       Run only scenario n (1-8, 12); repeat or comma-separate for several.
  --crowd <n>          Idle members for scenario 12 (default 100,000; --quick 2,000), capped by the open-file limit.
                       RESULTS.md is rebuilt from every results/*.json present.
  --runs <n>           Runs per point (default 3; median reported).
  --warmup-ms <n>      Warm-up before each measured window (default 2000).
  --measure-ms <n>     Measured window of each run (default 4000).
  --generators <n>     Load-generator processes (default 2: senders, receivers).
  --efficiency-members <n>  Room size(s) K for scenario 3; repeat or comma-separate (default 200;
                       200,50 also measures a room small enough that the receivers keep their
                       headroom against ngircd's one write per line).
  --efficiency-rate <n>  Offered rate(s) for scenario 3; repeat or comma-separate (default:
                       1000 and 4000 msg/s).
  --generator <c|node>  Scenario 3's receiving members: c (default), the C receiver the bench
                       builds with gcc (bench/c/receiver.c: epoll, 64 KiB reads), so the
                       generator core keeps headroom; node, the Node load generator as elsewhere.
                       Scenario 7's client that writes each message on its own: c (default),
                       bench/c/pipe-client.c; node, bridge-client.ts as the corked client.
  --burn-generator-core  Scenario 3 also measures Switchboard and ngircd with a spinning
                       process beside the generators on their core (what a loaded generator
                       does to the servers' CPU per delivery).
  --rates <a,b,…>      Scenarios 1, 2 and 8-11: measure exactly these offered rates (msg/s), no
                       ladder or bisection: a quick A/B or profile at fixed load.
  --case <id>          Run only the case with this id (repeat or comma-separate), e.g.
                       switchboard-tcp-private-none; an id ending in * takes every case
                       whose id starts so, e.g. 'spread-*' (scenario 8's spread cases).
  --invocations <n>    Run the selected scenarios n times (default 1); RESULTS.md shows the
                       min / median / max over the invocations.
  --seed-history <n>   Start every Switchboard from a history database already holding n
                       messages (default 0: a fresh one).
  --no-generator-check Skip measuring each case's first failing rate again with one more
                       generator process.
  --no-profile         Skip the CPU profile of the gateway.
  --history-none       Scenarios 1, 9 and 11: also run Switchboard with its rooms' history \`none\`
                       (a config file, rooms.<name>.history), beside the durable default.
  --out <dir>          Write RESULTS.md and results/ here instead.
  --report-only        Rebuild RESULTS.md and the chart from results/*.json; run nothing.
  -h, --help           This text.

Scenarios: 1 fan-out over TCP (K=200 and 1,000; bare hub plain and corked), 2 half the members on WebSocket,
3 CPU per million deliveries (receivers in C), 4 bridge vs websockify, 5 idle memory, 6 codec,
7 raw WebSocket pipe (/ws/devices/:id) vs websockify in front of one TCP echo server, a corked
client and one writing each message on its own,
8 cluster: K=200 split over two gateways on one Redis (redis-server, appendfsync always)
against one gateway with and without Redis, same ladder; gateway CPU summed, Redis CPU apart;
and rooms spread over 1-4 gateways (each its own rooms, one room spanning all) on one Redis
and on a 3-master Redis Cluster, at fixed rates (--rates; default 1,000, 4,000 and 32,000 msg/s: the last saturates),
case ids spread-redis-n1 … n4, spread-cluster-n1 … n4, spread-{redis,cluster}-n3-span-only, spread-cluster-n3-span-busy,
9 many rooms (50 rooms of about 20, each member in 3; TCP, ½ WebSocket, ngircd channels),
10 private messages (100 pairs talking; PRIVMSG nick for ngircd),
11 line-mode devices (a room of line members on --listen line://… against ngircd).`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true },
      crowd: { type: 'string' },
      runs: { type: 'string' },
      'warmup-ms': { type: 'string' },
      'measure-ms': { type: 'string' },
      generators: { type: 'string' },
      'efficiency-rate': { type: 'string', multiple: true },
      'efficiency-members': { type: 'string', multiple: true },
      case: { type: 'string', multiple: true },
      'burn-generator-core': { type: 'boolean', default: false },
      generator: { type: 'string', default: 'c' },
      invocations: { type: 'string' },
      'seed-history': { type: 'string' },
      'no-generator-check': { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      rates: { type: 'string', multiple: true },
      'history-none': { type: 'boolean', default: false },
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
      if (!Number.isInteger(n) || n < 1 || n > 12) throw new Error(`--scenario takes 1 to 12, got "${part}"`);
      scenarios.add(n);
    }
  }
  if (scenarios.size === 0) [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].forEach((n) => scenarios.add(n));
  const quick = values.quick;
  const generator = values.generator;
  if (generator !== 'c' && generator !== 'node') throw new Error(`--generator takes c or node, got "${generator}"`);
  return {
    help: values.help,
    reportOnly: values['report-only'],
    quick,
    scenarios,
    runs: int('runs', values.runs, quick ? 1 : 3),
    warmupMs: int('warmup-ms', values['warmup-ms'], quick ? 700 : 2000),
    measureMs: int('measure-ms', values['measure-ms'], quick ? 1500 : 4000),
    generators: int('generators', values.generators, 2),
    efficiencyRates:
      values['efficiency-rate'] === undefined
        ? undefined
        : values['efficiency-rate'].flatMap((v) => v.split(',')).map((v) => int('efficiency-rate', v.trim(), 1000)),
    efficiencyMembers: (values['efficiency-members'] ?? ['200']).flatMap((v) => v.split(',')).map((v) => int('efficiency-members', v.trim(), 200, 20)),
    cases: values.case?.flatMap((v) => v.split(',')).map((v) => v.trim()),
    burnGeneratorCore: values['burn-generator-core'],
    generator,
    invocations: int('invocations', values.invocations, 1),
    seedHistory: int('seed-history', values['seed-history'], 0, 0),
    generatorCheck: !values['no-generator-check'],
    crowd: int('crowd', values.crowd, quick ? 2_000 : 100_000),
    profile: !values['no-profile'],
    rates: values.rates
      ?.flatMap((v) => v.split(','))
      .map((v) => int('rates', v.trim(), 1000))
      .sort((a, b) => a - b),
    historyNone: values['history-none'],
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
    { id: `bare-hub-corked-k${members}`, label: 'bare node:net hub, corked', system: 'bare-hub-corked', members, senders: 10, wsShare: 0 },
  ];
}

/**
 * Scenario 3's systems: scenario 1's, and Switchboard without its flush window (matched latency).
 * A room of other than 200 says its K in each label, so its rows stand apart in RESULTS.md.
 */
function efficiencyCases(members: number): FanoutCase[] {
  const named = (c: FanoutCase): FanoutCase => (members === 200 ? c : { ...c, label: `${c.label}, K = ${members}` });
  const [sb, ...rest] = tcpCases(members);
  return [
    sb!,
    { ...sb!, id: `switchboard-tcp-flush0-k${members}`, label: 'Switchboard (TCP), --flush-window-ms 0', gatewayFlags: ['--flush-window-ms', '0'] },
    ...rest,
  ].map(named);
}

/** Scenario 9: 50 rooms of about 20, each member in 3 (K = 334), 50 senders each speaking in its 3 rooms in turn. */
function manyRoomCases(historyNone: boolean): FanoutCase[] {
  const base = { members: 334, senders: 50, workload: 'many-rooms' as const };
  const tcp: FanoutCase = { id: 'switchboard-tcp-rooms', label: 'Switchboard (TCP)', system: 'switchboard', wsShare: 0, ...base };
  const rooms = Array.from({ length: MANY_ROOMS.rooms }, (_, i) => `r${i}`);
  return [
    tcp,
    ...(historyNone ? [withoutHistory(tcp, rooms)] : []),
    { id: 'switchboard-mixed-rooms', label: 'Switchboard (½ TCP, ½ WebSocket)', system: 'switchboard', wsShare: 0.5, ...base },
    { id: 'ngircd-rooms', label: 'ngircd', system: 'ngircd', wsShare: 0, ...base },
  ];
}

/**
 * The same case with its rooms' history `none` (a config file naming each room), so the cost of
 * durable history shows beside the default: what the gateway does for the messages alone.
 */
function withoutHistory(c: FanoutCase, rooms: readonly string[]): FanoutCase {
  const file = join(WORK_DIR, `config-${c.id}-history-none.json`);
  mkdirSync(WORK_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify({ rooms: Object.fromEntries(rooms.map((room) => [room, { history: { mode: 'none' } }])) }, null, 2));
  return { ...c, id: `${c.id}-history-none`, label: `${c.label}, history none`, gatewayFlags: [...(c.gatewayFlags ?? []), '--config', file] };
}

/**
 * Scenario 10: 100 pairs, each member sending private messages to its partner; Switchboard with
 * private history durable (the default), in memory rings, and none (what the history costs).
 */
function privateCases(): FanoutCase[] {
  const base = { members: 200, senders: 200, workload: 'private' as const };
  return [
    { id: 'switchboard-tcp-private', label: 'Switchboard (TCP)', system: 'switchboard', wsShare: 0, ...base },
    {
      id: 'switchboard-tcp-private-memory',
      label: 'Switchboard (TCP), private history memory',
      system: 'switchboard',
      wsShare: 0,
      ...base,
      gatewayFlags: ['--private-history', 'memory'],
    },
    {
      id: 'switchboard-tcp-private-none',
      label: 'Switchboard (TCP), private history none',
      system: 'switchboard',
      wsShare: 0,
      ...base,
      gatewayFlags: ['--private-history', 'none'],
    },
    { id: 'switchboard-mixed-private', label: 'Switchboard (½ TCP, ½ WebSocket)', system: 'switchboard', wsShare: 0.5, ...base },
    { id: 'ngircd-private', label: 'ngircd', system: 'ngircd', wsShare: 0, ...base },
  ];
}

/** Scenario 11: one room of K = 200 line devices (S = 10) on a line listener, against ngircd's #bench. */
function lineCases(historyNone: boolean): FanoutCase[] {
  const line: FanoutCase = {
    id: 'switchboard-line-k200',
    label: 'Switchboard (line listener)',
    system: 'switchboard',
    members: 200,
    senders: 10,
    wsShare: 0,
    line: true,
  };
  return [
    line,
    ...(historyNone ? [withoutHistory(line, ['bench'])] : []),
    { id: 'ngircd-line-k200', label: 'ngircd', system: 'ngircd', members: 200, senders: 10, wsShare: 0 },
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
    {
      id: `switchboard-redis-2-k${members}`,
      label: 'two gateways on one Redis',
      system: 'switchboard',
      members,
      senders: 10,
      wsShare: 0,
      cluster: { gateways: 2 },
    },
  ];
}

/**
 * Scenario 8, rooms spread (SPREAD): N = 1 … 4 gateways each serving its own rooms plus the room
 * that spans them all, on one Redis and on a Redis Cluster; and 3 gateways with the spanning
 * room's own members on a fourth, which so serves that room only. The same members, rooms and
 * offered rates in every case.
 */
export function spreadCases(): FanoutCase[] {
  const members = SPREAD.localRooms * SPREAD.roomSize + SPREAD.spanOnly;
  const senders = SPREAD.localRooms * SPREAD.sendersPerRoom;
  const base = { system: 'switchboard' as const, members, senders, wsShare: 0, workload: 'spread' as const, gatewayFlags: ['--metrics-public'] };
  const cases: FanoutCase[] = [];
  for (const redis of ['single', 'cluster'] as const) {
    const on = redis === 'single' ? 'one Redis' : `a ${CLUSTER_MASTERS}-master Redis Cluster`;
    for (const n of [1, 2, 3, 4]) {
      cases.push({
        ...base,
        id: `spread-${redis === 'single' ? 'redis' : 'cluster'}-n${n}`,
        label: `rooms spread, ${n} gateway${n > 1 ? 's' : ''} on ${on}`,
        cluster: { gateways: n, redis },
      });
    }
    cases.push({
      ...base,
      id: `spread-${redis === 'single' ? 'redis' : 'cluster'}-n3-span-only`,
      label: `rooms spread, 3 gateways and one serving only the spanning room, on ${on}`,
      cluster: { gateways: 4, redis },
      spanOnlyGateway: true,
    });
  }
  // g₁ where the gateway serving only the spanning room is busy: every message in that room, so it
  // hears all of them (in the case above it hears 1 in 8 and idles: its fixed costs per event-loop
  // turn, shared by few messages, would make g₁ a figure of idleness rather than of a further gateway).
  cases.push({
    ...base,
    id: 'spread-cluster-n3-span-busy',
    label: `rooms spread, every message in the spanning room, 3 gateways and one serving only that room, on a ${CLUSTER_MASTERS}-master Redis Cluster`,
    cluster: { gateways: 4, redis: 'cluster' },
    spanOnlyGateway: true,
    spanRoutes: SPREAD.routesPerSender,
  });
  return cases;
}

function mixedCase(members: number): FanoutCase {
  return { id: `switchboard-mixed-k${members}`, label: 'Switchboard (½ TCP, ½ WebSocket)', system: 'switchboard', members, senders: 10, wsShare: 0.5 };
}

interface Ladder {
  rates: number[];
  refineSteps: number;
  /** --rates: these rates only (no stepping down below the first, no bisection). */
  fixed?: boolean;
}

function ladderFor(o: Options, members: number): Ladder {
  if (o.quick) return ladderOr(o, { rates: members >= 1000 ? [1000, 4000] : [2000, 8000, 32000, 64000], refineSteps: 0 });
  // K = 1,000 steps by 4 (its systems span 250 to 16,000 msg/s), then bisects twice.
  return ladderOr(o, members >= 1000 ? { rates: [250, 1000, 4000, 16_000, 64_000], refineSteps: 2 } : { rates: doublingRates(1000, 128_000), refineSteps: 2 });
}

/** A scenario's ladder, or the rates --rates chose (no bisection then). */
function ladderOr(o: Options, ladder: Ladder): Ladder {
  return o.rates === undefined ? ladder : { rates: o.rates, refineSteps: 0, fixed: true };
}

/** An id ending in * takes every case whose id starts with the rest (--case 'spread-cluster-*'). */
function matches(id: string, pattern: string): boolean {
  return pattern.endsWith('*') ? id.startsWith(pattern.slice(0, -1)) : id === pattern;
}

/** The cases --case selects (all without it). */
function chosen<C extends { id: string }>(o: Options, cases: C[]): C[] {
  return o.cases === undefined ? cases : cases.filter((c) => o.cases!.some((pattern) => matches(c.id, pattern)));
}

/**
 * runLadder, then extra bisection steps between the last pass and the first fail. `traceGc`: a
 * lone gateway's garbage collections are read over each window (scenarios 1, 2, 9-11; not where
 * CPU per delivery is the figure, nor on several gateways).
 */
async function capacity(c: FanoutCase, timing: Timing, ladder: Ladder, traceGc = false): Promise<CaseResult> {
  const traced = { ...sessionOptions, traceGc };
  let result = await runLadder(c, timing, { rates: ladder.rates, refine: ladder.refineSteps > 0, log, sessionOptions: traced });
  // If even the first rate failed, step down so the chart has a passing point.
  let lowest = ladder.rates[0]!;
  for (let i = 0; i < 3 && result.capacity === null && ladder.fixed !== true; i++) {
    lowest = Math.round(lowest / 2);
    const lower = await runLadder(c, timing, { rates: [lowest], refine: false, log, sessionOptions: traced });
    result = merge(result, lower.points);
  }
  for (let step = 1; step < ladder.refineSteps && result.capacity !== null; step++) {
    const fail = result.points.find((p) => !p.pass && p.rate > result.capacity!);
    if (!fail) break;
    const mid = Math.round(Math.sqrt(result.capacity * fail.rate) / 100) * 100;
    if (mid <= result.capacity || mid >= fail.rate || result.points.some((p) => p.rate === mid)) break;
    const extra = await runLadder(c, timing, { rates: [mid], refine: false, log, sessionOptions: traced });
    result = merge(result, extra.points);
  }
  if (generatorCheck) {
    // Was the generator the limit? The first failing rate again, with one more generator process.
    const fail = result.points.find((p) => !p.pass && (result.capacity === null || p.rate > result.capacity));
    if (fail) {
      const more = { ...timing, generators: timing.generators + 1 };
      const check = await runLadder(c, more, { rates: [fail.rate], refine: false, log, sessionOptions: traced });
      result.moreGenerators = { generators: more.generators, point: check.points[0]! };
      log(
        `    with ${more.generators} generator processes ${fail.rate} msg/s ${check.points[0]!.pass ? 'PASSES: the generator was part of the limit' : 'fails too'}`,
      );
    }
  }
  log(`  → ${c.label} K=${c.members}: capacity ${result.capacity ?? 'none'} msg/s${result.capacityGeneratorBound ? ' (generator-bound)' : ''}`);
  return result;
}

/**
 * Every rate of `rates` on one session, whether or not a lower one failed (runLadder stops at
 * the first failure): scenario 8's spread cases compare CPU per message at equal load.
 */
async function atFixedRates(c: FanoutCase, timing: Timing, rates: number[]): Promise<CaseResult> {
  log(`  ${c.label}, K=${c.members}, S=${c.senders}`);
  const session = new FanoutSession(c, timing, sessionOptions);
  const points: PointResult[] = [];
  await session.open();
  try {
    for (const rate of rates) {
      const point = await measurePoint(session, rate, log);
      points.push(point);
      if (point.runs.some((r) => r.closed > 0 || r.missing > 0 || !session.system.alive())) {
        await session.close();
        await session.open();
      }
    }
  } finally {
    await session.close();
  }
  const passed = points.filter((p) => p.pass);
  return {
    case: c,
    points,
    capacity: passed.length > 0 ? Math.max(...passed.map((p) => p.rate)) : null,
    capacityGeneratorBound: points.some((p) => p.generatorBoundRuns > 0),
  };
}

// Set from the options in main(): every session's Switchboard options, and the generator check.
let sessionOptions: SwitchboardOptions = {};
let generatorCheck = true;

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

/**
 * A history database that already holds `messages` messages: a gateway with 200 members in
 * `bench` is sent them at 32,000 msg/s, then stopped; its data directory is the seed every later
 * Switchboard of the invocation starts from (a copy each).
 */
async function seedHistory(messages: number, timing: Timing): Promise<string> {
  const rate = 32_000;
  const ms = Math.max(2000, Math.round((messages / rate) * 1000));
  log(`Seeding a history database with about ${messages.toLocaleString('en-US')} messages (${(ms / 1000).toFixed(0)} s at ${rate} msg/s)`);
  const c: FanoutCase = { id: 'seed', label: 'seed', system: 'switchboard', members: 200, senders: 10, wsShare: 0 };
  const session = new FanoutSession(c, { ...timing, warmupMs: 500, measureMs: ms - 500, runs: 1 }, { keepDataDir: true });
  await session.open();
  let dir: string;
  try {
    await session.run(rate);
    dir = session.system.dataDir!;
  } finally {
    await session.close();
  }
  return dir;
}

/** One run of the gateway under `node --cpu-prof`, summarized. */
async function profileGateway(c: FanoutCase, timing: Timing, rate: number): Promise<FanoutData['profile']> {
  const dir = join(WORK_DIR, `cpu-profile-${c.id}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`  CPU profile of the gateway: ${c.label}, K=${c.members}, ${rate} msg/s`);
  const session = new FanoutSession(c, { ...timing, runs: 1 }, { ...sessionOptions, cpuProfileDir: dir });
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

function scenarioFile<T>(
  scenario: number,
  title: string,
  o: Options,
  machine: MachineInfo,
  runId: string,
  settings: Record<string, unknown>,
  data: T,
): ScenarioFile<T> {
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
  const cReceiverWanted = o.scenarios.has(3) && o.generator === 'c';
  const cPipeClientWanted = o.scenarios.has(7) && o.generator === 'c';
  ensurePeers(log, { cToolchain: cReceiverWanted || cPipeClientWanted });
  cleanWorkDir();
  const cReceiver = cReceiverWanted ? buildCReceiver(log) : undefined;
  const cPipeClient = cPipeClientWanted ? buildCPipeClient(log) : undefined;
  pinSelf();
  const build = snapshotBuilds();
  const machine = machineInfo(build);
  let runId = machine.date;
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
  log(
    `Switchboard bench${o.quick ? ' (quick)' : ''}: scenarios ${[...o.scenarios].join(', ')}; ${machine.cpuModel}, ${machine.cores} cores; ${machine.pinning}`,
  );
  log(`Writing to ${o.outDir}; Switchboard runs from a snapshot of its build (${build})`);
  if (machine.gatewayNodeFlags) log(`The gateway's node runs with ${machine.gatewayNodeFlags} (SWITCHBOARD_BENCH_NODE_FLAGS)`);
  const settings = { timing, quick: o.quick, invocations: o.invocations, seedHistory: o.seedHistory };
  generatorCheck = o.generatorCheck;
  if (o.seedHistory > 0) sessionOptions = { seedDataDir: await seedHistory(o.seedHistory, timing) };
  const efficiencyRates = o.efficiencyRates ?? (o.quick ? [1000, 4000] : [1000, 4000]);
  const efficiencyRateSource = o.efficiencyRates !== undefined ? '--efficiency-rate' : 'the default (issue 15: 1,000 and 4,000 msg/s)';
  // Every invocation of each scenario, so RESULTS.md can show the spread.
  const history = new Map<keyof AllResults, { runId: string; data: unknown }[]>();
  const save = (key: keyof AllResults, file: ScenarioFile<unknown>): void => {
    // --case: the cases not run now are kept from the file there (marked with their invocation).
    const merged = o.cases === undefined ? file : mergeCases(resultsDir, key, file);
    const list = history.get(key) ?? [];
    list.push({ runId: merged.runId, data: merged.data });
    history.set(key, list);
    writeScenario(resultsDir, key, { ...merged, invocations: list });
  };

  for (let invocation = 1; invocation <= o.invocations; invocation++) {
    if (invocation > 1) runId = new Date().toISOString();
    if (o.invocations > 1) log(`Invocation ${invocation} of ${o.invocations} (${runId})`);
    if (o.scenarios.has(1)) {
      await waitForQuietMachine(o.quick ? 10_000 : 120_000);
      log('Scenario 1: fan-out, TCP members (K=200' + (o.quick ? '' : ' and 1,000') + ', S=10, 64-byte messages)');
      const cases: CaseResult[] = [];
      for (const members of o.quick ? [200] : [200, 1000]) {
        const all = tcpCases(members);
        // --history-none: Switchboard also with room `bench`'s history none, beside the durable default.
        if (o.historyNone) all.splice(1, 0, withoutHistory(all[0]!, ['bench']));
        for (const c of chosen(o, all)) cases.push(await capacity(c, timing, ladderFor(o, members), true));
      }
      const data: FanoutData = { timing, cases };
      const sb = cases.find((c) => c.case.id === 'switchboard-tcp-k200');
      if (o.profile && sb && invocation === o.invocations) data.profile = await profileGateway(sb.case, timing, profileRate(sb, ladderFor(o, 200)));
      save('fanoutTcp', scenarioFile(1, 'Fan-out, TCP members', o, machine, runId, settings, data));
    }

    if (o.scenarios.has(2)) {
      await waitForQuietMachine(o.quick ? 10_000 : 120_000);
      log('Scenario 2: fan-out with half the members on WebSocket (K=200, S=10)');
      const c = mixedCase(200);
      const result = await capacity(c, timing, ladderFor(o, 200), true);
      const data: FanoutData = { timing, cases: [result] };
      if (o.profile && invocation === o.invocations) data.profile = await profileGateway(c, timing, profileRate(result, ladderFor(o, 200)));
      save('fanoutMixed', scenarioFile(2, 'Fan-out, half the members on WebSocket', o, machine, runId, settings, data));
    }

    if (o.scenarios.has(3)) {
      await waitForQuietMachine(o.quick ? 10_000 : 120_000);
      log(`Scenario 3: server CPU per million deliveries at ${efficiencyRates.join(', ')} msg/s, K=${o.efficiencyMembers.join(', ')}`);
      const points: EfficiencyData['points'] = [];
      // The receivers in C (--generator c, the default): the generator core keeps headroom against ngircd's one write per line.
      const efficiencyTiming: Timing = { ...timing, ...(cReceiver !== undefined && { cReceiver }) };
      const measure = async (c: FanoutCase, burn: boolean): Promise<void> => {
        const session = new FanoutSession({ ...c, id: `${c.id}-efficiency${burn ? '-burn' : ''}` }, efficiencyTiming, sessionOptions);
        await session.open();
        // A process spinning on the generator core at the generators' priority: a loaded generator.
        const burner = burn ? spawnPinned('generator', 'burn', ['node', '-e', 'for(;;){}'], { nice: NICE }).child : undefined;
        try {
          for (const rate of efficiencyRates) {
            const point = await measurePoint(session, rate, log);
            points.push({ label: c.label, system: c.system, id: c.id, rate, ...(burn && { burn }), point });
            log(
              `    ${c.label}${burn ? ' (generator core loaded)' : ''} ${rate} msg/s: ${point.cpuSecondsPerMillion.toFixed(2)} CPU s per million deliveries (server ${(point.serverCpu * 100).toFixed(0)} % of a core, generators ${(point.generatorCpu * 100).toFixed(0)} %` +
                (point.receiverCpu !== undefined ? `, of which the receivers ${(point.receiverCpu * 100).toFixed(0)} %)` : ')'),
            );
          }
        } finally {
          burner?.kill('SIGKILL');
          await session.close();
        }
      };
      for (const members of o.efficiencyMembers) for (const c of chosen(o, efficiencyCases(members))) await measure(c, false);
      if (o.burnGeneratorCore)
        for (const c of efficiencyCases(200).filter((x) => x.id === 'switchboard-tcp-k200' || x.id === 'ngircd-k200')) await measure(c, true);
      save(
        'efficiency',
        scenarioFile(3, 'Efficiency', o, machine, runId, settings, {
          rate: efficiencyRates[0]!,
          rates: efficiencyRates,
          members: o.efficiencyMembers[0]!,
          memberCounts: o.efficiencyMembers,
          rateChosenBy: efficiencyRateSource,
          generator: o.generator,
          points,
        }),
      );
    }

    // Scenarios 4 and 7: the same client, message size, in-flight counts and windows.
    // Round trips are measured on a warm gateway: for its first few thousand, V8 compiles the hot
    // path on helper threads that share the gateway's pinned core, and each compile stalls a round
    // trip by 1-3 ms (after 200 warm-up round trips the pipe's p99 was 2.6-3.5 ms; after 5,000, a
    // tenth of that). A gateway in service is warm; websockify (CPython) has no such phase.
    const bridgeSettings: BridgeSettings = o.quick
      ? { rttCount: 1000, rttWarmup: 1000, inFlight: 64, throughputMs: 1500, runs: 1 }
      : { rttCount: 5000, rttWarmup: 5000, inFlight: 64, throughputMs: 5000, runs: o.runs };

    if (o.scenarios.has(4)) {
      await waitForQuietMachine(o.quick ? 10_000 : 120_000);
      log('Scenario 4: browser bridge, Switchboard vs websockify');
      const paths = await runBridge(bridgeSettings, 'flush-window-ms' in machine.gatewayDefaults, log);
      const profile = o.profile ? await profileBridge(bridgeSettings, log) : undefined;
      save('bridge', scenarioFile(4, 'Bridge', o, machine, runId, { ...bridgeSettings }, { settings: bridgeSettings, paths, ...(profile && { profile }) }));
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
      // `--case 'switchboard-*'` measures Switchboard's cases alone (a second reading of them is quicker).
      for (const c of chosen(o, cases)) results.push(await measureIdle(c, o.generators, log));
      save('idle', scenarioFile(5, 'Idle members', o, machine, runId, { connections: n, roomSize: 100 }, { results }));
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
      save('codec', scenarioFile(6, 'Codec', o, machine, runId, { args }, data));
    }

    if (o.scenarios.has(7)) {
      await waitForQuietMachine(o.quick ? 10_000 : 120_000);
      log('Scenario 7: raw WebSocket pipe (/ws/devices/:id) vs websockify, one TCP echo server, a corked client and one that writes each message');
      // Scenario 4's settings, with two clients: one leaves the sends one received message causes
      // in one write (so the generator core is not what limits a pipe that is 3× websockify), the
      // other writes each message on its own, as a page's code does.
      const { paths, room, roomPerMessage } = await runPipe(bridgeSettings, log, cPipeClient);
      const profile = o.profile ? await profilePipe({ ...bridgeSettings, batchSends: true }, log) : undefined;
      const profilePerMessage = o.profile
        ? await profilePipe({ ...bridgeSettings, batchSends: false, ...(cPipeClient !== undefined && { cClient: cPipeClient }) }, log)
        : undefined;
      save(
        'pipe',
        scenarioFile(
          7,
          'Raw pipe',
          o,
          machine,
          runId,
          { ...bridgeSettings },
          { settings: bridgeSettings, paths, room, roomPerMessage, ...(profile && { profile }), ...(profilePerMessage && { profilePerMessage }) },
        ),
      );
    }
    if (o.scenarios.has(12)) {
      await waitForQuietMachine(o.quick ? 10_000 : 120_000);
      log(`Scenario 12: ${o.crowd.toLocaleString('en-US')} idle members (½ TCP, ½ WebSocket) and an active room of 200 at 1,000 msg/s among them`);
      const data = await measureCrowd(o.crowd, timing, log);
      writeScenario(resultsDir, 'crowd', scenarioFile(12, 'A crowd of idle members', o, machine, runId, { requested: o.crowd }, data));
    }

    if (o.scenarios.has(8)) {
      await waitForQuietMachine(o.quick ? 10_000 : 120_000);
      const pinning = machine.pinning.startsWith('server on core')
        ? `every gateway and redis-server on the server core (${machine.pinning.split(',')[0]!.replace('server on ', '')}), as one gateway is: the cases compare the work each costs on one core`
        : machine.pinning;
      const oneRoom = chosen(o, clusterCases(200));
      if (oneRoom.length > 0) {
        log('Scenario 8: two gateways on one Redis against one gateway (K=200, S=10, members split by index parity)');
        // Quick: two rates, so the three cases fit in well under a minute.
        const ladder: Ladder = o.quick ? ladderOr(o, { rates: [1000, 8000], refineSteps: 0 }) : ladderFor(o, 200);
        const cases: CaseResult[] = [];
        for (const c of oneRoom) cases.push(await capacity(c, timing, ladder));
        const data: ClusterData = { timing, cases, redisFlags: REDIS_FLAGS, pinning };
        save('cluster', scenarioFile(8, 'Several gateways on one Redis', o, machine, runId, { ...settings, ladder }, data));
      }
      const spread = chosen(o, spreadCases());
      if (spread.length > 0) {
        // Fixed rates, the same in every case: the per-message costs at equal load, not a capacity; the last past every case's capacity (saturation), where the ceiling is read.
        const rates = o.rates ?? [1000, 4000, 32_000];
        log(
          `Scenario 8, rooms spread: ${spread.length} cases at ${rates.join(', ')} msg/s (${SPREAD.localRooms} rooms of ${SPREAD.roomSize} and one spanning every gateway)`,
        );
        const cases: CaseResult[] = [];
        for (const c of spread) cases.push(await atFixedRates(c, timing, rates));
        const data: SpreadData = { timing, cases, rates, layout: SPREAD, redisFlags: REDIS_FLAGS, clusterMasters: CLUSTER_MASTERS, pinning };
        save('clusterSpread', scenarioFile(8, 'Rooms spread over gateways, one Redis and a Redis Cluster', o, machine, runId, { ...settings, rates }, data));
      }
    }

    for (const [n, title, key, cases, profileId] of [
      [9, 'Many rooms', 'manyRooms', manyRoomCases(o.historyNone), 'switchboard-tcp-rooms'],
      [10, 'Private messages', 'privatePairs', privateCases(), 'switchboard-tcp-private'],
      [11, 'Line-mode devices', 'lineDevices', lineCases(o.historyNone), 'switchboard-line-k200'],
    ] as const) {
      if (!o.scenarios.has(n)) continue;
      await waitForQuietMachine(o.quick ? 10_000 : 120_000);
      log(`Scenario ${n}: ${title.toLowerCase()}`);
      // Private messages: ngircd passed 256,000 at the old top, so that ladder goes on until it fails (bounded).
      const top = n === 10 ? 1_024_000 : 256_000;
      const ladder = ladderOr(o, o.quick ? { rates: [2000, 8000, 32000], refineSteps: 0 } : { rates: doublingRates(1000, top), refineSteps: 2 });
      const results: CaseResult[] = [];
      for (const c of chosen(o, cases)) results.push(await capacity(c, timing, ladder, true));
      const data: FanoutData = { timing, cases: results };
      const sb = results.find((c) => c.case.id === profileId);
      const irc = results.find((c) => c.case.system === 'ngircd');
      // Profiled when Switchboard misses its target (2× ngircd's capacity; with --case or --rates, always), at the last invocation.
      const behind = irc === undefined || (sb?.capacity ?? 0) < 2 * (irc.capacity ?? 0);
      if (o.profile && invocation === o.invocations && sb && behind) {
        data.profile = await profileGateway(sb.case, timing, profileRate(sb, ladder));
      }
      save(key, scenarioFile(n, title, o, machine, runId, settings, data));
    }
  }

  const reportFile = join(o.outDir, 'RESULTS.md');
  writeReport(readAll(resultsDir), reportFile, resultsDir);
  log(`Done in ${((Date.now() - started) / 60000).toFixed(1)} min: ${reportFile}`);
}

main().catch((error: unknown) => {
  console.error(`\nbench failed: ${(error as Error).message}`);
  process.exit(1);
});

// A server or generator left behind would skew the next run: every child goes when we do.
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
