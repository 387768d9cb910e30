// One entry of a device console's traffic log, and how it reads on screen: a hex dump with
// offsets and an ASCII column, or text with the bytes a reader cannot see shown as escapes.
import type { TrafficEntry } from '@switchboard/gateway/api-types';
import { formatHex, parseHex, printableAscii } from '../byte-text.js';

/** Bytes in or out, or an event of the connection (connected, dialing, backoff…: its text in `bytes`). */
export type Direction = 'in' | 'out' | 'event';

export interface TrafficItem {
  /** The gateway's number for it: the log's order. */
  readonly seq: number;
  /** Milliseconds since the epoch. */
  readonly ts: number;
  readonly direction: Direction;
  /** Bytes that passed; `bytes` may hold fewer (the gateway keeps the first 4 KiB of each). */
  readonly length: number;
  readonly bytes: Uint8Array;
  /** Written by an auto-reply rule. */
  readonly auto: boolean;
  /** Filled in lazily by the views (text segments and their wrapping). */
  cache?: { segments?: Segment[]; cols?: number; textLines?: number; hex?: string; lower?: string };
}

const encoder = new TextEncoder();

/** An entry of the REST log as an item (an event's text as its bytes). */
export function itemFromEntry(entry: TrafficEntry): TrafficItem {
  const bytes = entry.direction === 'event' ? encoder.encode(entry.text) : parseHex(entry.hex);
  return { seq: entry.seq, ts: entry.ts, direction: entry.direction, length: entry.length, bytes, auto: entry.auto };
}

/** `00 01 02 ff`, computed once per item (filters, exports and the pipe reconciliation all ask). */
export function itemHex(item: TrafficItem): string {
  item.cache ??= {};
  return (item.cache.hex ??= formatHex(item.bytes));
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `HH:MM:SS.mmm` in the browser's time zone. */
export function formatTimeMs(ts: number): string {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export const DUMP_WIDTH = 16;

export interface DumpRow {
  /** `0000`, `0010`, … (the gateway keeps at most 4 KiB an entry: four digits suffice up to 64 KiB). */
  offset: string;
  /** The row's hex, padded to a full row so the ASCII column lines up. */
  hex: string;
  ascii: string;
}

/** A row's hex with an extra space after its 8th byte, as `hexdump -C` and Wireshark set it. */
function rowHex(slice: Uint8Array): string {
  return slice.length <= 8 ? formatHex(slice) : `${formatHex(slice.subarray(0, 8))}  ${formatHex(slice.subarray(8))}`;
}

/** A `hexdump -C`-like dump, 16 bytes a row. No bytes: one empty row. */
export function dumpRows(bytes: Uint8Array, width = DUMP_WIDTH): DumpRow[] {
  const rows: DumpRow[] = [];
  const digits = bytes.length > 0xffff ? 8 : 4;
  const full = width * 3;
  for (let at = 0; at < bytes.length || (at === 0 && rows.length === 0); at += width) {
    const slice = bytes.subarray(at, at + width);
    rows.push({ offset: at.toString(16).padStart(digits, '0'), hex: rowHex(slice).padEnd(full, ' '), ascii: printableAscii(slice) });
    if (bytes.length === 0) break;
  }
  return rows;
}

export function dumpLineCount(bytes: Uint8Array, width = DUMP_WIDTH): number {
  return Math.max(1, Math.ceil(bytes.length / width));
}

/** A run of text as shown: literal characters, or one escape (`\r`, `\x02`) drawn apart. */
export interface Segment {
  text: string;
  escape: boolean;
}

const NAMED: Record<number, string> = { 0x00: '\\0', 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r', 0x5c: '\\\\' };

/** Length of the UTF-8 sequence at `at`, or 0 when the bytes there are not one. */
function utf8Length(bytes: Uint8Array, at: number): number {
  const b = bytes[at]!;
  const need = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (need === 0 || at + need > bytes.length) return 0;
  for (let i = 1; i < need; i++) if ((bytes[at + i]! & 0xc0) !== 0x80) return 0;
  // Overlong, surrogate and past-U+10FFFF forms are not text either.
  const b1 = bytes[at + 1]!;
  if (need === 3 && ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 >= 0xa0))) return 0;
  if (need === 4 && ((b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 >= 0x90))) return 0;
  return need;
}

const utf8 = new TextDecoder();

/**
 * The bytes as text: printable ASCII and valid UTF-8 as they are, everything else as escapes
 * (`\r`, `\n`, `\t`, `\0`, `\\`, `\xNN`), the same spelling the send box reads.
 */
export function textSegments(bytes: Uint8Array): Segment[] {
  const segments: Segment[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal !== '') segments.push({ text: literal, escape: false });
    literal = '';
  };
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    if (b >= 0x20 && b < 0x7f && b !== 0x5c) {
      literal += String.fromCharCode(b);
      i++;
      continue;
    }
    const len = b >= 0x80 ? utf8Length(bytes, i) : 0;
    if (len > 0) {
      literal += utf8.decode(bytes.subarray(i, i + len));
      i += len;
      continue;
    }
    flush();
    segments.push({ text: NAMED[b] ?? `\\x${b.toString(16).padStart(2, '0')}`, escape: true });
    i++;
  }
  flush();
  return segments;
}

/** The text reading of the bytes as one string, escapes included. */
export function textReading(bytes: Uint8Array): string {
  return textSegments(bytes)
    .map((s) => s.text)
    .join('');
}

/**
 * Segments cut into lines of at most `cols` characters (code points). A literal run may break
 * anywhere; an escape is never split. A line break byte (`\n`) also ends its line, as a terminal
 * would, so line-based protocols read line by line. At least one (empty) line.
 */
export function wrapSegments(segments: readonly Segment[], cols: number): Segment[][] {
  const width = Math.max(4, Math.floor(cols));
  const lines: Segment[][] = [[]];
  let used = 0;
  const push = (segment: Segment, size: number): void => {
    lines.at(-1)!.push(segment);
    used += size;
  };
  const newLine = (): void => {
    lines.push([]);
    used = 0;
  };
  for (const segment of segments) {
    if (segment.escape) {
      if (used + segment.text.length > width && used > 0) newLine();
      push(segment, segment.text.length);
      if (segment.text === '\\n') newLine();
      continue;
    }
    let chars = Array.from(segment.text);
    while (chars.length > 0) {
      if (used >= width) newLine();
      const room = width - used;
      const piece = chars.slice(0, room);
      chars = chars.slice(room);
      push({ text: piece.join(''), escape: false }, piece.length);
    }
  }
  if (lines.length > 1 && lines.at(-1)!.length === 0) lines.pop();
  return lines;
}

/** How many lines an item takes in text mode at `cols` characters, cached on the item. */
export function textLineCount(item: TrafficItem, cols: number): number {
  item.cache ??= {};
  const cache = item.cache;
  if (cache.cols !== cols || cache.textLines === undefined) {
    cache.segments ??= textSegments(item.bytes);
    cache.textLines = wrapSegments(cache.segments, cols).length;
    cache.cols = cols;
  }
  return cache.textLines;
}

export function itemSegments(item: TrafficItem): Segment[] {
  item.cache ??= {};
  return (item.cache.segments ??= textSegments(item.bytes));
}

/** The text reading in lower case, for the filter. */
export function itemTextLower(item: TrafficItem): string {
  item.cache ??= {};
  return (item.cache.lower ??= itemSegments(item)
    .map((s) => s.text)
    .join('')
    .toLowerCase());
}
