import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node runs on

/** utime and stime of a process, in seconds, from /proc/<pid>/stat. */
export function processCpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after it are counted from its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLOCK_TICKS_PER_SECOND, system: Number(fields[12]) / CLOCK_TICKS_PER_SECOND };
}

/** utime + stime of a process, in seconds. */
export function processCpuSeconds(pid: number): number {
  const { user, system } = processCpuSplit(pid);
  return user + system;
}

/** A process and all its descendants (websockify forks one child per connection). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        for (const child of readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
          if (child !== '') out.push(Number(child));
        }
      } catch {
        /* the task ended meanwhile */
      }
    }
  }
  return out;
}

/** utime + stime of a process and each of its descendants, in seconds, by pid. */
export function treeCpu(pid: number): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const p of processTree(pid)) {
    try {
      cpu.set(p, processCpuSeconds(p));
    } catch {
      /* exited meanwhile */
    }
  }
  return cpu;
}

/**
 * CPU seconds a process tree used between two treeCpu() readings: processes that ended in
 * between are left out (their last figures are gone), processes born in between count whole.
 */
export function treeCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/**
 * treeCpu(pid) read again after `before`, with the processes `before` saw and the listing now
 * misses read too: /proc's children files are not reliable while the children run (proc(5)),
 * and a child left out of the second reading would drop its CPU from the delta.
 */
export function treeCpuAgain(pid: number, before: Map<number, number>): Map<number, number> {
  const cpu = treeCpu(pid);
  for (const p of before.keys()) {
    if (cpu.has(p)) continue;
    try {
      cpu.set(p, processCpuSeconds(p));
    } catch {
      /* it ended: its last figures are gone */
    }
  }
  return cpu;
}

/** Resident memory of a process in bytes, from VmRSS in /proc/<pid>/status. */
export function processRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

export interface CoreTimes {
  busy: number;
  total: number;
}

/** Busy and total jiffies per core from /proc/stat (index = core number). */
export function coreTimes(): CoreTimes[] {
  const cores: CoreTimes[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    cores[Number(m[1])] = { busy: total - idle, total };
  }
  return cores;
}

/** Fraction of each core that was busy between two coreTimes() readings. */
export function coreBusy(before: CoreTimes[], after: CoreTimes[]): number[] {
  return after.map((a, i) => {
    const b = before[i];
    if (!b || a.total === b.total) return 0;
    return (a.busy - b.busy) / (a.total - b.total);
  });
}

/** Read and write system calls of each process (syscr, syscw from /proc/<pid>/io: read, readv, recvmsg …; write, writev, sendmsg …), by pid. */
export function syscallCounts(pids: Iterable<number>): Map<number, { reads: number; writes: number }> {
  const out = new Map<number, { reads: number; writes: number }>();
  for (const pid of pids) {
    try {
      const io = readFileSync(`/proc/${pid}/io`, 'utf8');
      out.set(pid, { reads: Number(/^syscr: (\d+)/m.exec(io)?.[1]), writes: Number(/^syscw: (\d+)/m.exec(io)?.[1]) });
    } catch {
      /* exited meanwhile, or not ours to read */
    }
  }
  return out;
}

/** System calls between two syscallCounts() readings, over the processes present in both. */
export function syscallDelta(
  before: Map<number, { reads: number; writes: number }>,
  after: Map<number, { reads: number; writes: number }>,
): { reads: number; writes: number } {
  let reads = 0;
  let writes = 0;
  for (const [pid, a] of after) {
    const b = before.get(pid);
    if (b === undefined) continue;
    reads += a.reads - b.reads;
    writes += a.writes - b.writes;
  }
  return { reads, writes };
}

/** A process and its descendants, found by every process's parent in /proc/<pid>/stat (the children files can miss a running child). */
export function processTreeByParent(pid: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      childrenOf.set(ppid, [...(childrenOf.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(childrenOf.get(out[i]!) ?? []));
  return out;
}
