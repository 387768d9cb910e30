import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/**
 * The gateway's garbage collections over a measured window, from V8's `--trace-gc-nvp` lines in
 * its log. It guards a regression that doubled the tail (docs/benchmark.md): per-message objects
 * promoted to the old generation, 3.2-3.9 MB/s at 4,000 msg/s in a room of 200, scavenges of
 * 4-15 ms and a mark-compact every 2 s; after the fix 0.05 MB/s and none.
 *
 * `--trace-gc-nvp` prints one line per collection, the isolate's prefix then name=value pairs:
 * `[pid:isolate]   1234 ms: pause=1.8 mutator=… gc=s … promoted=52104 …` (`gc=s` a scavenge,
 * `gc=mc` a mark-compact; `promoted` the young-generation bytes moved to the old).
 */
export const GC_TRACE_FLAG = '--trace-gc-nvp';

export interface GcEvent {
  /** The isolate's address as V8 prints it: each worker thread has its own heap and its own lines. */
  isolate: string;
  /** Milliseconds since the isolate started (V8's own clock). */
  atMs: number;
  /** `s` (scavenge), `mc` (mark-compact), or another collector's name as V8 prints it. */
  kind: string;
  pauseMs: number;
  promotedBytes: number;
}

/** One window's collections of one isolate (the gateway's main thread: only its collections pause its event loop). */
export interface GcFigures {
  /** Bytes scavenges moved to the old generation, per second of the window, in MB (10⁶ bytes). */
  promotedMBps: number;
  scavenges: number;
  /** Median and longest pause of a scavenge, ms (NaN without one). */
  scavengeMedianMs: number;
  scavengeMaxMs: number;
  markCompacts: number;
}

const TRACE_LINE = /^\[\d+:(0x[0-9a-f]+)\]\s+([\d.]+) ms: pause=([\d.]+) .*?\bgc=(\w+)\b/;
const PROMOTED = /\bpromoted=(\d+)\b/;

/** The collection a `--trace-gc-nvp` line reports; undefined for any other line (the gateway's own log). */
export function parseGcLine(line: string): GcEvent | undefined {
  const m = TRACE_LINE.exec(line);
  if (m === null) return undefined;
  return { isolate: m[1]!, atMs: Number(m[2]), kind: m[4]!, pauseMs: Number(m[3]), promotedBytes: Number(PROMOTED.exec(line)?.[1] ?? 0) };
}

/** Whether a log line is a collection's trace, not the gateway's own output. */
export function isGcLine(line: string): boolean {
  return TRACE_LINE.test(line);
}

/**
 * Where the log ends now. V8 writes each line as the collection ends, so a line that starts at or
 * after this mark is a collection that ended later: two marks bound a window.
 */
export function logMark(file: string): number {
  return statSync(file).size;
}

/**
 * The collections whose lines start in [from, to) of the log. A line cut by `from` ended before
 * the window (its rest is no trace line); one cut by `to` ended in it, and is whole by the time
 * it is read.
 */
export function gcEventsBetween(file: string, from: number, to: number): GcEvent[] {
  const fd = openSync(file, 'r');
  let text: string;
  try {
    const buffer = Buffer.alloc(Math.max(0, fstatSync(fd).size - from));
    text = buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, from));
  } finally {
    closeSync(fd);
  }
  const events: GcEvent[] = [];
  for (let lineStart = 0; from + lineStart < to;) {
    const newline = text.indexOf('\n', lineStart);
    if (newline < 0) break;
    const event = parseGcLine(text.slice(lineStart, newline));
    if (event) events.push(event);
    lineStart = newline + 1;
  }
  return events;
}

/**
 * The main thread's isolate: the first to print. It loads the gateway's modules, which takes
 * scavenges, before the gateway starts any worker (the history's WAL checkpointer, whose idle
 * heap V8 shrinks with mark-compacts of its own).
 */
export function mainIsolate(file: string): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    let text = '';
    for (let position = 0; ;) {
      const length = readSync(fd, buffer, 0, buffer.length, position);
      if (length === 0) return undefined;
      position += length;
      text += buffer.toString('latin1', 0, length);
      const lines = text.split('\n');
      text = lines.pop()!;
      for (const line of lines) {
        const event = parseGcLine(line);
        if (event) return event.isolate;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** A window's figures from one isolate's collections and the window's length. */
export function gcFigures(events: GcEvent[], seconds: number): GcFigures {
  const scavenges = events.filter((e) => e.kind === 's');
  const promoted = scavenges.reduce((a, e) => a + e.promotedBytes, 0);
  return {
    promotedMBps: promoted / 1e6 / seconds,
    scavenges: scavenges.length,
    scavengeMedianMs: medianOf(scavenges.map((e) => e.pauseMs)),
    scavengeMaxMs: scavenges.length > 0 ? Math.max(...scavenges.map((e) => e.pauseMs)) : NaN,
    markCompacts: events.filter((e) => e.kind === 'mc').length,
  };
}

function medianOf(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
