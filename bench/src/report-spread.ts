import type { CaseResult, PointResult, RunResult } from './fanout.js';
import { servedShares } from './fanout.js';
import type { ScenarioFile, SpreadData } from './results-files.js';

// RESULTS.md §8, rooms spread over gateways: the figures per case, routing by interest, Redis per
// message as N grows, and the ceiling table (N gateways × S shards) computed from them.

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const pct = (n: number): string => (Number.isFinite(n) ? `${Math.max(0, n * 100).toFixed(0)} %` : '—');
/** A share as a percentage with one decimal (1/8 is 12.5 %). */
const share = (n: number): string => (Number.isFinite(n) ? `${(n * 100).toFixed(1)} %` : '—');
const us = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');
const ms = (n: number): string => (!Number.isFinite(n) ? '—' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));

function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[v.length >> 1]! : (v[(v.length >> 1) - 1]! + v[v.length >> 1]!) / 2;
}

/** Chat messages that reached their rooms in a run's window. */
function messages(r: RunResult): number {
  return r.deliveredRate * ((r.windowEndUs - r.windowStartUs) / 1e6);
}

/** Bus messages published on room channels and the rest in a run's window (PUBLISH on one Redis, SPUBLISH on a cluster). */
function published(r: RunResult): number {
  const c = r.redisInfo?.commands;
  if (!c) return NaN;
  return (c.publish?.calls ?? 0) + (c.spublish?.calls ?? 0);
}

/** Messages per append script call and per publish in a run's window (commandstats over every master; EVALSHA's heartbeats and name claims count too, a few a second). */
function perCall(r: RunResult): { perScript: number; perPublish: number } {
  const c = r.redisInfo?.commands;
  if (!c) return { perScript: NaN, perPublish: NaN };
  const scripts = (c.eval?.calls ?? 0) + (c.evalsha?.calls ?? 0);
  return { perScript: messages(r) / scripts, perPublish: messages(r) / published(r) };
}

const isCluster = (c: CaseResult): boolean => c.case.cluster?.redis === 'cluster';
const gatewaysOf = (c: CaseResult): number => c.case.cluster?.gateways ?? 1;
/** The N of an N = 1…4 case (its gateways all serve rooms), undefined for the span-only case. */
const plainN = (c: CaseResult): number | undefined => (c.case.spanOnlyGateway === true ? undefined : gatewaysOf(c));
/** The span-only case with SPREAD's mix (one message in routesPerSender in the spanning room), not the one with every message there. */
const spanOnlyCase = (c: CaseResult): boolean => c.case.spanOnlyGateway === true && c.case.spanRoutes === undefined;
/** The case with every message in the spanning room, whose gateway serving only that room is busy: g₁ is read there. */
const spanBusyCase = (c: CaseResult): boolean => c.case.spanOnlyGateway === true && c.case.spanRoutes !== undefined;

/** Per-message figures of one point: medians over its runs. */
interface PerMessage {
  /** All gateways' CPU ÷ messages, µs. */
  gatewayUs: number;
  /** Redis's CPU (all masters) ÷ messages, µs. */
  redisUs: number;
  /** Each master's CPU ÷ messages, µs (a cluster). */
  masterUs: number[];
  /** Each gateway: CPU ÷ messages of the rooms it serves, µs. */
  servedUs: number[];
  /** Each gateway: bus messages in ÷ bus messages published. */
  heardShare: number[];
}

function perMessage(p: PointResult): PerMessage {
  const each = <T>(f: (r: RunResult) => T[] | undefined): T[][] => p.runs.map((r) => f(r) ?? []);
  const col = (rows: number[][], i: number): number[] => rows.map((row) => row[i] ?? NaN);
  const served = each((r) =>
    r.gatewayBus?.map((g, i) => ((r.gatewayCpu?.[i] ?? NaN) * ((r.windowEndUs - r.windowStartUs) / 1e6) * 1e6) / (g.servedShare * messages(r))),
  );
  const heard = each((r) => r.gatewayBus?.map((g) => g.busIn / (r.busPublished ?? published(r))));
  const masters = each((r) => r.redisMasters?.map((m) => (m.cpuSeconds * 1e6) / messages(r)));
  const width = (rows: unknown[][]): number => Math.max(0, ...rows.map((row) => row.length));
  return {
    gatewayUs: median(p.runs.map((r) => (r.serverCpuSeconds * 1e6) / messages(r))),
    redisUs: median(p.runs.map((r) => ((r.redisCpuSeconds ?? NaN) * 1e6) / messages(r))),
    masterUs: Array.from({ length: width(masters) }, (_, i) => median(col(masters, i))),
    servedUs: Array.from({ length: width(served) }, (_, i) => median(col(served, i))),
    heardShare: Array.from({ length: width(heard) }, (_, i) => median(col(heard, i))),
  };
}

