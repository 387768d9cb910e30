import { execFile } from 'node:child_process';
import { nowUs, sleep, sleepUntil } from './clock.js';
import { gcEventsBetween, gcFigures, logMark, mainIsolate, type GcFigures } from './gc-trace.js';
import type { MemberSpec, Route, RunReport, Wire } from './generator-protocol.js';
import { CReceiverProcess, GeneratorProcess, assignMembers } from './generator-pool.js';
import { LatencyHistogram } from './latency-histogram.js';
import { coreBusy, coreTimes, processCpuSeconds, processCpuSplit, syscallCounts, syscallDelta, treeCpu, treeCpuAgain, treeCpuDelta } from './proc-stats.js';
import { redisInfo, redisInfoDelta, type RedisInfo } from './redis-stats.js';
import { serverPids, startSystem, type RunningSystem, type SystemKind, type SwitchboardOptions } from './systems.js';

/** One room of K members, S of them sending, on one system. */
export interface FanoutCase {
  id: string;
  label: string;
  system: SystemKind;
  members: number;
  senders: number;
  /** Share of members on WebSocket (Switchboard only): 0 or 0.5. */
  wsShare: number;
  /**
   * Switchboard only: a Redis (`redis: 'cluster'`: a Redis Cluster) and this many gateways on it,
   * member i on gateway i mod gateways (workload `spread`: see SPREAD).
   */
  cluster?: { gateways: number; redis?: 'single' | 'cluster' };
  /** Workload `spread`: the spanning room's own members on a further gateway of their own (which so serves that room only). */
  spanOnlyGateway?: boolean;
  /** Workload `spread`: of a sender's SPREAD.routesPerSender messages, this many in the spanning room (default SPREAD.spanRoutes). */
  spanRoutes?: number;
  /**
   * What is said where: one room of K (the default); `many-rooms`: 50 rooms of about 20, each
   * member in 3, each sender speaking in its 3 rooms in turn; `private`: pairs (2i, 2i+1), every
   * member sending private messages to its partner; `spread`: rooms spread over the gateways
   * (SPREAD).
   */
  workload?: 'room' | 'many-rooms' | 'private' | 'spread';
  /** Switchboard only: every member on a line listener (--listen line://…?room=bench): text lines, no hello. */
  line?: boolean;
  /** Further documented gateway flags for this case (e.g. --flush-window-ms 0). */
  gatewayFlags?: string[];
}

