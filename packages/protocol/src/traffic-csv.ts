/**
 * A device's traffic log as CSV: the gateway's `GET /api/clients/:id/traffic?format=csv` and the
 * page's export write it with this one function, so the two files are the same bytes.
 */

/** One entry of a traffic log: bytes that crossed a device's socket, or an event of its connection (left out). */
export interface TrafficCsvEntry {
  /** Milliseconds since the epoch. */
  readonly ts: number;
  readonly direction: 'in' | 'out' | 'event';
  /** Bytes that passed; `bytes` may hold fewer (the gateway keeps the first 4 KiB of each). */
  readonly length: number;
  readonly bytes: Uint8Array;
  /** Written by an auto-reply rule. */
  readonly auto: boolean;
}

export const TRAFFIC_CSV_HEADER = 'time,direction,length,hex,text,auto';

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(value: string | number | boolean): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * CSV with the header `time,direction,length,hex,text,auto`: ISO 8601 time with milliseconds,
 * `in` or `out`, the byte count, spaced lower-case hex, printable ASCII with `.` for other
 * bytes, and whether an auto-reply wrote it. Events are left out (they are in the JSON). CRLF
 * line ends, as RFC 4180 has them.
 */
export function trafficCsv(entries: Iterable<TrafficCsvEntry>): string {
  let csv = TRAFFIC_CSV_HEADER + '\r\n';
  for (const entry of entries) {
    if (entry.direction === 'event') continue;
    const hex = Array.from(entry.bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = Array.from(entry.bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    csv += [new Date(entry.ts).toISOString(), entry.direction, entry.length, hex, text, entry.auto].map(csvField).join(',') + '\r\n';
  }
  return csv;
}