/** The rate the model reads: the highest every case passed, else the highest every case ran. */
function modelRate(cases: CaseResult[]): { rate: number; allPassed: boolean } | undefined {
  const rates = [...new Set(cases.flatMap((c) => c.points.map((p) => p.rate)))].sort((a, b) => b - a);
  const ran = rates.filter((r) => cases.every((c) => c.points.some((p) => p.rate === r)));
  const passed = ran.find((r) => cases.every((c) => c.points.some((p) => p.rate === r && p.pass)));
  if (passed !== undefined) return { rate: passed, allPassed: true };
  return ran.length > 0 ? { rate: ran[0]!, allPassed: false } : undefined;
}

/** The highest rate every case ran: where the spread cases are driven to saturation when it is past their capacity (`--rates` high enough). */
function topRate(cases: CaseResult[]): number | undefined {
  const rates = [...new Set(cases.flatMap((c) => c.points.map((p) => p.rate)))].sort((a, b) => b - a);
  return rates.find((r) => cases.every((c) => c.points.some((p) => p.rate === r)));
}

/** Per case at the saturating rate: each gateway's and each master's CPU per message, and how many messages shared each append call and publish. */
function saturationTable(cases: CaseResult[], rate: number): string[] {
  const lines = [
    '| case | delivered msg/s | gateways’ CPU | each gateway: µs per message of the rooms it serves | gateways µs per message | Redis µs per message (each master) | messages per append call / per publish |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of cases) {
    const p = c.points.find((x) => x.rate === rate);
    if (!p) continue;
    const pm = perMessage(p);
    lines.push(
      `| ${c.case.label} | ${int(p.deliveredRate)} | ${pct(p.serverCpu)} | ${pm.servedUs.map(us).join(' · ') || '—'} | ${us(pm.gatewayUs)} | ${us(pm.redisUs)}${pm.masterUs.length > 1 ? ` (${pm.masterUs.map(us).join(' + ')})` : ''} | ` +
        `${us(median(p.runs.map((x) => perCall(x).perScript)))} / ${us(median(p.runs.map((x) => perCall(x).perPublish)))} |`,
    );
  }
  return lines;
}

function caseTable(cases: CaseResult[]): string[] {
  const lines = [
    '| case | offered msg/s | delivered msg/s | p50 / p99 ms | gateway CPU (each) | gateway µs per message | Redis CPU (each master; * holds `{shared}`) | Redis µs per message | messages per append call / per publish | result |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|',
  ];
  for (const c of cases) {
    for (const p of c.points) {
      const r = [...p.runs].sort((a, b) => a.latencyMs.p99 - b.latencyMs.p99)[p.runs.length >> 1]!;
      const pm = perMessage(p);
      const window = (r.windowEndUs - r.windowStartUs) / 1e6;
      const masters = r.redisMasters?.map((m) => `${pct(m.cpuSeconds / window)}${m.shared ? '*' : ''}`).join(' + ');
      const failed = p.runs.filter((x) => !x.pass);
      lines.push(
        `| ${c.case.label} | ${int(p.rate)} | ${int(p.deliveredRate)} | ${ms(p.p50Ms)} / ${ms(p.p99Ms)} | ${pct(p.serverCpu)}${r.gatewayCpu && r.gatewayCpu.length > 1 ? ` (${r.gatewayCpu.map(pct).join(' + ')})` : ''} | ` +
          `${us(pm.gatewayUs)} | ${pct(p.redisCpu ?? NaN)}${masters ? ` (${masters})` : ''} | ${us(pm.redisUs)} | ${us(median(p.runs.map((x) => perCall(x).perScript)))} / ${us(median(p.runs.map((x) => perCall(x).perPublish)))} | ${p.pass ? 'pass' : `**fail** (${failed.length}/${p.runs.length}: ${failed[0]?.failures.join('; ') ?? ''})`} |`,
      );
    }
  }
  return lines;
}