export interface Timing {
  warmupMs: number;
  measureMs: number;
  drainMs: number;
  runs: number;
  /** Load-generator processes: the first holds the senders, the others the receivers. */
  generators: number;
  payloadBytes: number;
  samples: number;
  /**
   * `c`: the processes without senders are the C receiver (bench/c/receiver.c at this path:
   * epoll, 64 KiB reads), so receiving leaves the generator core headroom (scenario 3).
   */
  cReceiver?: string;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface RunResult {
  rate: number;
  /** The measured window, nowUs() (CLOCK_MONOTONIC µs, as V8 profiles stamp their samples). */
  windowStartUs: number;
  windowEndUs: number;
  pass: boolean;
  /** Why the run failed (loss, latency, disconnects …); empty when it passed. */
  failures: string[];
  /** Messages a second that reached every member, counted by arrival inside the window. */
  deliveredRate: number;
  deliveriesPerSecond: number;
  /** Deliveries one message makes (K − 1 in one room; the mean over routes otherwise). */
  deliveriesPerMessage?: number;
  /** Deliveries over the whole run (warm-up included) against what should have arrived. */
  expected: number;
  received: number;
  missing: number;
  surplus: number;
  duplicates: number;
  unexpected: number;
  echoes: number;
  closed: number;
  closeReasons: Record<string, number>;
  errorFrames: Record<string, number>;
  sent: number;
  sentInWindow: number;
  latencyMs: LatencySummary;
  latencyByWireMs: Partial<Record<Wire, LatencySummary>>;
  /** Server CPU during the window (every gateway of a cluster, summed): fraction of one core, and seconds; and its user / kernel parts. */
  serverCpu: number;
  serverUserCpu: number;
  serverSystemCpu: number;
  serverCpuSeconds: number;
  /** The server's write system calls over the window (syscw of /proc/<pid>/io: write, writev, sendmsg …): what batching saves, whatever the machine's load. */
  serverWriteCalls?: number;
  deliveriesInWindow: number;
  generatorCpu: number;
  /** The receiving processes' part of generatorCpu (those holding no sender: the C receiver in scenario 3). */
  receiverCpu?: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  sendLatenessP99Ms: number;
  sendLatenessMaxMs: number;
  backlogMaxBytes: number;
  coreBusy: number[];
  /** CPU (in cores) used by anything but the server (gateways and Redis) and the generators: other processes, softirq. */
  otherCpu: number;
  /** A cluster: each gateway's CPU (fraction of a core), in node order. */
  gatewayCpu?: number[];
  /** A cluster: Redis's CPU (redis-server and any child it forked, e.g. an AOF rewrite) over the window. */
  redisCpu?: number;
  redisCpuSeconds?: number;
  /** A cluster: Redis's INFO (commandstats, AOF, clients) over the window, summed over a Redis Cluster's masters; undefined if one did not answer. */
  redisInfo?: RedisInfo;
  /** A Redis Cluster: each master's CPU seconds and INFO over the window, in start order; `shared`: it holds the keys every gateway shares. */
  redisMasters?: { port: number; shared: boolean; cpuSeconds: number; info?: RedisInfo }[];
  /**
   * Workload `spread`: per gateway, the bus messages it received over the whole run, warm-up and
   * drain included (switchboard_cluster_bus_messages_total{direction="in"}, its own echoes included: a bus
   * message may carry several chat messages) and the share of all chat messages that are in rooms
   * it serves (from the schedule).
   */
  gatewayBus?: { busIn: number; servedShare: number }[];
  /** Workload `spread`: bus messages published over the same span as gatewayBus (PUBLISH and SPUBLISH calls, every Redis). */
  busPublished?: number;
  /** Workload `spread`: each room's pub/sub channel, the gateways that serve the room and the subscribers Redis counts (PUBSUB NUMSUB / SHARDNUMSUB), read once the members joined. */
  roomSubscribers?: { room: string; gateways: number; subscribers: number }[];
  /** Reasons to believe the generator, not the server, limited this run. */
  generatorBound: string[];
  /** The gateway's garbage collections over the window, when traced (SwitchboardOptions.traceGc). */
  gc?: GcFigures;
}

export interface PointResult {
  rate: number;
  pass: boolean;
  runs: RunResult[];
  /** Medians over the runs. */
  deliveredRate: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  lossFraction: number;
  serverCpu: number;
  serverUserCpu: number;
  serverSystemCpu: number;
  generatorCpu: number;
  /** Median of the runs' receiverCpu (the receiving processes alone). */
  receiverCpu?: number;
  cpuSecondsPerMillion: number;
  /** Median of the server's write system calls per 1,000 deliveries. */
  writeCallsPerThousand?: number;
  /** Median deliveries per second in the window (delivered rate × deliveries per message). */
  deliveriesPerSecond?: number;
  generatorBoundRuns: number;
  /** Runs whose generator core stayed under HEADROOM_CPU (their CPU per delivery is reported as measured with headroom). */
  headroomRuns?: number;
  /** A cluster: Redis's CPU (median share of a core), its CPU seconds per million deliveries and µs per message delivered. */
  redisCpu?: number;
  redisCpuSecondsPerMillion?: number;
  redisUsPerMessage?: number;
  /** Medians of the runs' garbage-collection figures, when traced. */
  gc?: Pick<GcFigures, 'promotedMBps' | 'scavengeMedianMs' | 'markCompacts'>;
}

export interface CaseResult {
  case: FanoutCase;
  points: PointResult[];
  /** The first failing rate measured again with one more generator process: did it pass then? */
  moreGenerators?: { generators: number; point: PointResult };
  /** Highest offered rate delivered in full with p99 ≤ the latency limit (median of runs). */
  capacity: number | null;
  /** True when a point at or just above capacity was generator-bound. */
  capacityGeneratorBound: boolean;
  /**
   * Set when this case's figures come from an earlier invocation than the rest of its file's: a
   * run with --case measured other cases and kept this one as it was (results-files.ts mergeCases).
   */
  runId?: string;
}

export const P99_LIMIT_MS = 50;
/** Generator core use below which a run counts as measured with headroom (issue 15: about 70 %). */
export const HEADROOM_CPU = 0.7;
/** Cores' worth of CPU used by other processes above which a run is repeated. */
export const BUSY_MACHINE_CPU = 0.25;

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

function summarize(h: LatencyHistogram): LatencySummary {
  const ms = (us: number): number => us / 1000;
  return {
    count: h.count,
    p50: ms(h.percentile(50)),
    p90: ms(h.percentile(90)),
    p99: ms(h.percentile(99)),
    p999: ms(h.percentile(99.9)),
    max: h.count > 0 ? ms(h.max) : NaN,
    mean: ms(h.mean),
  };
}

function wireOf(c: FanoutCase, index: number): Wire {
  if (c.system === 'ngircd') return 'irc';
  if (c.system === 'bare-hub' || c.system === 'bare-hub-corked') return 'hub';
  if (c.line) return 'sb-line';
  return c.wsShare > 0 && index % 2 === 1 ? 'sb-ws' : 'sb-tcp';
}

export const MANY_ROOMS = { rooms: 50, roomSize: 20, roomsPerMember: 3 };

/**
 * Workload `spread` (scenario 8): `localRooms` rooms of `roomSize`, room r's members all on
 * gateway r mod N; `sendersPerRoom` of each room's members send, and also sit in the room `span`
 * with `spanOnly` more members (on gateway j mod N, or on a gateway of their own), so `span`
 * spans every gateway. A sender's messages go to its own room `localShare` of the time and to
 * `span` the rest (its routes: localShare × 8 to its room, then span).
 */
export const SPREAD = { localRooms: 12, roomSize: 20, sendersPerRoom: 2, spanOnly: 12, routesPerSender: 8, spanRoutes: 1 };
export const SPAN_ROOM = 'span';

/** Members, senders and routes of a workload (see FanoutCase.workload). */
function workloadLayout(c: FanoutCase): {
  members: number;
  senderIndex: number[];
  rooms: (index: number) => string[];
  routes: Route[][];
  nodeOf?: (index: number) => number;
} {
  const K = c.members;
  if (c.workload === 'spread') return spreadLayout(c);
  if (c.workload === 'private') {
    const senderIndex = Array.from({ length: K - (K % 2) }, (_, i) => i);
    return { members: K, senderIndex, rooms: () => ['bench'], routes: senderIndex.map((i) => [{ to: i ^ 1 }]) };
  }
  if (c.workload === 'many-rooms') {
    const { rooms: R, roomSize, roomsPerMember: P } = MANY_ROOMS;
    // Slots t = 0 … K·P − 1: member ⌊t / P⌋ in room t mod R; K = ⌈R·size / P⌉, so rooms hold size or size + 1.
    const roomsOf = (index: number): string[] => Array.from({ length: P }, (_, j) => `r${(index * P + j) % R}`);
    const members: number[][] = Array.from({ length: R }, () => []);
    for (let i = 0; i < K; i++) for (let j = 0; j < P; j++) members[(i * P + j) % R]!.push(i);
    const senderIndex = Array.from({ length: c.senders }, (_, s) => Math.min(K - 1, Math.floor((s * K) / c.senders)));
    const routes = senderIndex.map((i) => roomsOf(i).map((room) => ({ room, members: members[Number(room.slice(1))]! })));
    void roomSize;
    return { members: K, senderIndex, rooms: roomsOf, routes };
  }
  const senderIndex: number[] = [];
  for (let s = 0; s < c.senders; s++) senderIndex.push(Math.min(K - 1, Math.floor((s * K) / c.senders) + (s % 2)));
  const all = Array.from({ length: K }, (_, i) => i);
  // Line senders hear nothing (see startSwitchboard): a message reaches the K − S others.
  const hearing = c.line ? all.filter((i) => !senderIndex.includes(i)) : all;
  return { members: K, senderIndex, rooms: () => ['bench'], routes: senderIndex.map(() => [{ room: 'bench', members: hearing }]) };
}

/** Workload `spread`'s members, senders, routes and gateways (SPREAD). */
function spreadLayout(c: FanoutCase): {
  members: number;
  senderIndex: number[];
  rooms: (index: number) => string[];
  routes: Route[][];
  nodeOf: (index: number) => number;
} {
  const { localRooms: L, roomSize, sendersPerRoom, spanOnly, routesPerSender } = SPREAD;
  const spanRoutes = c.spanRoutes ?? SPREAD.spanRoutes;
  const N = c.cluster?.gateways ?? 1;
  const roomGateways = c.spanOnlyGateway === true ? N - 1 : N;
  const local = L * roomSize;
  const senderIndex: number[] = [];
  for (let r = 0; r < L; r++) for (let j = 0; j < sendersPerRoom; j++) senderIndex.push(r * roomSize + Math.floor((j * roomSize) / sendersPerRoom));
  const spanMembers = [...senderIndex, ...Array.from({ length: spanOnly }, (_, j) => local + j)];
  const isSender = new Set(senderIndex);
  const roomMembers = (r: number): number[] => Array.from({ length: roomSize }, (_, i) => r * roomSize + i);
  const routes = senderIndex.map((index) => {
    const r = Math.floor(index / roomSize);
    const own: Route = { room: `l${r}`, members: roomMembers(r) };
    const span: Route = { room: SPAN_ROOM, members: spanMembers };
    return Array.from({ length: routesPerSender }, (_, q) => (q >= routesPerSender - spanRoutes ? span : own));
  });
  return {
    members: local + spanOnly,
    senderIndex,
    rooms: (index) => (index >= local ? [SPAN_ROOM] : [`l${Math.floor(index / roomSize)}`, ...(isSender.has(index) ? [SPAN_ROOM] : [])]),
    routes,
    nodeOf: (index) => (index < local ? Math.floor(index / roomSize) % roomGateways : c.spanOnlyGateway === true ? N - 1 : (index - local) % roomGateways),
  };
}

/**
 * Workload `spread`: for each gateway, the share of all messages that are in rooms it serves
 * (has a member in), from the schedule (every sender an equal share, its routes in turn); and the
 * mean number of gateways serving a message's room.
 */
export function servedShares(c: FanoutCase): { shares: number[]; gatewaysPerMessage: number; spanShare: number } {
  const { routes, nodeOf } = spreadLayout(c);
  const N = c.cluster?.gateways ?? 1;
  const shares = new Array<number>(N).fill(0);
  let gatewaysPerMessage = 0;
  let spanShare = 0;
  for (const rs of routes) {
    for (const route of rs) {
      if ('to' in route) continue;
      const weight = 1 / routes.length / rs.length;
      const served = new Set(route.members.map(nodeOf));
      for (const g of served) shares[g]! += weight;
      gatewaysPerMessage += weight * served.size;
      if (route.room === SPAN_ROOM) spanShare += weight;
    }
  }
  return { shares, gatewaysPerMessage, spanShare };
}

/** Deliveries one message makes on average: each sender's routes in turn, its own copy not counted. */
export function deliveriesPerMessage(routes: Route[][], senderIndex: number[]): number {
  let sum = 0;
  routes.forEach(
    (rs, s) => (sum += rs.reduce((a, r) => a + ('to' in r ? 1 : r.members.length - (r.members.includes(senderIndex[s]!) ? 1 : 0)), 0) / rs.length),
  );
  return sum / routes.length;
}

/**
 * Member layout: senders spread evenly over the room (alternating TCP and WebSocket in a
 * mixed room), sample members spread between them (half on each transport when mixed).
 */
export function layoutMembers(
  c: FanoutCase,
  samples: number,
): { members: MemberSpec[]; senderIndex: number[]; routes: Route[][]; deliveriesPerMessage: number } {
  const K = c.members;
  const { senderIndex, rooms, routes, nodeOf } = workloadLayout(c);
  const senderOf = new Map(senderIndex.map((index, s) => [index, s]));
  const sampled = new Set<number>();
  for (let j = 0; j < Math.min(samples, K - senderIndex.length); j++) {
    let index = Math.floor(((j + 0.5) * K) / samples);
    index = index - (index % 2) + (j % 2); // alternate parity: half TCP, half WebSocket when mixed
    while (index < K && (senderOf.has(index) || sampled.has(index))) index += 2;
    if (index >= K) index = [...Array(K).keys()].find((i) => !senderOf.has(i) && !sampled.has(i))!;
    sampled.add(index);
  }
  // When every member sends (pairs talking), the samples are senders too.
  for (let j = 0; sampled.size < samples && j < samples && senderIndex.length >= K - 1; j++)
    sampled.add(Math.min(K - 1, Math.floor(((j + 0.5) * K) / samples)));
  const members: MemberSpec[] = [];
  for (let index = 0; index < K; index++) {
    const sender = senderOf.get(index) ?? -1;
    const sample = sampled.has(index);
    const [room, ...moreRooms] = rooms(index);
    members.push({
      index,
      wire: wireOf(c, index),
      room: room!,
      ...(moreRooms.length > 0 && { moreRooms }),
      parse: true,
      sample,
      sender,
      ...(c.cluster && { node: nodeOf ? nodeOf(index) : index % c.cluster.gateways }),
    });
  }
  return { members, senderIndex, routes, deliveriesPerMessage: deliveriesPerMessage(routes, senderIndex) };
}

/** A system under test with its room of members connected, ready for runs. */
export class FanoutSession {
  system!: RunningSystem;
  generators: GeneratorProcess[] = [];
  #runId = 0;
  /** Per generator process: it holds no sender. */
  #receiving: boolean[] = [];
  #deliveriesPerMessage = 0;
  #senders = 0;
  #roomSubscribers: RunResult['roomSubscribers'];

