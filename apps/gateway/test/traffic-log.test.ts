import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TrafficLog } from '../src/devices/traffic-log.js';

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
  it('keeps at most 4 KiB of each read in memory, not the read it came in', () => {
    const log = new TrafficLog(null, 10);
    const read = Buffer.alloc(64 * 1024, 0x41); // a socket read: a buffer of its own
    log.record('d', 'in', read);
    log.record('d', 'in', read.subarray(100, 200)); // a line cut out of a bigger read
    log.record('d', 'in', Uint8Array.of(1, 2, 3)); // small and whole: kept as it is
    const [big, line, small] = log.entries('d');
    expect(big).toMatchObject({ length: 65536 });
    expect(big!.bytes.length).toBe(4096);
    expect(big!.bytes.buffer.byteLength).toBe(4096); // a copy: the 64 KiB read is not kept alive
    expect(line!.bytes.buffer.byteLength).toBe(100);
    expect(Buffer.from(small!.bytes).toString('hex')).toBe('010203');
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
    writeFileSync(join(dir, 'traffic.bin'), readFileSync(join(dir, 'traffic.bin')).subarray(0, 30));
    expect(() => new TrafficLog(dir, 10)).toThrow(/traffic\.bin cannot be read: it ends inside an entry/);
  });
});