/** Per gateway: what it serves, what it heard, its CPU per message served. */
function interestTable(cases: CaseResult[], rate: number, localRooms: number): string[] {
  const lines = [
    '| case | gateway | serves | share of messages in rooms it serves | bus messages in ÷ all published | bus messages in beyond its rooms’ (median run) | CPU µs per message of a room it serves | rooms whose channel it hears beyond those it serves |',
    '|---|:---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const c of cases) {
    const p = c.points.find((x) => x.rate === rate);
    if (!p) continue;
    const pm = perMessage(p);
    const { shares } = servedShares(c.case);
    const subs = p.runs[0]?.roomSubscribers ?? [];
    const extra = subs.reduce((a, s) => a + Math.max(0, s.subscribers - s.gateways), 0);
    const n = gatewaysOf(c);
    // Heard minus the bus messages of its rooms (their share of all published): what it heard of rooms it does not serve, give or take batching.
    const mid = [...p.runs].sort((a, b) => a.latencyMs.p99 - b.latencyMs.p99)[p.runs.length >> 1];
    const beyond = (g: number): string => {
      const bus = mid?.gatewayBus?.[g];
      if (!mid || !bus || mid.busPublished === undefined) return '—';
      return `${int(bus.busIn - bus.servedShare * mid.busPublished)} of ${int(mid.busPublished)}`;
    };
    for (let g = 0; g < n; g++) {
      const spanOnly = c.case.spanOnlyGateway === true && g === n - 1;
      const rooms = spanOnly ? 'the spanning room only' : `${localRooms / (c.case.spanOnlyGateway === true ? n - 1 : n)} rooms + the spanning room`;
      lines.push(
        `| ${c.case.label} | ${String.fromCharCode(0x61 + g)} | ${rooms} | ${pct(shares[g]!)} | ${pct(pm.heardShare[g] ?? NaN)} | ${beyond(g)} | ${us(pm.servedUs[g] ?? NaN)} | ${g === 0 ? (subs.length > 0 ? `${extra} (of ${subs.length} room channels, Redis counted ${subs.map((s) => s.subscribers).join(', ')} subscribers against ${subs.map((s) => s.gateways).join(', ')} serving gateways)` : '—') : ''} |`,
      );
    }
  }
  return lines;
}