  constructor(
    readonly fanoutCase: FanoutCase,
    readonly timing: Timing,
    readonly options: SwitchboardOptions = {},
  ) {}

  async open(): Promise<void> {
    const c = this.fanoutCase;
    const options: SwitchboardOptions = {
      ...this.options,
      ...(c.cluster && { cluster: c.cluster }),
      ...(c.line && { lineRoom: 'bench' }),
      ...(c.gatewayFlags && { extraFlags: [...(this.options.extraFlags ?? []), ...c.gatewayFlags] }),
    };
    this.system = await startSystem(c.system, options);
    const { members, senderIndex, routes, deliveriesPerMessage: dpm } = layoutMembers(c, this.timing.samples);
    this.#deliveriesPerMessage = dpm;
    this.#senders = senderIndex.length;
    const groups = assignMembers(members, this.timing.generators);
    const cReceiver = this.timing.cReceiver;
    this.generators = groups.map((group, i) => {
      const name = `generator-${c.id}-${i}`;
      const sender = group.some((m) => m.sender >= 0);
      this.#receiving[i] = !sender;
      return cReceiver !== undefined && !sender ? new CReceiverProcess(name, cReceiver) : new GeneratorProcess(name, { sender });
    });
    try {
      await Promise.all(
        groups.map((group, i) =>
          this.generators[i]!.setup({
            type: 'setup',
            host: '127.0.0.1',
            tcpPort: this.system.tcpPort,
            httpPort: this.system.httpPort,
            ...(this.system.nodes && { nodes: this.system.nodes.map((n) => ({ tcpPort: n.tcpPort, httpPort: n.httpPort })) }),
            ...(this.system.linePort !== undefined && { linePort: this.system.linePort }),
            ...(this.system.senderLinePort !== undefined && { senderLinePort: this.system.senderLinePort }),
            members: group,
            senderIndex,
            routes,
            // ngircd listens with a backlog of 10: more at once would cost SYN retries.
            concurrency: c.system === 'ngircd' ? 8 : 64,
            timeoutMs: 30_000,
            payloadBytes: this.timing.payloadBytes,
          }),
        ),
      );
    } catch (error) {
      await this.close();
      throw error;
    }
    if (c.workload === 'spread' && this.system.redis) this.#roomSubscribers = await roomSubscribers(c, this.system);
    // Joins make presence traffic (O(K²) for K joins): let it finish before measuring.
    await waitForQuiet([...serverPids(this.system), ...(this.system.redisMasters ?? (this.system.redis ? [this.system.redis] : [])).map((r) => r.pid)]);
  }

