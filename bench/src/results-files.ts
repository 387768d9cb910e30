import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BridgePath, BridgeSettings } from './bridge.js';
import type { CaseResult, PointResult, SPREAD, Timing } from './fanout.js';
import type { CrowdResult } from './crowd.js';
import type { IdleResult } from './idle.js';
import type { MachineInfo } from './machine.js';
import type { ProfileSummary } from './cpu-profile.js';
import type { PipePath, PipeProfile, PipeRoomSide } from './pipe.js';

/** What one scenario leaves in results/: enough to rebuild RESULTS.md without re-running. */
export interface ScenarioFile<T> {
  scenario: number;
  title: string;
  /** The invocation that produced it (ISO time of its start); ratios across files say so. */
  runId: string;
  quick: boolean;
  machine: MachineInfo;
  settings: Record<string, unknown>;
  data: T;
  /** Every invocation of this scenario in one `--invocations N` run, oldest first (`data` is the last one's). */
  invocations?: { runId: string; data: T }[];
}

export interface FanoutData {
  timing: Timing;
  cases: CaseResult[];
  profile?: {
    rate: number;
    members: number;
    label: string;
    summary: ProfileSummary;
    file: string;
    /** The profiled run's server CPU (share of a core, from /proc) and verdict. */
    serverCpu?: number;
    pass?: boolean;
  };
}

export interface EfficiencyData {
  /** The first rate (older files had only one). */
  rate: number;
  /** Every offered rate measured (issue 15: 1,000 and 4,000 msg/s at least). */
  rates?: number[];
  /** The first room size; `memberCounts`, every one measured (--efficiency-members; older files: `members` alone). */
  members: number;
  memberCounts?: number[];
  rateChosenBy: string;
  /** Who held the receiving members: `c`, the C receiver (bench/c/receiver.c); `node` (or absent, older files), the Node load generator. */
  generator?: 'c' | 'node';
  /** One per system and rate; `burn`: measured with a spinning process beside the generators on their core. */
  points: { label: string; system: string; id?: string; rate?: number; burn?: boolean; point: PointResult }[];
}

export interface BridgeData {
  settings: BridgeSettings;
  paths: BridgePath[];
  /** Where the gateway's time goes on the bridge path (node --cpu-prof, one run). */
  profile?: { summary: ProfileSummary; file: string; serverCpu: number; messagesPerSecond: number };
}

export interface PipeData {
  settings: BridgeSettings;
  /** `switchboard-pipe` and `websockify` (the corked client), and both with `-per-message` (newer files), in front of one echo server. */
  paths: PipePath[];
  /** What the room made of the echo's bytes (raw framing: chat messages stored in history), the corked run's. */
  room: PipeRoomSide;
  /** The same, the per-message run's. */
  roomPerMessage?: PipeRoomSide;
  /** Where the gateway's time goes on the pipe path (node --cpu-prof, one run), the corked client. */
  profile?: PipeProfile;
  /** The same with the client writing each message on its own. */
  profilePerMessage?: PipeProfile;
}

/** Scenario 8: one gateway, one gateway on Redis, two gateways on one Redis; the same room and ladder. */
export interface ClusterData {
  timing: Timing;
  cases: CaseResult[];
  /** How Redis ran (its flags) and where everything was pinned. */
  redisFlags: string[];
  pinning: string;
}

/** Scenario 8, rooms spread over gateways (fanout.ts SPREAD): one Redis and a Redis Cluster, fixed rates. */
export interface SpreadData {
  timing: Timing;
  cases: CaseResult[];
  rates: number[];
  layout: typeof SPREAD;
  redisFlags: string[];
  /** Masters of the Redis Cluster (no replicas; the gateways run with --redis-wait-replicas 0). */
  clusterMasters: number;
  pinning: string;
}

export interface IdleData {
  results: IdleResult[];
}

export interface CodecFigure {
  name: string;
  what: string;
  frameBytes: number;
  framesPerSecond: number;
  megabytesPerSecond: number;
  runs: number[];
}

export interface CodecData {
  figures: CodecFigure[];
  zeroCopy: { frames: number; views: number; copies: number; pass: boolean };
}

export interface AllResults {
  fanoutTcp?: ScenarioFile<FanoutData>;
  fanoutMixed?: ScenarioFile<FanoutData>;
  efficiency?: ScenarioFile<EfficiencyData>;
  bridge?: ScenarioFile<BridgeData>;
  idle?: ScenarioFile<IdleData>;
  codec?: ScenarioFile<CodecData>;
  pipe?: ScenarioFile<PipeData>;
  crowd?: ScenarioFile<CrowdResult>;
  cluster?: ScenarioFile<ClusterData>;
  clusterSpread?: ScenarioFile<SpreadData>;
  manyRooms?: ScenarioFile<FanoutData>;
  privatePairs?: ScenarioFile<FanoutData>;
  lineDevices?: ScenarioFile<FanoutData>;
}

export const FILES = {
  crowd: 'scenario-12-crowd.json',
  fanoutTcp: 'scenario-1-fanout-tcp.json',
  fanoutMixed: 'scenario-2-fanout-mixed.json',
  efficiency: 'scenario-3-efficiency.json',
  bridge: 'scenario-4-bridge.json',
  idle: 'scenario-5-idle.json',
  codec: 'scenario-6-codec.json',
  pipe: 'scenario-7-pipe.json',
  cluster: 'scenario-8-cluster.json',
  clusterSpread: 'scenario-8-spread.json',
  manyRooms: 'scenario-9-many-rooms.json',
  privatePairs: 'scenario-10-private.json',
  lineDevices: 'scenario-11-line-devices.json',
} as const satisfies Record<keyof AllResults, string>;

/**
 * A run with --case measures some of a scenario's cases: the cases it did not run are kept from
 * the file already there, each marked with the invocation it comes from (CaseResult.runId), so a
 * peer's row is not lost and is never shown as if measured in this run. In the old file's order,
 * the cases run now in their places, new ones after.
 */
export function mergeCases(resultsDir: string, key: keyof AllResults, file: ScenarioFile<unknown>): ScenarioFile<unknown> {
  const data = file.data as { cases?: CaseResult[] };
  const path = join(resultsDir, FILES[key]);
  if (!Array.isArray(data.cases) || !existsSync(path)) return file;
  const before = JSON.parse(readFileSync(path, 'utf8')) as ScenarioFile<{ cases?: CaseResult[] }>;
  if (!Array.isArray(before.data.cases)) return file;
  const now = new Map(data.cases.map((c) => [c.case.id, c]));
  const cases = before.data.cases.map((old) => now.get(old.case.id) ?? { ...old, runId: old.runId ?? before.runId });
  const kept = new Set(before.data.cases.map((c) => c.case.id));
  cases.push(...data.cases.filter((c) => !kept.has(c.case.id)));
  return { ...file, data: { ...data, cases } };
}

export function writeScenario(resultsDir: string, key: keyof AllResults, file: ScenarioFile<unknown>): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, FILES[key]), JSON.stringify(file, null, 2) + '\n');
}

export function readAll(resultsDir: string): AllResults {
  const all: AllResults = {};
  if (!existsSync(resultsDir)) return all;
  const present = new Set(readdirSync(resultsDir));
  for (const [key, name] of Object.entries(FILES) as [keyof AllResults, string][]) {
    if (present.has(name)) (all as Record<string, unknown>)[key] = JSON.parse(readFileSync(join(resultsDir, name), 'utf8'));
  }
  return all;
}