export function spreadSection(file: ScenarioFile<SpreadData>): string[] {
  const d = file.data;
  const L = d.layout;
  const anyCase = d.cases[0];
  if (!anyCase) return [];
  const { spanShare } = servedShares(anyCase.case);
  const out = [
    '### Rooms spread over gateways, on one Redis and on a Redis Cluster',
    '',
    `Invocation ${file.runId}. ${L.localRooms} rooms of ${L.roomSize} members (\`l0\` … \`l${L.localRooms - 1}\`), all of room r’s members on gateway r mod N, and one room, \`span\`, that spans every gateway: ` +
      `${L.sendersPerRoom} members of each room send and also sit in \`span\`, with ${L.spanOnly} more members of \`span\` alone (on gateway j mod N, or in the “one serving only the spanning room” cases on a gateway of their own). ` +
      `Each sender speaks ${L.routesPerSender - L.spanRoutes} times in its own room, then ${L.spanRoutes === 1 ? 'once' : `${L.spanRoutes} times`} in \`span\`: ${share(spanShare)} of the messages are in the spanning room. ` +
      `N = 1 … 4 gateways, on one Redis and on a Redis Cluster of ${d.clusterMasters} masters without replicas (so the gateways run with \`--redis-wait-replicas 0\`; a replica would add its own CPU and a WAIT per acknowledgement), every redis-server with \`${d.redisFlags.map((f) => (f === '' ? '""' : f)).join(' ')}\`; ` +
      `the same members, rooms and offered rates (${d.rates.map(int).join(' and ')} msg/s, fixed: no ladder) in every case, the cases side by side in one invocation. Each gateway also has \`--metrics-public\`, so the bench reads its \`switchboard_cluster_bus_messages_total{direction="in"}\` at the window’s edges. ` +
      `Pinning: ${d.pinning}. Per message = CPU ÷ messages that reached their rooms in the window.`,
    '',
    ...caseTable(d.cases),
    '',
  ];
  const runs = d.cases.flatMap((c) => c.points.flatMap((p) => p.runs));
  const busy = runs.filter((r) => r.otherCpu > 0.25);
  if (runs.length > 0) {
    out.push(
      `The machine ${busy.length > 0 ? 'was shared' : 'was quiet'}: in ${busy.length} of the ${runs.length} runs kept, other processes used more than a quarter of a core (median ${pct(median(runs.map((r) => r.otherCpu)))} of a core over every run, at most ${pct(Math.max(...runs.map((r) => r.otherCpu)))}). ` +
        (busy.length > runs.length / 4
          ? '**These figures are indicative only**: with both cores shared, latency and pass/fail describe the machine more than the gateways, and CPU per message is inflated by processes evicting each other’s caches, unevenly from case to case.'
          : ''),
      '',
    );
  }
  const common = modelRate(d.cases);
  if (!common) return out;
  const rate = common.rate;
  out.push(
    `Routing by interest at ${int(rate)} msg/s${common.allPassed ? '' : ' (not every case passed at any rate: the highest rate all ran)'}: a gateway subscribes to a room’s channel only while it has a member there, so it should hear the messages of its rooms and none of the others. ` +
      `The bus counts envelopes (a gateway’s own echoes included; an envelope can carry several chat messages), so “bus messages in ÷ all published” (${d.cases.some((c) => c.points.some((p) => p.runs.some((r) => r.busPublished !== undefined))) ? 'over each whole run, warm-up and drain included, so what a loaded gateway handled late counts too' : 'over the measured window'}) is compared with the share of messages in rooms it serves; had it heard every room it would be 100 %. ` +
      'CPU per message of a room it serves = its CPU ÷ (that share × messages in the window); a gateway spends nothing on rooms it does not serve when this stays level as N grows.',
    '',
    ...interestTable(d.cases, rate, L.localRooms),
    '',
  );
  // The gateway serving only the spanning room against one serving rooms and the span, and one serving everything (N = 1).
  for (const cluster of [false, true]) {
    const spanOnly = d.cases.find((c) => isCluster(c) === cluster && spanOnlyCase(c));
    const one = d.cases.find((c) => isCluster(c) === cluster && plainN(c) === 1);
    const ps = spanOnly?.points.find((p) => p.rate === rate);
    const p1 = one?.points.find((p) => p.rate === rate);
    if (!spanOnly || !ps) continue;
    const pm = perMessage(ps);
    const n = gatewaysOf(spanOnly);
    const r = ps.runs[0]!;
    const cpu = (g: number): number => median(ps.runs.map((x) => x.gatewayCpu?.[g] ?? NaN));
    out.push(
      `On ${cluster ? 'the cluster' : 'one Redis'} at ${int(rate)} msg/s, the gateway serving only the spanning room (${share(r.gatewayBus?.[n - 1]?.servedShare ?? NaN)} of the messages) used ${pct(cpu(n - 1))} of a core, ${us(pm.servedUs[n - 1] ?? NaN)} µs per message it serves; ` +
        `a gateway serving ${L.localRooms / (n - 1)} rooms and the spanning room used ${pct(median(Array.from({ length: n - 1 }, (_, g) => cpu(g))))}, ${us(median(pm.servedUs.slice(0, n - 1)))} µs per message it serves` +
        (p1 ? `; one gateway serving every room (N = 1) ${pct(p1.serverCpu)}, ${us(perMessage(p1).gatewayUs)} µs per message.` : '.'),
      '',
    );
  }
  const busyCase = d.cases.find(spanBusyCase);
  const pb = busyCase?.points.find((p) => p.rate === rate);
  if (busyCase && pb) {
    const n = gatewaysOf(busyCase);
    out.push(
      `With every message in the spanning room (${busyCase.case.label}), at ${int(rate)} msg/s the gateway serving only that room heard all of them and used ${pct(median(pb.runs.map((x) => x.gatewayCpu?.[n - 1] ?? NaN)))} of a core, ${us(perMessage(pb).servedUs[n - 1] ?? NaN)} µs per message: g₁ below is read here, on a gateway with work to do, rather than on the one above, whose fixed costs per event-loop turn are shared by few messages.`,
      '',
    );
  }
  // At saturation (the top rate, past some case's capacity): the per-message costs where a turn's batches are largest, which the ceiling reads.
  const top = topRate(d.cases);
  const saturated = top !== undefined && top > rate;
  if (saturated) {
    out.push(
      `At saturation, ${int(top)} msg/s offered (${d.cases.filter((c) => c.points.some((p) => p.rate === top && !p.pass)).length} of the ${d.cases.length} cases could not carry it; where every gateway and redis-server share one server core, that core saturates, not one gateway alone). ` +
        'A gateway takes the messages of one event-loop turn to Redis together: on one Redis one append script call for all of them, on a cluster one per room, and one publish per room; the more messages a turn brings, the more share each call, each publish and each receiver’s envelope. ' +
        'Per message = CPU ÷ messages that reached their rooms in the window, as above; per append call and per publish from Redis’s commandstats over the window.',
      '',
      ...saturationTable(d.cases, top),
      '',
    );
  }
  out.push(...scaling(d, saturated ? top : rate, spanShare, saturated));
  return out;
}