  async run(rate: number): Promise<RunResult> {
    const c = this.fanoutCase;
    const t = this.timing;
    const durationUs = (t.warmupMs + t.measureMs) * 1000;
    const totalMessages = Math.max(1, Math.round((rate * durationUs) / 1e6));
    // Workload spread: what each gateway heard from the bus and what was published, over the whole
    // run (read before it and after its drain, so messages a loaded gateway handled late count too).
    const wholeRun = c.workload === 'spread' ? await this.#busReadings() : undefined;
    const t0 = nowUs() + 300_000;
    const windowStart = t0 + t.warmupMs * 1000;
    const windowEnd = windowStart + t.measureMs * 1000;
    const command = {
      type: 'run' as const,
      id: ++this.#runId,
      t0,
      rate,
      senders: this.#senders,
      totalMessages,
      windowStart,
      windowEnd,
      drainMs: t.drainMs,
      maxBacklogBytes: 8 * 1024 * 1024,
    };
    const timeoutMs = durationUs / 1000 + t.drainMs + 60_000;
    const reports = Promise.all(this.generators.map((g) => g.run(command, timeoutMs)));
    // The server's CPU (every gateway's, and Redis's) and each core's load, read at the window's edges.
    const pids = serverPids(this.system);
    const redises = this.system.redisMasters ?? (this.system.redis ? [this.system.redis] : []);
    await sleepUntil(windowStart);
    // The window's length is taken between the two gateway readings: reading the rest takes time on a loaded machine.
    const at0 = nowUs();
    const cpu0 = pids.map(processCpuSplit);
    const io0 = syscallCounts(pids);
    const gc0 = this.system.gcTraced ? logMark(this.system.log) : undefined;
    const redis0 = redises.map((r) => treeCpu(r.pid));
    const cores0 = coreTimes();
    const info0 = redises.map((r) => redisInfo(r.port).catch(() => undefined));
    await sleepUntil(windowEnd);
    const cpu1 = pids.map(processCpuSplit);
    const io1 = syscallCounts(pids);
    const gc1 = this.system.gcTraced ? logMark(this.system.log) : undefined;
    const windowSeconds = (nowUs() - at0) / 1e6;
    const redis1 = redises.map((r, i) => treeCpuAgain(r.pid, redis0[i]!));
    const cores1 = coreTimes();
    const info1 = await Promise.all(redises.map((r) => redisInfo(r.port).catch(() => undefined)));
    const before = await Promise.all(info0);
    const gatewaySeconds = cpu1.map((a, i) => a.user + a.system - cpu0[i]!.user - cpu0[i]!.system);
    const redisSeconds = redises.map((_, i) => treeCpuDelta(redis0[i]!, redis1[i]!));
    const byProcess = await reports;
    const result = combine(rate, c, this.#deliveriesPerMessage, byProcess, {
      windowStart,
      windowEnd,
      serverCpuSeconds: gatewaySeconds.reduce((a, b) => a + b, 0),
      serverUserSeconds: cpu1.reduce((a, x, i) => a + x.user - cpu0[i]!.user, 0),
      redisCpuSeconds: redisSeconds.reduce((a, b) => a + b, 0),
      windowSeconds,
      measureSeconds: t.measureMs / 1000,
      coreBusy: coreBusy(cores0, cores1),
    });
    result.serverWriteCalls = syscallDelta(io0, io1).writes;
    // Read after the drain: a line cut by the window's end is whole by now.
    if (gc0 !== undefined && gc1 !== undefined) {
      const main = mainIsolate(this.system.log);
      result.gc = gcFigures(
        gcEventsBetween(this.system.log, gc0, gc1).filter((e) => e.isolate === main),
        windowSeconds,
      );
    }
    if (this.#receiving.some((r) => r))
      result.receiverCpu = byProcess.reduce((a, r, i) => a + (this.#receiving[i] ? (r.cpuUserUs + r.cpuSystemUs) / Math.max(1, r.windowUs) : 0), 0);
    if (redises.length > 0) {
      result.gatewayCpu = gatewaySeconds.map((s) => s / windowSeconds);
      result.redisCpuSeconds = redisSeconds.reduce((a, b) => a + b, 0);
      result.redisCpu = result.redisCpuSeconds / windowSeconds;
      const deltas = redises.map((_, i) => (before[i] && info1[i] ? redisInfoDelta(before[i], info1[i]) : undefined));
      if (deltas.every((d) => d !== undefined)) result.redisInfo = deltas.reduce(addRedisInfo);
      if (this.system.redisMasters)
        result.redisMasters = redises.map((r, i) => ({
          port: r.port,
          shared: r.port === this.system.sharedShardPort,
          cpuSeconds: redisSeconds[i]!,
          ...(deltas[i] && { info: deltas[i] }),
        }));
    }
    if (wholeRun) {
      const after = await this.#busReadings();
      const { shares } = servedShares(c);
      result.busPublished = after.published - wholeRun.published;
      result.gatewayBus = after.busIn.map((n, g) => ({ busIn: n - wholeRun.busIn[g]!, servedShare: shares[g]! }));
      if (this.#roomSubscribers) result.roomSubscribers = this.#roomSubscribers;
    }
    return result;
  }

  /** Each gateway's bus messages in, and the bus messages published (PUBLISH and SPUBLISH over every Redis): NaN where one did not answer. */
  async #busReadings(): Promise<{ busIn: number[]; published: number }> {
    const redises = this.system.redisMasters ?? (this.system.redis ? [this.system.redis] : []);
    const [heard, infos] = await Promise.all([
      Promise.all((this.system.nodes ?? []).map((n) => busIn(n.httpPort).catch(() => NaN))),
      Promise.all(redises.map((r) => redisInfo(r.port).catch(() => undefined))),
    ]);
    const published = infos.reduce((a, i) => a + (i ? (i.commands.publish?.calls ?? 0) + (i.commands.spublish?.calls ?? 0) : NaN), 0);
    return { busIn: heard, published };
  }

  async close(): Promise<void> {
    await Promise.all(this.generators.map((g) => g.close()));
    this.generators = [];
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() also runs after a setup that failed before the system started
    await this.system?.stop();
  }
}

/**
 * Workload `spread`: how many subscribers Redis counts on each room's channel
 * (`switchboard:{room:<name>}`, apps/gateway/src/cluster/redis-cluster.ts keyLayout), against the
 * gateways that have a member in the room: a gateway hears a room only while it serves it.
 */
async function roomSubscribers(c: FanoutCase, system: RunningSystem): Promise<RunResult['roomSubscribers']> {
  const { routes, nodeOf } = spreadLayout(c);
  const rooms = new Map<string, number>();
  for (const rs of routes) for (const r of rs) if (!('to' in r)) rooms.set(r.room, new Set(r.members.map(nodeOf)).size);
  const out: NonNullable<RunResult['roomSubscribers']> = [];
  for (const [room, gateways] of [...rooms].sort(([a], [b]) => a.localeCompare(b))) {
    const channel = `switchboard:{room:${room}}`;
    // A Redis Cluster's sharded channel is counted by the master that owns its slot (the others say 0): summed over the masters.
    const args = system.redisMasters ? ['PUBSUB', 'SHARDNUMSUB', channel] : ['PUBSUB', 'NUMSUB', channel];
    const replies = await Promise.all((system.redisMasters ?? [system.redis!]).map((r) => redisCli(r.port, args).catch(() => '')));
    out.push({ room, gateways, subscribers: replies.reduce((a, reply) => a + Number(reply.trim().split('\n')[1] ?? NaN), 0) });
  }
  return out;
}

function redisCli(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 }, (error, stdout) =>
      error ? reject(new Error(`redis-cli ${args.join(' ')}: ${error.message}`, { cause: error })) : resolve(stdout),
    );
  });
}

