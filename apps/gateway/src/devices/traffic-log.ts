import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { trafficCsv as sharedTrafficCsv } from '@switchboard/protocol';
import { SettingsFile } from './settings-file.js';
import { ENTRY_BYTES, ENTRY_HEAD, TrafficRing, type Direction, type TrafficEntry } from './traffic-ring.js';

export { ENTRY_BYTES, type Direction, type TrafficEntry } from './traffic-ring.js';

const SAVE_EVERY_MS = 5_000;
/** A save heads about this many entries, then writes them before it heads the next devices. */
const ENTRIES_PER_SLICE = 1_000;
/** The most buffers a save hands one write (a system's IOV_MAX is commonly 1,024). */
export const WRITE_BUFFERS = 1_024;

/** The JSON file of earlier versions: read once if there is no traffic.bin yet. */
interface StoredLog {
  key: string;
  entries: { ts: number; direction: Direction; length: number; bytes: string; auto?: true }[];
}

/**
 * traffic.bin: "SBTRAFFIC2\n", then per log a key record and its entries (integers big-endian).
 * Key record: u16 key length, key (UTF-8), u32 entry count, f64 the first entry's sequence
 * number; then the entries (ENTRY_HEAD, see traffic-ring.ts). "SBTRAFFIC1\n" files (no sequence
 * number) are read too.
 */
const MAGIC = Buffer.from('SBTRAFFIC2\n');
const MAGIC_V1 = Buffer.from('SBTRAFFIC1\n');
/** Connections of one device (a listener and an address) whose logs are kept: older ones go. */
const LOGS_PER_DEVICE = 8;

/**
 * Each device's recent traffic, as it passed its socket: bounded per device (`entriesPerDevice`
 * entries of at most ENTRY_BYTES each), so a console opened later shows what happened before
 * it. Keyed by what outlives a connection: an outbound link's id, or a listener and the
 * device's address. Saved to <data-dir>/traffic.bin every few seconds while it changes and at
 * shutdown, and read back at start.
 *
 * Saving costs the event loop little: the file is the entries' bytes behind a few bytes of
 * header each (no base64, no JSON), one buffer per device, built a slice of devices at a time
 * and handed to the thread pool slice by slice, in gathered writes (temporary file, then rename).
 */
export class TrafficLog {
  readonly #logs = new Map<string, TrafficRing>();
  /** A listener device's connection logs, by the device (listener and address), oldest first. */
  readonly #connections = new Map<string, string[]>();
  readonly #path: string | null;
  readonly #timer: NodeJS.Timeout;
  #dirty = false;
  #writing = false;
  #closed = false;
  #oldJson: string | undefined;
  /** The last save that failed (a full disk, say): tried again at the next interval. */
  lastSaveError: string | null = null;

  constructor(
    dataDir: string | null,
    readonly entriesPerDevice: number,
  ) {
    this.#path = dataDir === null ? null : join(dataDir, 'traffic.bin');
    if (dataDir !== null) {
      let logs = readTrafficFile(this.#path!);
      if (logs === undefined) {
        // Written by an earlier version: read once, removed after the first save.
        this.#oldJson = join(dataDir, 'traffic.json');
        logs = readJsonFile(this.#oldJson);
      }
      for (const [key, entries, firstSeq] of logs) {
        const kept = entries.slice(-entriesPerDevice);
        if (entriesPerDevice > 0) this.#logs.set(key, new TrafficRing(entriesPerDevice, firstSeq + entries.length - kept.length));
        for (const entry of kept) this.append(key, entry);
        const device = deviceOfConnection(key);
        if (device !== undefined) this.#connectionsOf(device).push(key);
      }
      this.#dirty = false;
    }
    this.#timer = setInterval(() => void this.save(), SAVE_EVERY_MS);
    this.#timer.unref();
  }

  /** `shared`: bytes nobody changes (the same buffer went to other devices), kept by reference (TrafficRing.push). */
  record(key: string, direction: Direction, bytes: Uint8Array, auto = false, shared = false): void {
    if (this.entriesPerDevice === 0) return;
    this.#log(key).push(Date.now(), direction, bytes, bytes.length, auto, false, shared);
    this.#dirty = true;
  }

  /** What happened to the connection (connected, disconnected, dialing, backoff), in its log between its bytes. */
  event(key: string, text: string): void {
    if (this.entriesPerDevice === 0) return;
    const bytes = Buffer.from(text);
    this.#log(key).push(Date.now(), 'in', bytes, bytes.length, false, true);
    this.#dirty = true;
  }

  /**
   * A new connection of a listener's device gets a log of its own (`key` from connectionKey); of
   * one device's connections the newest LOGS_PER_DEVICE keep theirs, so a device that reconnects
   * all day costs a bounded log.
   */
  open(key: string): void {
    const device = deviceOfConnection(key);
    if (device === undefined) return;
    const keys = this.#connectionsOf(device);
    if (!keys.includes(key)) keys.push(key);
    while (keys.length > LOGS_PER_DEVICE) {
      this.#logs.delete(keys.shift()!);
      this.#dirty = true;
    }
  }

  /** An entry made earlier (a plain device's reads, held until the hub decided what it is). */
  append(key: string, entry: TrafficEntry): void {
    if (this.entriesPerDevice === 0) return;
    this.#log(key).push(entry.ts, entry.direction, entry.bytes, entry.length, entry.auto === true, entry.event === true);
    this.#dirty = true;
  }

  /**
   * The newest `limit` entries, oldest first; with `after` (a sequence number), the oldest `limit`
   * entries after it: a console follows the log with it, in the gateway's order.
   */
  entries(key: string, limit = this.entriesPerDevice, after?: number): TrafficEntry[] {
    return this.#logs.get(key)?.entries(Math.min(limit, this.entriesPerDevice), after) ?? [];
  }

  /** The sequence number the log's next entry gets (0 for a log with none yet). */
  nextSeq(key: string): number {
    return this.#logs.get(key)?.nextSeq ?? 0;
  }

  #connectionsOf(device: string): string[] {
    let keys = this.#connections.get(device);
    if (keys === undefined) this.#connections.set(device, (keys = []));
    return keys;
  }

  #log(key: string): TrafficRing {
    let log = this.#logs.get(key);
    if (log === undefined) this.#logs.set(key, (log = new TrafficRing(this.entriesPerDevice)));
    return log;
  }

