import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { FileStore, type NewStoredFile } from '../src/files/file-store.js';

const DAY = 86_400_000;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchboard-file-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const file = (id: number, ts: number, size = 3): NewStoredFile => ({
  id,
  name: `f${id}.bin`,
  size,
  mime: 'application/octet-stream',
  from: 'alice',
  ts,
  room: 'lobby',
  to: null,
  fromIdentity: 'i-alice',
  toIdentity: null,
});

function keep(store: FileStore, meta: NewStoredFile): Promise<void> {
  const writer = store.begin(meta)!;
  writer.write(new Uint8Array(meta.size));
  return new Promise((resolve, reject) => writer.complete('00'.repeat(32), (error) => (error ? reject(error) : resolve())));
}

describe('FileStore', () => {
  it('removes files past the retention period, at start and when pruned', async () => {
    let now = 100 * DAY;
    const limits = { maxFileBytes: 100, maxRoomBytes: 1000, maxTotalBytes: 1000, retentionMs: 30 * DAY };
    const store = new FileStore(dir, limits, () => now);
    await keep(store, file(1, now - 40 * DAY + 1));
    await keep(store, file(2, now));
    now += 1;
    store.prune();
    expect(store.get(1)).toBeUndefined();
    expect(existsSync(store.path(1))).toBe(false);
    expect(store.get(2)).toMatchObject({ id: 2, sha256: '00'.repeat(32) });
    store.close();
    now += 31 * DAY;
    const reopened = new FileStore(dir, limits, () => now);
    expect(reopened.get(2)).toBeUndefined();
    reopened.close();
  });

  it('takes no file larger than a limit, and clears parts left by a stop', () => {
    const store = new FileStore(dir, { maxFileBytes: 10, maxRoomBytes: 8, maxTotalBytes: 100, retentionMs: 0 });
    expect(store.begin(file(1, 0, 11))).toBeNull();
    expect(store.begin(file(2, 0, 9))).toBeNull(); // over the room's limit
    expect(store.begin({ ...file(3, 0, 9), room: null, to: 'bob' })).not.toBeNull(); // private: the total only
    store.close();
    writeFileSync(join(dir, 'files', '7.part'), 'x');
    const reopened = new FileStore(dir, { maxFileBytes: 10, maxRoomBytes: 8, maxTotalBytes: 100, retentionMs: 0 });
    expect(existsSync(join(dir, 'files', '7.part'))).toBe(false);
    expect(existsSync(join(dir, 'files', '3.part'))).toBe(false);
    reopened.close();
  });
});

describe('--file-store', () => {
  it('is on by default and turned off by flag, environment or config file', () => {
    expect(loadConfig([], {}).config.files.store).toBe(true);
    expect(loadConfig(['--no-file-store'], {}).config.files.store).toBe(false);
    expect(loadConfig([], { SWITCHBOARD_FILE_STORE: 'false' }).config.files.store).toBe(false);
    const config = join(dir, 'switchboard.json');
    writeFileSync(config, JSON.stringify({ 'file-store': false, 'file-store-days': 7, 'file-store-room-bytes': 1234 }));
    const fromFile = loadConfig(['--config', config], {}).config.files;
    expect(fromFile).toMatchObject({ store: false, retentionDays: 7, maxRoomBytes: 1234 });
  });
});