/** A gateway's switchboard_cluster_bus_messages_total{direction="in"} (its /metrics; the bench's spread gateways run with --metrics-public). */
async function busIn(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = /^switchboard_cluster_bus_messages_total\{direction="in"\} (\d+)$/m.exec(text);
  if (line === null) throw new Error('no switchboard_cluster_bus_messages_total{direction="in"} in /metrics');
  return Number(line[1]);
}

/** Two masters' INFO deltas as one (a Redis Cluster's work summed). */
function addRedisInfo(a: RedisInfo, b: RedisInfo): RedisInfo {
  const commands = { ...a.commands };
  for (const [name, v] of Object.entries(b.commands)) {
    const into = commands[name] ?? { calls: 0, usec: 0 };
    commands[name] = { calls: into.calls + v.calls, usec: into.usec + v.usec };
  }
  return {
    commands,
    aofCurrentSize: a.aofCurrentSize + b.aofCurrentSize,
    aofDelayedFsync: a.aofDelayedFsync + b.aofDelayedFsync,
    totalCommandsProcessed: a.totalCommandsProcessed + b.totalCommandsProcessed,
    pubsubChannels: a.pubsubChannels + b.pubsubChannels,
    connectedClients: a.connectedClients + b.connectedClients,
  };
}

/** Waits until the server (its processes together) has used under 2 % of a core for 300 ms (or 10 s have passed). */
export async function waitForQuiet(pids: number | number[], limitMs = 10_000): Promise<void> {
  const all = typeof pids === 'number' ? [pids] : pids;
  const cpu = (): number => all.reduce((a, pid) => a + processCpuSeconds(pid), 0);
  const deadline = Date.now() + limitMs;
  let last = cpu();
  while (Date.now() < deadline) {
    await sleep(300);
    const now = cpu();
    if (now - last <= 0.006) return;
    last = now;
  }
}

