import { readFileSync } from 'node:fs';

/** A V8 .cpuprofile (what `node --cpu-prof` writes). */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  /** The samples summarized: [from, to] in µs of CLOCK_MONOTONIC, or the whole profile. */
  fromUs: number;
  toUs: number;
  totalMs: number;
  /** Samples that were not idle: shares below are of this. */
  busyMs: number;
  /** Share of samples outside JavaScript: idle, GC, "program" (native, the kernel's I/O). */
  categories: { name: string; selfMs: number; share: number }[];
  top: ProfileEntry[];
}

/** Where a function lives, shortened: the package or repository folder and the file. */
function place(url: string, line: number): string {
  if (url === '') return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) u = u.slice(nm + 'node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '');
  else {
    const at = u.search(/\/(apps|packages|bench)\//);
    if (at >= 0) u = u.slice(at + 1);
  }
  return `${u}:${line + 1}`;
}

function area(url: string, name: string): string {
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)') return 'native (V8, libuv, syscalls)';
  if (url.startsWith('node:')) return 'Node core (net, streams, timers)';
  if (url.includes('better-sqlite3')) return 'better-sqlite3';
  if (url.includes('/ws/')) return 'ws';
  if (url.includes('fastify') || url.includes('pino') || url.includes('avvio')) return 'fastify/pino';
  if (url.includes('packages/protocol')) return 'protocol package';
  if (url.includes('apps/gateway')) return 'gateway';
  return url === '' ? 'native (V8, libuv, syscalls)' : 'other JavaScript';
}

/**
 * Self time per function and per area, from the samples of a .cpuprofile file taken between
 * `fromUs` and `toUs`. V8 stamps samples in µs of CLOCK_MONOTONIC on Linux, the clock the
 * bench's own nowUs() reads, so a run's measured window selects its samples.
 */
export function summarizeProfile(file: string, fromUs = -Infinity, toUs = Infinity, topN = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromUs || at > toUs) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const functions = new Map<string, ProfileEntry>();
  const areas = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const name = frame.functionName || '(anonymous)';
    const where = place(frame.url, frame.lineNumber);
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, selfMs: 0, share: 0 };
    entry.selfMs += us / 1000;
    functions.set(key, entry);
    const a = area(frame.url, name);
    areas.set(a, (areas.get(a) ?? 0) + us / 1000);
  }
  const busyMs = total / 1000 - (areas.get('idle') ?? 0);
  const top = [...functions.values()]
    .filter((e) => e.name !== '(idle)')
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topN)
    .map((e) => ({ ...e, share: e.selfMs / busyMs }));
  const categories = [...areas]
    .filter(([name]) => name !== 'idle')
    .map(([name, selfMs]) => ({ name, selfMs, share: selfMs / busyMs }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return { fromUs: Math.max(fromUs, profile.startTime), toUs: Math.min(toUs, profile.endTime), totalMs: total / 1000, busyMs, categories, top };
}