/** Redis and the gateways per message as N grows, the cost model, and the ceiling table. */
function scaling(d: SpreadData, rate: number, spanShare: number, saturated: boolean): string[] {
  const out: string[] = [];
  const kinds = [
    { name: 'one Redis', cases: d.cases.filter((c) => !isCluster(c) && plainN(c) !== undefined) },
    { name: `the ${d.clusterMasters}-master Redis Cluster`, cases: d.cases.filter((c) => isCluster(c) && plainN(c) !== undefined) },
  ];
  const byN = new Map<number, { x: number; single?: PerMessage; cluster?: PerMessage }>();
  for (const k of kinds) {
    for (const c of k.cases) {
      const p = c.points.find((x) => x.rate === rate);
      if (!p) continue;
      const n = gatewaysOf(c);
      const entry = byN.get(n) ?? { x: servedShares(c.case).gatewaysPerMessage };
      entry[isCluster(c) ? 'cluster' : 'single'] = perMessage(p);
      byN.set(n, entry);
    }
  }
  const single = model(d, rate, byN, false);
  const cluster = model(d, rate, byN, true);
  const predicted = (m: Model, x: number): string => us(m.g0 + m.g1 * (x - 1));
  const rows: string[] = [
    '| N gateways | gateways per message (x) | one Redis: gateways µs (model) | one Redis: Redis µs | cluster: gateways µs (model) | cluster: Redis µs (each master) |',
    '|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [n, e] of [...byN].sort(([a], [b]) => a - b)) {
    rows.push(
      `| ${n} | ${e.x.toFixed(3)} | ${us(e.single?.gatewayUs ?? NaN)} (${predicted(single, e.x)}) | ${us(e.single?.redisUs ?? NaN)} | ${us(e.cluster?.gatewayUs ?? NaN)} (${predicted(cluster, e.x)}) | ${us(e.cluster?.redisUs ?? NaN)}${e.cluster && e.cluster.masterUs.length > 0 ? ` (${e.cluster.masterUs.map(us).join(' + ')})` : ''} |`,
    );
  }
  out.push(
    `Per message as N grows, at ${int(rate)} msg/s (x = the mean number of gateways serving a message’s room: 1 + ${share(spanShare)} × (N − 1) here; medians over the runs; “model”: g₀ + g₁·(x − 1) from the two figures below, as a check):`,
    '',
    ...rows,
    '',
  );
  // With one message-id counter (builds before per-room ids) every append script (INCR + XADD) runs on the master holding {shared}.
  const sharedSplit = clusterSplit(d, rate);
  out.push('#### The ceiling for N gateways on S shards', '', ...ceiling(single, cluster, sharedSplit, spanShare, d, rate, saturated), '');
  return out;
}

/**
 * The model's inputs, each measured rather than fitted (x spans only 1 … 1.375 in these cases, too
 * narrow for a slope): g₀ = the gateway's CPU per message at N = 1; g₁ = the CPU of the gateway
 * serving only the spanning room per message of that room (what one more gateway in a room costs:
 * hearing the message and delivering it to its members there); r₀ = Redis's CPU per message at
 * N = 1; r₁ = the median over N = 2 … 4 of (R(N) − r₀) ÷ (x − 1), at least 0.
 */
