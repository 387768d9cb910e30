import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SettingsFile } from './settings-file.js';

export type Direction = 'in' | 'out';

export interface TrafficEntry {
  /** Milliseconds since the epoch. */
  ts: number;
  direction: Direction;
  /** How many bytes passed; `bytes` keeps the first ENTRY_BYTES of them. */
  length: number;
  bytes: Uint8Array;
  /** Written by an auto-reply rule. */
  auto?: true;
}

/** The most of one read or write a log entry keeps: a 100 MB stream costs the log its cap, no more. */
export const ENTRY_BYTES = 4096;
const SAVE_EVERY_MS = 5_000;

interface StoredEntry {
  ts: number;
  direction: Direction;
  length: number;
  bytes: string;
  auto?: true;
}

interface StoredLog {
  key: string;
  entries: StoredEntry[];
}

/**
 * Each device's recent traffic, as it passed its socket: bounded per device (`entriesPerDevice`
 * entries of at most ENTRY_BYTES each), so a console opened later shows what happened before
 * it. Keyed by what outlives a connection: an outbound link's id, or a listener and the
 * device's address. Saved to <data-dir>/traffic.json every few seconds while it changes and at
 * shutdown, and read back at start.
 *
 * Saving costs the hot path little: each entry is turned into JSON once in its life (cached),
 * a log that did not change since the last save reuses its JSON whole, and the file is written
 * by the thread pool (temporary file, then rename), not on the event loop.
 */
export class TrafficLog {
  readonly #logs = new Map<string, TrafficEntry[]>();
  readonly #path: string | null;
  readonly #timer: NodeJS.Timeout;
  /** Each entry's JSON, made at its first save. */
  readonly #entryJson = new WeakMap<TrafficEntry, string>();
  /** Each log's JSON as last saved, while it has not changed. */
  readonly #logJson = new Map<string, string>();
  #dirty = false;
  #writing = false;
  #closed = false;
  /** The last save that failed (a full disk, say): tried again at the next interval. */
  lastSaveError: string | null = null;

  constructor(
    dataDir: string | null,
    readonly entriesPerDevice: number,
  ) {
    this.#path = dataDir === null ? null : join(dataDir, 'traffic.json');
    for (const log of new SettingsFile<StoredLog>(this.#path).read()) {
      this.#logs.set(
        log.key,
        log.entries.slice(-entriesPerDevice).map((e) => ({ ...e, bytes: Buffer.from(e.bytes, 'base64') })),
      );
    }
    this.#timer = setInterval(() => void this.save(), SAVE_EVERY_MS);
    this.#timer.unref();
  }

  record(key: string, direction: Direction, bytes: Uint8Array, auto = false): void {
    if (this.entriesPerDevice === 0) return;
    this.append(key, trafficEntry(direction, bytes, auto));
  }

  /** An entry made earlier (a plain device's reads, held until the hub decided what it is). */
  append(key: string, entry: TrafficEntry): void {
    if (this.entriesPerDevice === 0) return;
    let log = this.#logs.get(key);
    if (log === undefined) this.#logs.set(key, (log = []));
    log.push(entry);
    // Trimmed in steps, not on every entry: amortised O(1) per record.
    if (log.length > this.entriesPerDevice * 1.25) log.splice(0, log.length - this.entriesPerDevice);
    this.#logJson.delete(key);
    this.#dirty = true;
  }

  /** The newest `limit` entries, oldest first. */
  entries(key: string, limit = this.entriesPerDevice): TrafficEntry[] {
    const log = this.#logs.get(key) ?? [];
    return log.slice(-Math.min(limit, this.entriesPerDevice));
  }

  /** Writes the logs if they changed, off the event loop; resolves when the file is in place. */
  async save(): Promise<void> {
    if (!this.#dirty || this.#writing || this.#closed || this.#path === null) return;
    const text = this.#serialize();
    const temporary = `${this.#path}.tmp`;
    this.#writing = true;
    try {
      await mkdir(dirname(this.#path), { recursive: true });
      await writeFile(temporary, text);
      // close() wrote the final state meanwhile: this older one must not replace it.
      if (this.#closed) await rm(temporary, { force: true });
      else await rename(temporary, this.#path);
      this.lastSaveError = null;
    } catch (error) {
      this.#dirty = true;
      this.lastSaveError = (error as Error).message;
    } finally {
      this.#writing = false;
    }
  }

  /** At shutdown: the last state, written before close() returns. */
  close(): void {
    clearInterval(this.#timer);
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#dirty || this.#path === null) return;
    mkdirSync(dirname(this.#path), { recursive: true });
    const temporary = `${this.#path}.closing`;
    writeFileSync(temporary, this.#serialize());
    renameSync(temporary, this.#path);
  }

  /** The file's text; clears the dirty mark (a save that fails sets it again). */
  #serialize(): string {
    this.#dirty = false;
    const parts: string[] = [];
    for (const [key, log] of this.#logs) {
      let json = this.#logJson.get(key);
      if (json === undefined) {
        const entries = log.length > this.entriesPerDevice ? log.slice(-this.entriesPerDevice) : log;
        json = `{"key":${JSON.stringify(key)},"entries":[${entries.map((e) => this.#json(e)).join(',')}]}`;
        this.#logJson.set(key, json);
      }
      parts.push(json);
    }
    return `[${parts.join(',\n')}]\n`;
  }

  #json(entry: TrafficEntry): string {
    let json = this.#entryJson.get(entry);
    if (json === undefined) {
      const stored: StoredEntry = { ts: entry.ts, direction: entry.direction, length: entry.length, bytes: Buffer.from(entry.bytes).toString('base64') };
      if (entry.auto) stored.auto = true;
      json = JSON.stringify(stored);
      this.#entryJson.set(entry, json);
    }
    return json;
  }
}

/** An entry for bytes that pass now: a copy of at most ENTRY_BYTES of them (the caller may reuse its buffer). */
export function trafficEntry(direction: Direction, bytes: Uint8Array, auto = false): TrafficEntry {
  const entry: TrafficEntry = { ts: Date.now(), direction, length: bytes.length, bytes: bytes.slice(0, ENTRY_BYTES) };
  if (auto) entry.auto = true;
  return entry;
}

/** One entry as the API shows it: hex, and the bytes read as text where printable. */
export function describeEntry(entry: TrafficEntry): { ts: number; time: string; direction: Direction; length: number; hex: string; text: string; auto: boolean } {
  const bytes = entry.bytes;
  return {
    ts: entry.ts,
    time: new Date(entry.ts).toISOString(),
    direction: entry.direction,
    length: entry.length,
    hex: Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1 '),
    text: Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(''),
    auto: entry.auto === true,
  };
}

const csvField = (value: string | number | boolean): string => {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/** CSV with a header: time, direction, length, hex, text, auto. */
export function trafficCsv(entries: readonly TrafficEntry[]): string {
  const rows = entries.map(describeEntry).map((e) => [e.time, e.direction, e.length, e.hex, e.text, e.auto].map(csvField).join(','));
  return ['time,direction,length,hex,text,auto', ...rows].join('\r\n') + '\r\n';
}

/** One line per entry, like a terminal tool's log. */
export function trafficText(entries: readonly TrafficEntry[]): string {
  return entries
    .map(describeEntry)
    .map((e) => `${e.time} ${e.direction === 'in' ? '<-' : '->'} ${String(e.length).padStart(5)}${e.auto ? ' auto' : ''}  ${e.hex}  |${e.text}|`)
    .join('\n') + '\n';
}