  /** Writes the logs if they changed, off the event loop; resolves when the file is in place. */
  async save(): Promise<void> {
    if (!this.#dirty || this.#writing || this.#closed || this.#path === null) return;
    const temporary = `${this.#path}.tmp`;
    this.#writing = true;
    try {
      await mkdir(dirname(this.#path), { recursive: true });
      const file = await open(temporary, 'w');
      try {
        await this.#writeInSlices(file);
      } finally {
        await file.close();
      }
      // close() wrote the final state meanwhile: this older one must not replace it.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await
      if (this.#closed) await rm(temporary, { force: true });
      else await rename(temporary, this.#path);
      if (this.#oldJson !== undefined) await rm(this.#oldJson, { force: true });
      this.#oldJson = undefined;
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
    writeFileSync(temporary, Buffer.concat(this.#serialize()));
    renameSync(temporary, this.#path);
  }

  /**
   * #serialize, a slice of devices at a time, each slice written before the next is headed: a
   * gateway with hundreds of busy devices holds hundreds of thousands of entries, and heading
   * them all in one go stalled everyone's traffic (200 devices of 1,000 entries: 94 ms each
   * save; in slices, 8 ms at most). Written in pieces of at most WRITE_BUFFERS buffers: handing
   * a write buffers is work on the event loop, per buffer, and the whole file in one gathered
   * write (two buffers per shared entry: 200 line devices, some 250,000) held it for 60-160 ms
   * every save, the p99 of a busy line listener.
   */
  async #writeInSlices(file: FileHandle): Promise<void> {
    this.#dirty = false;
    let out: Uint8Array[] = [MAGIC];
    let headed = 0;
    // A snapshot of which logs there are; a device that goes meanwhile is still written as it was.
    for (const [key, log] of [...this.#logs]) {
      headed += this.#serializeLog(key, log, out);
      if (headed >= ENTRIES_PER_SLICE) {
        headed = 0;
        await writeAll(file, out);
        out = [];
        if (this.#closed) return; // close() writes the whole file itself
      }
    }
    await writeAll(file, out);
  }

  /** The file as buffers for one gathered write: small headers, and each entry's own bytes; clears the dirty mark. */
  #serialize(): Uint8Array[] {
    this.#dirty = false;
    const out: Uint8Array[] = [MAGIC];
    for (const [key, log] of this.#logs) this.#serializeLog(key, log, out);
    return out;
  }

  /**
   * One device's key record and entries onto `out`: one buffer, with the bytes kept by reference
   * in between as they are (few buffers and no copy of a room's lines make a cheap gathered
   * write); how many entries.
   */
  #serializeLog(key: string, log: TrafficRing, out: Uint8Array[]): number {
    const name = Buffer.from(key);
    const record = Buffer.allocUnsafe(2 + name.length + 4 + 8 + log.encodedSize(log.size));
    record.writeUInt16BE(name.length, 0);
    name.copy(record, 2);
    record.writeUInt32BE(log.size, 2 + name.length);
    record.writeDoubleBE(log.firstSeq, 2 + name.length + 4);
    log.encodeInto(log.size, record, 2 + name.length + 4 + 8, out);
    return log.size;
  }
}

/** traffic.bin's logs (key, entries, the first one's sequence number), or undefined when there is no such file. A damaged file is an error naming it. */
function readTrafficFile(path: string): [string, TrafficEntry[], number][] | undefined {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const logs: [string, TrafficEntry[], number][] = [];
  try {
    const v1 = data.subarray(0, MAGIC_V1.length).equals(MAGIC_V1);
    if (!v1 && !data.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('it does not start like a traffic log');
    const seqBytes = v1 ? 0 : 8;
    let at = MAGIC.length;
    const need = (bytes: number, what: string): void => {
      if (at + bytes > data.length) throw new Error(`it ends inside ${what}`);
    };
    while (at < data.length) {
      need(2, 'a key');
      const keyLength = data.readUInt16BE(at);
      need(2 + keyLength + 4 + seqBytes, 'a key');
      const key = data.toString('utf8', at + 2, at + 2 + keyLength);
      const count = data.readUInt32BE(at + 2 + keyLength);
      const firstSeq = v1 ? 0 : data.readDoubleBE(at + 2 + keyLength + 4);
      at += 2 + keyLength + 4 + seqBytes;
      const entries: TrafficEntry[] = [];
      for (let i = 0; i < count; i++) {
        need(ENTRY_HEAD, 'an entry');
        const kept = data.readUInt16BE(at + 13);
        need(ENTRY_HEAD + kept, 'an entry');
        const flags = data[at + 8]!;
        const entry: TrafficEntry = {
          ts: data.readDoubleBE(at),
          direction: flags & 1 ? 'out' : 'in',
          length: data.readUInt32BE(at + 9),
          bytes: data.subarray(at + ENTRY_HEAD, at + ENTRY_HEAD + kept), // a view: the ring copies it
        };
        if (flags & 2) entry.auto = true;
        if (flags & 4) entry.event = true;
        entries.push(entry);
        at += ENTRY_HEAD + kept;
      }
      logs.push([key, entries, firstSeq]);
    }
  } catch (error) {
    throw new Error(`${path} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  return logs;
}

function readJsonFile(path: string): [string, TrafficEntry[], number][] {
  return new SettingsFile<StoredLog>(path).read().map((log) => [log.key, log.entries.map((e) => ({ ...e, bytes: Buffer.from(e.bytes, 'base64') })), 0]);
}

/** The device a connection's log belongs to (`listener:l1:127.0.0.1` of `listener:l1:127.0.0.1:5000@1733…`), or undefined for a link's log. */
function deviceOfConnection(key: string): string | undefined {
  const match = /^(listener:.*):\d+@\d+$/.exec(key);
  return match?.[1];
}

/**
 * An entry for bytes that pass now, keeping at most ENTRY_BYTES of them. Passing bytes are never
 * written to again, so a view of them is kept when it holds its whole buffer; a view of a part
 * would keep the rest alive too (a 64 KiB read for 4 KiB shown), so that part is copied.
 */
export function trafficEntry(direction: Direction, bytes: Uint8Array, auto = false): TrafficEntry {
  const kept = bytes.subarray(0, ENTRY_BYTES);
  const own = kept.byteLength === kept.buffer.byteLength ? kept : Uint8Array.prototype.slice.call(kept);
  const entry: TrafficEntry = { ts: Date.now(), direction, length: bytes.length, bytes: own };
  if (auto) entry.auto = true;
  return entry;
}

/** One entry as the API shows it: hex, and the bytes read as text where printable; an event as its text (direction `event`). */
export function describeEntry(entry: TrafficEntry): {
  seq: number;
  ts: number;
  time: string;
  direction: Direction | 'event';
  length: number;
  hex: string;
  text: string;
  auto: boolean;
} {
  const bytes = entry.bytes;
  if (entry.event === true) {
    return {
      seq: entry.seq ?? 0,
      ts: entry.ts,
      time: new Date(entry.ts).toISOString(),
      direction: 'event',
      length: 0,
      hex: '',
      text: Buffer.from(bytes).toString('utf8'),
      auto: false,
    };
  }
  return {
    seq: entry.seq ?? 0,
    ts: entry.ts,
    time: new Date(entry.ts).toISOString(),
    direction: entry.direction,
    length: entry.length,
    hex: Buffer.from(bytes)
      .toString('hex')
      .replace(/(..)(?!$)/g, '$1 '),
    text: Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(''),
    auto: entry.auto === true,
  };
}

/** CSV with a header: time, direction, length, hex, text, auto (bytes only: events are in the JSON), as the page exports it. */
export function trafficCsv(entries: readonly TrafficEntry[]): string {
  return sharedTrafficCsv(entries.map((e) => ({ ...e, direction: e.event === true ? 'event' : e.direction, auto: e.auto === true })));
}

/** One line per entry, like a terminal tool's log. */
export function trafficText(entries: readonly TrafficEntry[]): string {
  return (
    entries
      .filter((e) => e.event !== true)
      .map(describeEntry)
      .map((e) => `${e.time} ${e.direction === 'in' ? '<-' : '->'} ${String(e.length).padStart(5)}${e.auto ? ' auto' : ''}  ${e.hex}  |${e.text}|`)
      .join('\n') + '\n'
  );
}

/** `buffers` written in order, at most WRITE_BUFFERS to a write. */
async function writeAll(file: FileHandle, buffers: Uint8Array[]): Promise<void> {
  for (let at = 0; at < buffers.length; at += WRITE_BUFFERS) await file.writev(buffers.slice(at, at + WRITE_BUFFERS));
}