function model(d: SpreadData, rate: number, byN: Map<number, { x: number; single?: PerMessage; cluster?: PerMessage }>, cluster: boolean): Model {
  const which = cluster ? 'cluster' : 'single';
  const one = byN.get(1)?.[which];
  // g₁ where the gateway serving only the spanning room is busy (every message there), else from the span-only case (SPREAD's mix).
  const g1Of = (c: CaseResult | undefined): number => {
    const p = c?.points.find((x) => x.rate === rate);
    return p && c ? (perMessage(p).servedUs[gatewaysOf(c) - 1] ?? NaN) : NaN;
  };
  const busy = g1Of(d.cases.find((c) => isCluster(c) === cluster && spanBusyCase(c)));
  const g1 = Number.isFinite(busy) ? busy : g1Of(d.cases.find((c) => isCluster(c) === cluster && spanOnlyCase(c)));
  const slopes = [...byN.values()].filter((e) => e.x > 1 && e[which] !== undefined).map((e) => (e[which]!.redisUs - (one?.redisUs ?? NaN)) / (e.x - 1));
  return { g0: one?.gatewayUs ?? NaN, g1, g1Busy: Number.isFinite(busy), r0: one?.redisUs ?? NaN, r1: Math.max(0, median(slopes)), r1Raw: median(slopes) };
}

/**
 * The cluster's Redis work split: per message, the master holding `{shared}` (every append, and
 * its rooms' SPUBLISH) and per SPUBLISH'd message on the other masters; medians over the N = 1…4 cases.
 */
function clusterSplit(d: SpreadData, rate: number): { appendUs: number; publishUs: number } | undefined {
  const appendUs: number[] = [];
  const publishUs: number[] = [];
  const scripts = { shared: 0, others: 0 };
  for (const c of d.cases.filter((x) => isCluster(x) && plainN(x) !== undefined)) {
    const p = c.points.find((x) => x.rate === rate);
    for (const r of p?.runs ?? []) {
      const ms = r.redisMasters;
      if (!ms || ms.some((m) => !m.info)) continue;
      const spub = (m: (typeof ms)[number]): number => m.info!.commands.spublish?.calls ?? 0;
      const total = ms.reduce((a, m) => a + spub(m), 0);
      const others = ms.filter((m) => !m.shared);
      const shared = ms.find((m) => m.shared);
      if (!shared || total === 0) continue;
      const scriptCalls = (m: (typeof ms)[number]): number => (m.info!.commands.eval?.calls ?? 0) + (m.info!.commands.evalsha?.calls ?? 0);
      scripts.shared += scriptCalls(shared);
      scripts.others += others.reduce((a, m) => a + scriptCalls(m), 0);
      const n = messages(r);
      const othersShare = others.reduce((a, m) => a + spub(m), 0) / total;
      const pub = (others.reduce((a, m) => a + m.cpuSeconds, 0) * 1e6) / (othersShare * n);
      publishUs.push(pub);
      appendUs.push((shared.cpuSeconds * 1e6) / n - pub * (spub(shared) / total));
    }
  }
  // Only a build whose appends all run on that master (one message-id counter) is split so; with per-room counters the scripts spread.
  const appendsOnShared = scripts.others < 0.1 * (scripts.shared + scripts.others);
  if (appendUs.length === 0 || !appendsOnShared) return undefined;
  return { appendUs: median(appendUs), publishUs: median(publishUs) };
}

/** Per message, µs: gateways g₀ + g₁·(x − 1), Redis r₀ + r₁·(x − 1) (x: gateways serving the message's room). */
type Model = { g0: number; g1: number; g1Busy: boolean; r0: number; r1: number; r1Raw: number };