function combine(
  rate: number,
  c: FanoutCase,
  receivers: number,
  reports: RunReport[],
  window: {
    windowStart: number;
    windowEnd: number;
    serverCpuSeconds: number;
    serverUserSeconds: number;
    /** Redis's CPU over the window (0 without one): not the server's, but not "other" load either. */
    redisCpuSeconds: number;
    windowSeconds: number;
    measureSeconds: number;
    coreBusy: number[];
  },
): RunResult {
  const sum = (f: (r: RunReport) => number): number => reports.reduce((a, r) => a + f(r), 0);
  const addAll = (into: Record<string, number>, from: Record<string, number>): void => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  const latency = new LatencyHistogram();
  const byWire = new Map<Wire, LatencyHistogram>();
  const lateness = new LatencyHistogram();
  const closeReasons: Record<string, number> = {};
  const errorFrames: Record<string, number> = {};
  for (const r of reports) {
    latency.merge(r.latency);
    lateness.merge(r.sendLateness);
    for (const [wire, h] of Object.entries(r.latencyByWire)) {
      let into = byWire.get(wire as Wire);
      if (!into) byWire.set(wire as Wire, (into = new LatencyHistogram()));
      into.merge(h);
    }
    addAll(closeReasons, r.closeReasons);
    addAll(errorFrames, r.errorFrames);
  }
  const deliveriesInWindow = sum((r) => r.receivedInWindow);
  const generatorCpu = reports.reduce((a, r) => a + (r.cpuUserUs + r.cpuSystemUs) / Math.max(1, r.windowUs), 0);
  const result: RunResult = {
    rate,
    windowStartUs: window.windowStart,
    windowEndUs: window.windowEnd,
    pass: true,
    failures: [],
    deliveredRate: deliveriesInWindow / receivers / window.measureSeconds,
    deliveriesPerSecond: deliveriesInWindow / window.measureSeconds,
    deliveriesPerMessage: receivers,
    expected: sum((r) => r.expected),
    received: sum((r) => r.received),
    missing: sum((r) => r.missing),
    surplus: sum((r) => r.surplus),
    duplicates: sum((r) => r.duplicates),
    unexpected: sum((r) => r.unexpected),
    echoes: sum((r) => r.echoes),
    closed: sum((r) => r.closed),
    closeReasons,
    errorFrames,
    sent: sum((r) => r.sent),
    sentInWindow: sum((r) => r.sentInWindow),
    latencyMs: summarize(latency),
    latencyByWireMs: Object.fromEntries([...byWire].map(([w, h]) => [w, summarize(h)])),
    serverCpu: window.serverCpuSeconds / window.windowSeconds,
    serverUserCpu: window.serverUserSeconds / window.windowSeconds,
    serverSystemCpu: (window.serverCpuSeconds - window.serverUserSeconds) / window.windowSeconds,
    serverCpuSeconds: window.serverCpuSeconds,
    deliveriesInWindow,
    generatorCpu,
    loopDelayP99Ms: Math.max(...reports.map((r) => r.loopDelayP99Ms)),
    loopDelayMaxMs: Math.max(...reports.map((r) => r.loopDelayMaxMs)),
    sendLatenessP99Ms: lateness.percentile(99) / 1000,
    sendLatenessMaxMs: lateness.max / 1000,
    backlogMaxBytes: Math.max(...reports.map((r) => r.backlogMaxBytes)),
    coreBusy: window.coreBusy,
    otherCpu: window.coreBusy.reduce((a, b) => a + b, 0) - (window.serverCpuSeconds + window.redisCpuSeconds) / window.windowSeconds - generatorCpu,
    generatorBound: [],
  };
  const f = result.failures;
  if (result.missing > 0) f.push(`${result.missing} of ${result.expected} deliveries missing`);
  if (result.surplus > 0 || result.duplicates > 0) f.push(`${result.surplus + result.duplicates} duplicate deliveries`);
  if (result.unexpected > 0) f.push(`${result.unexpected} unreadable or unknown messages`);
  if (result.closed > 0)
    f.push(
      `${result.closed} members disconnected (${Object.entries(closeReasons)
        .map(([k, v]) => `${v}× ${k}`)
        .join(', ')})`,
    );
  if (sum((r) => r.backlogOverflow) > 0) f.push('a sender could not write (server not reading)');
  if (!(result.latencyMs.p99 <= P99_LIMIT_MS)) f.push(`p99 ${result.latencyMs.p99.toFixed(1)} ms > ${P99_LIMIT_MS} ms`);
  result.pass = f.length === 0;
  // The generators share one core: near-full use of it, a stalled event loop, or senders
  // writing late all mean the numbers describe the generator as much as the server.
  const g = result.generatorBound;
  if (result.generatorCpu >= 0.9) g.push(`generator CPU ${(result.generatorCpu * 100).toFixed(0)} % of its core`);
  if (result.loopDelayP99Ms > 20) g.push(`generator event-loop delay p99 ${result.loopDelayP99Ms.toFixed(0)} ms`);
  if (result.sendLatenessP99Ms > 5) g.push(`senders ${result.sendLatenessP99Ms.toFixed(1)} ms late (p99)`);
  return result;
}

