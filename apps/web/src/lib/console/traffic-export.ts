// The traffic log as files, made in the page from the entries it shows, so what is exported is
// what was seen (this page's own sends and anything older than the gateway's cap included).
import { trafficCsv } from '@switchboard/protocol';
import { itemHex, textReading, type TrafficItem } from './traffic-item.js';

export type ExportFormat = 'text' | 'csv' | 'jsonl';

export const EXPORT_TYPES: Record<ExportFormat, { mime: string; extension: string; label: string }> = {
  text: { mime: 'text/plain;charset=utf-8', extension: 'txt', label: 'Text' },
  csv: { mime: 'text/csv;charset=utf-8', extension: 'csv', label: 'CSV' },
  jsonl: { mime: 'application/jsonl;charset=utf-8', extension: 'jsonl', label: 'JSON Lines' },
};

/** The entries that are bytes (a connection's events are in the log, not in the byte exports). */
function bytesOnly(items: readonly TrafficItem[]): readonly TrafficItem[] {
  return items.filter((item) => item.direction !== 'event');
}

/** CSV with the header `time,direction,length,hex,text,auto`: the gateway's own export's function (@switchboard/protocol), so the bytes are the same. */
export { trafficCsv };

/** One JSON object a line: time, ts, direction, length, hex, text (with escapes), auto. */
export function trafficJsonLines(items: readonly TrafficItem[]): string {
  return bytesOnly(items)
    .map((item) =>
      JSON.stringify({
        time: new Date(item.ts).toISOString(),
        ts: item.ts,
        direction: item.direction,
        length: item.length,
        hex: itemHex(item),
        text: textReading(item.bytes),
        auto: item.auto,
      }),
    )
    .map((line) => line + '\n')
    .join('');
}

/** A terminal tool's log: time, arrow, length, the hex, then the bytes as text with escapes. */
export function trafficText(items: readonly TrafficItem[]): string {
  return bytesOnly(items)
    .map((item) => {
      const arrow = item.direction === 'in' ? '<-' : '->';
      const auto = item.auto ? ' auto' : '';
      const cut = item.bytes.length < item.length ? ` (first ${item.bytes.length} bytes)` : '';
      return `${new Date(item.ts).toISOString()} ${arrow} ${String(item.length).padStart(5)}${auto}${cut}  ${itemHex(item)}  |${textReading(item.bytes)}|\n`;
    })
    .join('');
}

export function exportTraffic(format: ExportFormat, items: readonly TrafficItem[]): string {
  return format === 'csv' ? trafficCsv(items) : format === 'jsonl' ? trafficJsonLines(items) : trafficText(items);
}

/** `switchboard-<device>-<UTC time>.csv`, with what a file name should not hold replaced. */
export function exportFileName(device: string, format: ExportFormat, now = new Date()): string {
  const safe = device.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '') || 'device';
  const stamp = now
    .toISOString()
    .replace(/[:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `switchboard-${safe}-${stamp}.${EXPORT_TYPES[format].extension}`;
}