function ceiling(
  single: Model,
  cluster: Model,
  split: { appendUs: number; publishUs: number } | undefined,
  s: number,
  d: SpreadData,
  rate: number,
  saturated: boolean,
): string[] {
  const m = Number.isFinite(cluster.g0) && Number.isFinite(cluster.g1) ? cluster : single;
  const on = m === cluster ? 'cluster' : 'one Redis';
  const x = (n: number, share = s): number => 1 + share * (n - 1);
  // µs per message summed over the gateways, and over Redis.
  const gatewayUs = (n: number, share = s): number => m.g0 + m.g1 * (x(n, share) - 1);
  const redisUs = (n: number, share = s): number => m.r0 + m.r1 * (x(n, share) - 1);
  const gatewayCeiling = (n: number, share = s): number => (n * 1e6) / gatewayUs(n, share);
  // Rooms (and with them appends and publishes) spread evenly over the shards.
  const spreadCeiling = (n: number, shards: number, share = s): number => (shards * 1e6) / redisUs(n, share);
  // A build with one counter: every append on the master holding {shared}; its publishes 1/S of the rest.
  const todayCeiling = (n: number, shards: number, share = s): number => (split ? 1e6 / (split.appendUs + (redisUs(n, share) - split.appendUs) / shards) : NaN);
  const Ns = [1, 2, 4, 8, 16, 32, 64];
  const Ss = [1, 2, 3, 4, 8, 16];
  const measuredAt = saturated
    ? `at saturation (${int(rate)} msg/s offered, past the cases’ capacity): where the most messages share each append call, publish and event-loop turn, as they do in a gateway or shard at its ceiling. At lower rates each message costs more (the table above), so a deployment reaches these ceilings only when it runs as full`
    : `at ${int(rate)} msg/s: per message both sides cost less at higher rates, where more messages share each append call, publish, event-loop turn and fsync, so these ceilings are a floor`;
  const cell = (n: number, S: number, redis: (n: number, S: number) => number): string => {
    const gw = gatewayCeiling(n);
    const rd = redis(n, S);
    return `${int(Math.min(gw, rd))} ${gw <= rd ? 'G' : 'R'}`;
  };
  const table = (redis: (n: number, S: number) => number): string[] => [
    `| N \\ S | ${Ss.join(' | ')} |`,
    `|---:|${Ss.map(() => '---:').join('|')}|`,
    ...Ns.map((n) => `| ${n} | ${Ss.map((S) => cell(n, S, redis)).join(' | ')} |`),
  ];
  const target = 500_000;
  const at16x3 = Math.min(gatewayCeiling(16), spreadCeiling(16, 3));
  const today16x3 = Math.min(gatewayCeiling(16), todayCeiling(16, 3));
  const out = [
    `The cost model (on ${on === 'cluster' ? `the ${d.clusterMasters}-master cluster` : 'one Redis'}, from the figures at ${int(rate)} msg/s${saturated ? ', saturation' : ''}; µs of CPU per message that reached its room; x = gateways serving the message’s room):`,
    '',
    `- The gateways together: G(x) = g₀ + g₁·(x − 1). g₀ ≈ ${us(m.g0)} µs: one gateway serving every room (N = 1): taking a message from its sender, the append and publish round trip to Redis, hearing it back, and its ${Math.round((d.layout.roomSize - 1) * (1 - s) + (d.layout.sendersPerRoom * d.layout.localRooms + d.layout.spanOnly - 1) * s)} deliveries on average. ` +
      `g₁ ≈ ${us(m.g1)} µs: the gateway that serves only the spanning room, per message of that room: what each further gateway in a room costs (hearing the message from Redis, storing it in its own history, and delivering it to its ${d.layout.spanOnly} members there)` +
      (m.g1Busy
        ? ', read where every message is in that room, so that gateway is busy as a gateway at its ceiling is (with SPREAD’s mix it hears one message in eight and idles, and its fixed costs per event-loop turn, shared by few messages, would be counted as per-message costs).'
        : ', read with SPREAD’s mix, where that gateway hears one message in eight and idles: its fixed costs per event-loop turn, shared by few messages, count as per-message costs here, so g₁ errs high.') +
      ` On one Redis: g₀ ≈ ${us(single.g0)}, g₁ ≈ ${us(single.g1)}.`,
    `- Redis, all shards together: R(x) = r₀ + r₁·(x − 1). r₀ ≈ ${us(m.r0)} µs at N = 1 (the append script, INCR + XADD, written to the AOF and fsynced, the publish, and the gateway’s stream reads); r₁ ≈ ${us(m.r1)} µs for each further gateway the message is sent to (the median of (R(N) − r₀) ÷ (x − 1) over N = 2 … 4${m.r1Raw < 0 ? `, which came out at ${us(m.r1Raw)}: below what these runs resolve, taken as 0` : ''}; x − 1 is ${s.toFixed(3)} … ${(3 * s).toFixed(3)} here, so this slope multiplies the runs’ noise by ${(1 / (3 * s)).toFixed(1)} to ${(1 / s).toFixed(0)}: an order of magnitude, not a figure). On one Redis: r₀ ≈ ${us(single.r0)}, r₁ ≈ ${us(single.r1)}.` +
      (split
        ? ` On the measured build’s cluster the master holding \`{shared}\` (the message-id counter, and with it every room’s stream while ids come from one counter) runs every message’s append: ≈ ${us(split.appendUs)} µs per message there, against ≈ ${us(split.publishUs)} µs per message published for a master that only publishes.`
        : ''),
    '',
    'Assumptions: each gateway and each shard on a core of its own (Redis’s main thread is one core, and its ceiling below is at 100 % of it: a deployment stops well before); rooms, and so messages, spread evenly over the gateways and over the shards; ' +
      `${share(s)} of the messages in spanning rooms, each spanning every gateway (the worst case: a room spanning k gateways costs g₁ and r₁ k − 1 and k times); the other rooms each on one gateway; the per-message costs measured here (${measuredAt}); rooms of this size (${d.layout.roomSize}; a larger room costs the gateways more per message, Redis the same).`,
    '',
    `Ceilings in messages a second, min(gateways N ÷ G(x), Redis S ÷ R(x)), x = 1 + ${s.toFixed(3)}·(N − 1); G: the gateways limit, R: Redis. With each room’s append on the shard that owns the room (per-room counters and streams${split ? ', which the build measured here does not have yet on a cluster' : ', as in the build measured here'}):`,
    '',
    ...table(spreadCeiling),
    '',
  ];
  if (split) {
    out.push(
      'The build measured here, on a Redis Cluster (every append on the one master holding `{shared}`; publishes spread): a cell is min(gateways, 1 ÷ (append + (R(x) − append) ÷ S)):',
      '',
      ...table(todayCeiling),
      '',
    );
  }
  const shareLine = [0, s, 0.5, 1].map((f) => `${share(f)} spanning: ${int(Math.min(gatewayCeiling(16, f), spreadCeiling(16, 3, f)))}`).join('; ');
  out.push(
    `Target (issue 25): ≥ ${int(target)} messages a second (10× the ~50,000 of the single-channel build) at 16 gateways on 3 shards. ` +
      `These figures give ${int(at16x3)} with appends spread over the shards${split ? ` and ${int(today16x3)} with the measured build’s single counter` : ''}: ` +
      (at16x3 >= target
        ? 'the target is met on paper. '
        : `the target is **not** supported. ${spreadCeiling(16, 3) < gatewayCeiling(16) ? `Redis limits it: ${us(redisUs(16))} µs per message over 3 shards is at most ${int(spreadCeiling(16, 3))} msg/s; ${int(target)} needs ≤ ${us((3 * 1e6) / target)} µs per message per shard, or ${Math.ceil((target * redisUs(16)) / 1e6)} shards at this cost.` : `The gateways limit it: ${us(gatewayUs(16))} µs per message over 16 gateways; ${int(target)} needs ${Math.ceil((target * gatewayUs(16)) / 1e6)} gateways’ cores at this cost.`} `) +
      `Redis alone, at N = 16: ${int(spreadCeiling(16, 3))} on 3 shards with appends spread, ${int(spreadCeiling(16, 16))} on 16` +
      (split
        ? `; ${int(todayCeiling(16, 3))} on 3 with the measured build’s single counter, whose master carries ${us(split.appendUs)} µs of every message however many shards there are (at most ${int(1e6 / split.appendUs)} msg/s)`
        : '') +
      `. At N = 16, S = 3 by the spanning share: ${shareLine}.`,
    '',
    'What sharing 2 cores does to each figure: every gateway and every redis-server here ran on one core (core 0) and the load generators on the other. ' +
      'CPU per message is CPU time, counted only while a process runs, so the per-message figures, and the model built on them, hold roughly; but N + 1 (one Redis) or N + 3 (cluster) processes taking turns on one core add context switches and evict each other’s caches, which grows with N and so inflates g₁ and r₁ somewhat (the ceilings err low). ' +
      'Latency and pass/fail say what one core does with everything: the gateways’ and Redis’s CPU at a rate must fit in one core together, so a case with more gateways fails sooner here although it would scale on its own cores. ' +
      'The generators on one core bound the offered rate (the cases run at fixed rates well below it); other processes on the machine share both cores, which the runs measure and repeat or flag (a busy machine makes the figures indicative only).',
  );
  return out;
}