function pointOf(rate: number, runs: RunResult[]): PointResult {
  const m = (f: (r: RunResult) => number): number => median(runs.map(f));
  return {
    rate,
    pass: runs.filter((r) => r.pass).length * 2 > runs.length,
    runs,
    deliveredRate: m((r) => r.deliveredRate),
    p50Ms: m((r) => r.latencyMs.p50),
    p99Ms: m((r) => r.latencyMs.p99),
    maxMs: m((r) => r.latencyMs.max),
    lossFraction: m((r) => (r.expected > 0 ? r.missing / r.expected : 0)),
    serverCpu: m((r) => r.serverCpu),
    serverUserCpu: m((r) => r.serverUserCpu),
    serverSystemCpu: m((r) => r.serverSystemCpu),
    generatorCpu: m((r) => r.generatorCpu),
    ...(runs.some((r) => r.receiverCpu !== undefined) && { receiverCpu: m((r) => r.receiverCpu ?? NaN) }),
    cpuSecondsPerMillion: m((r) => (r.deliveriesInWindow > 0 ? r.serverCpuSeconds / (r.deliveriesInWindow / 1e6) : NaN)),
    writeCallsPerThousand: m((r) => (r.serverWriteCalls !== undefined && r.deliveriesInWindow > 0 ? (r.serverWriteCalls / r.deliveriesInWindow) * 1000 : NaN)),
    deliveriesPerSecond: m((r) => r.deliveriesPerSecond),
    generatorBoundRuns: runs.filter((r) => r.generatorBound.length > 0).length,
    headroomRuns: runs.filter((r) => r.generatorCpu < HEADROOM_CPU && r.generatorBound.length === 0).length,
    ...(runs.some((r) => r.redisCpu !== undefined) && {
      redisCpu: m((r) => r.redisCpu ?? NaN),
      redisCpuSecondsPerMillion: m((r) => (r.deliveriesInWindow > 0 ? (r.redisCpuSeconds ?? NaN) / (r.deliveriesInWindow / 1e6) : NaN)),
      // Messages that reached the room in the window: deliveries ÷ (K − 1) = delivered rate × window.
      redisUsPerMessage: m((r) => ((r.redisCpuSeconds ?? NaN) * 1e6) / (r.deliveredRate * ((r.windowEndUs - r.windowStartUs) / 1e6))),
    }),
    ...(runs.some((r) => r.gc !== undefined) && {
      gc: {
        promotedMBps: m((r) => r.gc?.promotedMBps ?? NaN),
        scavengeMedianMs: m((r) => r.gc?.scavengeMedianMs ?? NaN),
        markCompacts: m((r) => r.gc?.markCompacts ?? NaN),
      },
    }),
  };
}

