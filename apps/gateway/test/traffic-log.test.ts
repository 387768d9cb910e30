import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TrafficLog, WRITE_BUFFERS } from '../src/devices/traffic-log.js';
import { ENTRY_BYTES, ENTRY_HEAD, SHARED_UP_TO, TrafficRing } from '../src/devices/traffic-ring.js';

// The traffic log's file: written off the event loop while the gateway runs, and whole at shutdown.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-traffic-'));
  dirs.push(dir);
  return dir;
}

const hexes = (log: TrafficLog, key: string): string[] => log.entries(key).map((e) => `${e.direction}:${Buffer.from(e.bytes).toString('hex')}:${e.length}`);

describe('TrafficLog', () => {
  it('keeps a copy of at most 4 KiB of each read, not the read it came in', () => {
    const log = new TrafficLog(null, 10);
    const read = Buffer.alloc(64 * 1024, 0x41); // a socket read: a buffer of its own
    log.record('d', 'in', read);
    const small = Buffer.of(1, 2, 3);
    log.record('d', 'out', small, true);
    read[0] = 0x42; // the caller's buffers are not the log's
    small[0] = 9;
    const [big, kept] = log.entries('d');
    expect(big).toMatchObject({ direction: 'in', length: 65536 });
    expect(big!.bytes.length).toBe(4096);
    expect(big!.bytes.every((b) => b === 0x41)).toBe(true);
    expect(kept).toMatchObject({ direction: 'out', length: 3, auto: true });
    expect(Buffer.from(kept!.bytes).toString('hex')).toBe('010203');
  });

  it('is a ring: entries of every size come back byte-exact as it grows, wraps and drops the oldest', () => {
    // A model (the plain list of the newest entries) against the ring, with sizes from 0 to past 4 KiB.
    const capacity = 50;
    const log = new TrafficLog(null, capacity);
    const model: { length: number; bytes: Buffer }[] = [];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 2_000; i++) {
      const length = i % 97 === 0 ? 5000 : next() % (i < 1000 ? 300 : 4200);
      const bytes = Buffer.alloc(length, i % 256);
      log.record('d', i % 2 ? 'out' : 'in', bytes);
      model.push({ length, bytes: bytes.subarray(0, 4096) });
      if (i % 37 === 0 || i === 1999) {
        const want = model.slice(-capacity);
        const got = log.entries('d');
        expect(got.map((e) => e.length)).toEqual(want.map((e) => e.length));
        expect(got.every((e, k) => Buffer.from(e.bytes).equals(want[k]!.bytes))).toBe(true);
        expect(log.entries('d', 3).map((e) => e.length)).toEqual(want.slice(-3).map((e) => e.length));
      }
    }
  });

  it('grows its entries in block copies, not a copy per entry, and keeps them in order', () => {
    const ring = new TrafficRing(1000);
    const line = Buffer.from('MoveJ p10\r\n');
    for (let i = 0; i < 512; i++) ring.push(i, 'out', line, line.length, false, false, true);
    // The next entry doubles the ring's slots: count the typed-array copies of its metadata.
    const typedArray = Object.getPrototypeOf(Float64Array.prototype) as { set: (source: ArrayLike<number>, offset?: number) => void };
    const set = typedArray.set;
    let copies = 0;
    const spy = vi.spyOn(typedArray, 'set').mockImplementation(function (this: Float64Array, source, offset) {
      if (this instanceof Float64Array) copies++;
      set.call(this, source, offset);
    });
    try {
      ring.push(512, 'out', line, line.length, false, false, true);
    } finally {
      spy.mockRestore();
    }
    expect(copies).toBeLessThanOrEqual(2);
    const entries = ring.entries();
    expect(entries.map((e) => e.ts)).toEqual(Array.from({ length: 513 }, (_, i) => i));
    expect(entries.every((e) => Buffer.from(e.bytes).equals(line) && e.direction === 'out')).toBe(true);
  });

  it('keeps shared bytes (one buffer written to many devices) by reference, mixed with copies, as it grows, wraps and drops', () => {
    // The same model as above, every third entry shared; sizes past SHARED_UP_TO are copied even when shared.
    const capacity = 40;
    const log = new TrafficLog(null, capacity);
    const model: { length: number; bytes: Buffer; given: Buffer; byReference: boolean }[] = [];
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 1_500; i++) {
      const length = i % 29 === 0 ? SHARED_UP_TO + 1 : next() % (i < 700 ? 300 : 4200);
      const given = Buffer.alloc(length, i % 200);
      const shared = i % 3 === 0;
      log.record('d', 'out', given, false, shared);
      model.push({ length, bytes: Buffer.from(given.subarray(0, ENTRY_BYTES)), given, byReference: shared && length <= SHARED_UP_TO });
      if (i % 41 === 0 || i === 1499) {
        const want = model.slice(-capacity);
        const got = log.entries('d');
        expect(got.map((e) => e.length)).toEqual(want.map((e) => e.length));
        expect(got.every((e, k) => Buffer.from(e.bytes).equals(want[k]!.bytes))).toBe(true);
      }
    }
    // By reference, not copied: a change to a shared buffer (which the gateway never makes) shows in
    // the log; a change to one that was copied (too large, or not shared) does not.
    const want = model.slice(-capacity).filter((e) => e.length > 0);
    for (const entry of want) entry.given[0] = 0xee;
    const got = log.entries('d').filter((e) => e.length > 0);
    expect(got.map((e) => e.bytes[0] === 0xee)).toEqual(want.map((e) => e.byReference));
    expect(want.some((e) => e.byReference) && want.some((e) => !e.byReference)).toBe(true);
  });

  it('copies the head of a large shared buffer once, for every ring that keeps it', () => {
    // A busy listener's flush: one buffer past SHARED_UP_TO written to each of its devices.
    const batch = Buffer.alloc(SHARED_UP_TO + 100, 0x61);
    const rings = [new TrafficRing(8), new TrafficRing(8), new TrafficRing(8)];
    for (const ring of rings) ring.push(1, 'out', batch, batch.length, false, false, true);
    batch[0] = 0x62; // after the first ring kept it: the copy was made then, and only then
    const kept = rings.map((ring) => {
      // Nothing of it is in the ring's own byte store: only the entry's head is encoded there.
      expect(ring.encodedSize(1)).toBe(ENTRY_HEAD);
      const parts: Uint8Array[] = [];
      ring.encodeInto(1, Buffer.alloc(ENTRY_HEAD), 0, parts);
      return parts[1]!;
    });
    expect(kept[0]!.length).toBe(ENTRY_BYTES);
    expect(kept[1]).toBe(kept[0]);
    expect(kept[2]).toBe(kept[0]);
    expect(kept[0]!.buffer).not.toBe(batch.buffer);
    for (const ring of rings) {
      const [entry] = ring.entries();
      expect(entry).toMatchObject({ direction: 'out', length: SHARED_UP_TO + 100 });
      expect(Buffer.from(entry!.bytes).equals(Buffer.alloc(ENTRY_BYTES, 0x61))).toBe(true);
    }
  });

  it('saves shared entries byte-exact beside copied ones', async () => {
    const dir = dataDir();
    const log = new TrafficLog(dir, 10);
    const line = Buffer.from('MoveJ p10\r\n');
    log.record('listener:l1:127.0.0.1:1@1', 'out', line, false, true);
    log.record('listener:l1:127.0.0.1:2@1', 'out', line, false, true);
    log.record('listener:l1:127.0.0.1:2@1', 'in', Buffer.from('ok\r\n'));
    // A wrapped ring of shared, copied, empty and too-large-to-share entries, in the file as in memory.
    for (let i = 0; i < 30; i++) {
      const length = [0, 5, 300, ENTRY_BYTES + 7, SHARED_UP_TO + 1][i % 5]!;
      log.record('link:mixed', i % 4 === 0 ? 'in' : 'out', Buffer.alloc(length, i), i % 7 === 0, i % 2 === 0);
    }
    const mixed = hexes(log, 'link:mixed');
    await log.save();
    const again = new TrafficLog(dir, 10);
    try {
      expect(hexes(again, 'listener:l1:127.0.0.1:1@1')).toEqual([`out:${line.toString('hex')}:11`]);
      expect(hexes(again, 'listener:l1:127.0.0.1:2@1')).toEqual([`out:${line.toString('hex')}:11`, `in:${Buffer.from('ok\r\n').toString('hex')}:4`]);
      expect(hexes(again, 'link:mixed')).toEqual(mixed);
      expect(again.entries('link:mixed').map((e) => e.auto === true)).toEqual(log.entries('link:mixed').map((e) => e.auto === true));
    } finally {
      again.close();
      log.close();
    }
  });

  it('saves a busy line listener in writes of at most WRITE_BUFFERS buffers each, byte-exact', async () => {
    const dir = dataDir();
    const log = new TrafficLog(dir, 1000);
    // 200 devices each written the same 1,000 room lines (shared: two buffers per entry in the file).
    const keys = Array.from({ length: 200 }, (_, i) => `listener:l1:127.0.0.1:${5000 + i}@1`);
    for (let line = 0; line < 1000; line++) {
      const bytes = Buffer.from(`line ${line}\r\n`);
      for (const key of keys) log.record(key, 'out', bytes, false, true);
    }
    // The real file handle's writev, counted on its way through: how many buffers each write is handed.
    const probe = await open(join(dir, 'probe'), 'w');
    const handleType = Object.getPrototypeOf(probe) as { writev: (buffers: readonly NodeJS.ArrayBufferView[]) => Promise<unknown> };
    await probe.close();
    const sizes: number[] = [];
    const writev = handleType.writev;
    const spy = vi.spyOn(handleType, 'writev').mockImplementation(function (this: unknown, buffers) {
      sizes.push(buffers.length);
      return writev.call(this, buffers);
    });
    try {
      await log.save();
    } finally {
      spy.mockRestore();
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(2 * 200 * 1000); // every entry's head and bytes were written
    expect(Math.max(...sizes)).toBeLessThanOrEqual(WRITE_BUFFERS);
    const again = new TrafficLog(dir, 1000);
    try {
      for (const key of [keys[0]!, keys[199]!]) expect(hexes(again, key)).toEqual(hexes(log, key));
    } finally {
      again.close();
      log.close();
    }
  });

  it('writes shared entries at close too', () => {
    const dir = dataDir();
    const log = new TrafficLog(dir, 4);
    for (let i = 0; i < 6; i++) log.record('k', 'out', Buffer.from(`line ${i}\n`), false, true);
    const before = hexes(log, 'k');
    log.close();
    const again = new TrafficLog(dir, 4);
    try {
      expect(hexes(again, 'k')).toEqual(before);
      expect(before).toHaveLength(4);
    } finally {
      again.close();
    }
  });

  it('saves asynchronously what changed, and reads it back byte-exact', async () => {
    const dir = dataDir();
    const log = new TrafficLog(dir, 3);
    log.record('listener:l1:127.0.0.1', 'in', Buffer.from([0, 1, 2, 0xff]));
    log.record('link:d1', 'out', Buffer.alloc(5000, 0x41), true);
    await log.save();
    const first = readFileSync(join(dir, 'traffic.bin'));
    // Only the newest `entriesPerDevice` of a log are kept in the file.
    for (let i = 0; i < 5; i++) log.record('listener:l1:127.0.0.1', 'out', Buffer.of(i));
    await log.save();
    expect(readFileSync(join(dir, 'traffic.bin')).equals(first)).toBe(false);
    const again = new TrafficLog(dir, 3);
    try {
      expect(hexes(again, 'listener:l1:127.0.0.1')).toEqual(['out:02:1', 'out:03:1', 'out:04:1']);
      const [entry] = again.entries('link:d1');
      expect(entry).toMatchObject({ direction: 'out', length: 5000, auto: true });
      expect(entry!.bytes.length).toBe(4096);
    } finally {
      again.close();
      log.close();
    }
  });

  it('at close, writes the last state, which a save still in flight does not replace', async () => {
    const dir = dataDir();
    const log = new TrafficLog(dir, 10);
    log.record('k', 'in', Buffer.from('a'));
    const saving = log.save(); // its file is being written…
    log.record('k', 'in', Buffer.from('b'));
    log.close(); // …while the gateway shuts down with one more entry
    await saving;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = new TrafficLog(dir, 10);
    try {
      expect(hexes(again, 'k')).toEqual(['in:61:1', 'in:62:1']);
    } finally {
      again.close();
    }
  });

  it('reads the JSON file of earlier versions once, and a damaged file is an error that names it', async () => {
    const dir = dataDir();
    const old = [{ key: 'link:d1', entries: [{ ts: 5, direction: 'in', length: 3, bytes: Buffer.of(1, 2, 3).toString('base64') }] }];
    writeFileSync(join(dir, 'traffic.json'), JSON.stringify(old));
    const log = new TrafficLog(dir, 10);
    expect(hexes(log, 'link:d1')).toEqual(['in:010203:3']);
    log.record('link:d1', 'out', Buffer.of(4));
    await log.save();
    log.close();
    expect(existsSync(join(dir, 'traffic.json'))).toBe(false);
    const again = new TrafficLog(dir, 10);
    expect(hexes(again, 'link:d1')).toEqual(['in:010203:3', 'out:04:1']);
    again.close();
    writeFileSync(join(dir, 'traffic.bin'), readFileSync(join(dir, 'traffic.bin')).subarray(0, 38));
    expect(() => new TrafficLog(dir, 10)).toThrow(/traffic\.bin cannot be read: it ends inside an entry/);
  });

  it('numbers entries in order, never again after the oldest go or a restart, and pages forward from a number', async () => {
    const dir = dataDir();
    const log = new TrafficLog(dir, 3);
    for (let i = 0; i < 5; i++) log.record('link:d1', 'in', Buffer.of(i));
    log.event('link:d1', 'disconnected');
    expect(log.entries('link:d1').map((e) => [e.seq, e.event === true])).toEqual([
      [3, false],
      [4, false],
      [5, true],
    ]);
    expect(log.entries('link:d1', 1, 3).map((e) => e.seq)).toEqual([4]);
    expect(log.entries('link:d1', 10, 0).map((e) => e.seq)).toEqual([3, 4, 5]); // older than the oldest: from the oldest
    expect(log.nextSeq('link:d1')).toBe(6);
    log.close();
    const again = new TrafficLog(dir, 3);
    expect(again.entries('link:d1').map((e) => e.seq)).toEqual([3, 4, 5]);
    again.record('link:d1', 'out', Buffer.of(9));
    expect(again.entries('link:d1', 10, 5).map((e) => [e.seq, e.direction])).toEqual([[6, 'out']]);
    again.close();
  });

  it('keeps the newest eight connection logs of one device', () => {
    const log = new TrafficLog(null, 10);
    const keys = Array.from({ length: 10 }, (_, i) => `listener:l1:127.0.0.1:${5000 + i}@${1000 + i}`);
    for (const key of keys) {
      log.open(key);
      log.record(key, 'in', Buffer.of(1));
    }
    expect(keys.map((key) => log.entries(key).length)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
  });
});
