/**
 * The bench's reading of a gateway's `--trace-gc-nvp` lines (bench/src/gc-trace.ts), on logs the
 * bench captured on Node 20.20 (scenario 1, K = 200, 4,000 msg/s), cut down to: the main
 * thread's first collection, the WAL checkpointer worker's first, the gateway's own three lines,
 * then a window's collections (the main thread's and the worker's), then one line after it.
 * `gateway-before-fix.log` is build 71952cf, before the promotion regression was fixed;
 * `gateway-after-fix.log` the build after it.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gcEventsBetween, gcFigures, isGcLine, logMark, mainIsolate, parseGcLine } from '../src/gc-trace.js';

const fixture = (name: string): string => join(import.meta.dirname, 'fixtures', name);
const BEFORE = fixture('gateway-before-fix.log');
const AFTER = fixture('gateway-after-fix.log');
/** Lines before the window in each fixture (two collections, the gateway's three lines). */
const HEAD_LINES = 5;

const scratch = mkdtempSync(join(tmpdir(), 'gc-trace-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The fixture's lines, each with its newline. */
function linesOf(file: string): string[] {
  return readFileSync(file, 'latin1')
    .split(/(?<=\n)/)
    .filter((line) => line !== '');
}

/** The main thread's collections between the window's two marks, as the bench reads them. */
function windowOf(file: string): ReturnType<typeof gcEventsBetween> {
  const lines = linesOf(file);
  const from = lines.slice(0, HEAD_LINES).join('').length;
  const to = lines.slice(0, -1).join('').length;
  return gcEventsBetween(file, from, to).filter((e) => e.isolate === mainIsolate(file));
}

describe('parseGcLine', () => {
  it('reads a scavenge and a mark-compact: isolate, V8 time, pause, promoted bytes', () => {
    const lines = linesOf(BEFORE);
    expect(parseGcLine(lines[HEAD_LINES]!)).toEqual({ isolate: '0x2471f800', atMs: 9133, kind: 's', pauseMs: 14.5, promotedBytes: 1241160 });
    expect(parseGcLine(lines[HEAD_LINES + 5]!)).toEqual({ isolate: '0x2471f800', atMs: 10217, kind: 'mc', pauseMs: 5.8, promotedBytes: 489272 });
    expect(parseGcLine(lines[HEAD_LINES + 3]!)).toMatchObject({ isolate: '0x7f1dac000f00', kind: 'mc' });
  });

  it('leaves the gateway’s own lines and --trace-gc’s short form alone', () => {
    const own = linesOf(BEFORE).slice(2, HEAD_LINES);
    expect(own.map((line) => parseGcLine(line))).toEqual([undefined, undefined, undefined]);
    expect(own.some(isGcLine)).toBe(false);
    const short =
      '[2493:0x15434860]       78 ms: Scavenge 3.9 (4.0) -> 3.4 (5.0) MB, 8.59 / 0.00 ms  (average mu = 1.000, current mu = 1.000) allocation failure; ';
    expect(parseGcLine(short)).toBeUndefined();
  });
});

describe('mainIsolate', () => {
  it('is the isolate that printed first, though a worker prints later', () => {
    expect(mainIsolate(BEFORE)).toBe('0x2471f800');
    expect(mainIsolate(AFTER)).toBe('0x1b7e9800');
  });

  it('is undefined while the log holds no collection', () => {
    const file = join(scratch, 'quiet.log');
    writeFileSync(file, linesOf(BEFORE).slice(2, HEAD_LINES).join(''));
    expect(mainIsolate(file)).toBeUndefined();
  });
});

describe('gcEventsBetween', () => {
  it('takes the lines written between two marks of a growing log, whatever was written before and after', () => {
    const lines = linesOf(BEFORE);
    const file = join(scratch, 'growing.log');
    writeFileSync(file, lines.slice(0, HEAD_LINES).join(''));
    const from = logMark(file);
    appendFileSync(file, lines.slice(HEAD_LINES, -1).join(''));
    const to = logMark(file);
    appendFileSync(file, lines.at(-1)!);
    const events = gcEventsBetween(file, from, to);
    expect(events.map((e) => e.atMs)).toEqual([9133, 9491, 9855, 8516, 10175, 10217, 10590, 9147, 10923, 11228, 11558, 11885]);
  });

  it('gives a line cut by the first mark to the time before, one cut by the second to the window', () => {
    const lines = linesOf(BEFORE);
    const start = lines.slice(0, HEAD_LINES).join('').length;
    const end = lines.slice(0, -1).join('').length;
    const events = gcEventsBetween(BEFORE, start + 100, end + 100);
    expect(events.map((e) => e.atMs)).toEqual([9491, 9855, 8516, 10175, 10217, 10590, 9147, 10923, 11228, 11558, 11885, 12220]);
  });

  it('skips a line still being written and reads from the log’s start', () => {
    const lines = linesOf(AFTER);
    const file = join(scratch, 'cut.log');
    writeFileSync(file, lines.slice(0, 2).join('') + lines[HEAD_LINES]!.slice(0, 60));
    expect(gcEventsBetween(file, 0, logMark(file)).map((e) => e.atMs)).toEqual([119, 85]);
  });
});

describe('gcFigures', () => {
  it('shows the promotion regression in the build before the fix: 3.3 MB/s, a mark-compact, the worker’s left out', () => {
    // The window's main-thread collections span 9.1-11.9 s of V8's clock: 3 s.
    const figures = gcFigures(windowOf(BEFORE), 3);
    expect(figures).toEqual({ promotedMBps: 9833728 / 1e6 / 3, scavenges: 9, scavengeMedianMs: 8.1, scavengeMaxMs: 33.3, markCompacts: 1 });
    expect(figures.promotedMBps).toBeGreaterThan(0.5);
  });

  it('shows none after the fix: 32,000 bytes in 2.5 s, no mark-compact (the worker’s is not the main thread’s)', () => {
    const figures = gcFigures(windowOf(AFTER), 2.5);
    expect(figures).toEqual({ promotedMBps: 32000 / 1e6 / 2.5, scavenges: 7, scavengeMedianMs: 1.6, scavengeMaxMs: 2.1, markCompacts: 0 });
    expect(figures.promotedMBps).toBeLessThan(0.5);
  });

  it('gives NaN pauses, not zeros, for a window without a scavenge', () => {
    expect(gcFigures([], 4)).toEqual({ promotedMBps: 0, scavenges: 0, scavengeMedianMs: NaN, scavengeMaxMs: NaN, markCompacts: 0 });
  });
});