export interface LadderOptions {
  rates: number[];
  /** After the first failing rate, try the geometric midpoint between it and the last pass. */
  refine: boolean;
  log: (line: string) => void;
  /** Reuse a session for every run; it is reopened after a run that lost members or messages. */
  sessionOptions?: SwitchboardOptions;
}

/** Measures one rate `runs` times; reopens the session after a run that was not clean. */
export async function measurePoint(session: FanoutSession, rate: number, log: (line: string) => void): Promise<PointResult> {
  const runs: RunResult[] = [];
  let retries = 0;
  for (let i = 0; i < session.timing.runs; i++) {
    const r = await session.run(rate);
    if (r.otherCpu > BUSY_MACHINE_CPU && retries < 2) {
      // Something else on the machine took a share of the cores: measure again.
      retries++;
      log(`    (other processes used ${(r.otherCpu * 100).toFixed(0)} % of a core during that run: repeating it)`);
      i--;
      if (!r.pass) {
        await session.close();
        await session.open();
      }
      continue;
    }
    if (r.otherCpu > BUSY_MACHINE_CPU) r.generatorBound.push(`machine busy: other processes used ${(r.otherCpu * 100).toFixed(0)} % of a core`);
    runs.push(r);
    log(
      `    ${session.fanoutCase.label} K=${session.fanoutCase.members} ${rate} msg/s run ${i + 1}: ` +
        `delivered ${r.deliveredRate.toFixed(0)} msg/s, p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, ` +
        `server CPU ${(r.serverCpu * 100).toFixed(0)} %` +
        (r.serverWriteCalls !== undefined && r.deliveriesInWindow > 0
          ? ` (${((r.serverWriteCalls / r.deliveriesInWindow) * 1000).toFixed(1)} write calls per 1,000 deliveries)`
          : '') +
        (r.gatewayCpu && r.gatewayCpu.length > 1 ? ` (${r.gatewayCpu.map((g) => `${(g * 100).toFixed(0)} %`).join(' + ')})` : '') +
        (r.redisCpu !== undefined ? `, Redis ${(r.redisCpu * 100).toFixed(0)} %` : '') +
        `, generators ${(r.generatorCpu * 100).toFixed(0)} %` +
        (r.gc
          ? `, GC: promoted ${r.gc.promotedMBps.toFixed(2)} MB/s, ${r.gc.scavenges} scavenges (median ${r.gc.scavengeMedianMs.toFixed(1)} ms), ${r.gc.markCompacts} mark-compact${r.gc.markCompacts === 1 ? '' : 's'}`
          : '') +
        (r.pass ? '' : ` — FAIL: ${r.failures.join('; ')}`) +
        (r.generatorBound.length ? ` [generator-bound: ${r.generatorBound.join('; ')}]` : ''),
    );
    const dirty = r.closed > 0 || r.missing > 0 || r.surplus > 0 || !session.system.alive();
    if (dirty && i + 1 < session.timing.runs) {
      await session.close();
      await session.open();
    }
  }
  return pointOf(rate, runs);
}

/** Steps the offered rate up until the system fails, then refines between pass and fail. */
export async function runLadder(fanoutCase: FanoutCase, timing: Timing, options: LadderOptions): Promise<CaseResult> {
  const session = new FanoutSession(fanoutCase, timing, options.sessionOptions);
  const points: PointResult[] = [];
  options.log(`  ${fanoutCase.label}, K=${fanoutCase.members}, S=${fanoutCase.senders}`);
  await session.open();
  try {
    let lastPass: number | null = null;
    let firstFail: number | null = null;
    for (const rate of options.rates) {
      const point = await measurePoint(session, rate, options.log);
      points.push(point);
      if (!point.pass) {
        firstFail = rate;
        break;
      }
      lastPass = rate;
      if (point.runs.some((r) => r.closed > 0 || r.missing > 0)) {
        await session.close();
        await session.open();
      }
    }
    if (options.refine && lastPass !== null && firstFail !== null) {
      const mid = niceRate(Math.sqrt(lastPass * firstFail));
      if (mid > lastPass && mid < firstFail) {
        await session.close();
        await session.open();
        points.push(await measurePoint(session, mid, options.log));
      }
    }
  } finally {
    await session.close();
  }
  points.sort((a, b) => a.rate - b.rate);
  let capacity: number | null = null;
  let capacityGeneratorBound = false;
  for (const p of points) {
    if (!p.pass) {
      capacityGeneratorBound ||= p.generatorBoundRuns > 0;
      break;
    }
    capacity = p.rate;
    capacityGeneratorBound = p.generatorBoundRuns > 0;
  }
  return { case: fanoutCase, points, capacity, capacityGeneratorBound };
}

/** Rounds to 2 significant digits so rates read well (1414 → 1400). */
export function niceRate(x: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(x)) - 1);
  return Math.round(x / p) * p;
}

/** Rates doubling from `start` up to `max`. */
export function doublingRates(start: number, max: number): number[] {
  const rates: number[] = [];
  for (let r = start; r <= max; r *= 2) rates.push(r);
  return rates;
}
