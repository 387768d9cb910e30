import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteHistoryStore } from '../src/history/sqlite-history-store.js';
import { WalCheckpointer } from '../src/history/wal-checkpointer.js';
import { setTimeout as sleep } from 'node:timers/promises';

// The WAL is checkpointed by a worker thread, not inside the commits on the event loop.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('SqliteHistoryStore on disk', () => {
  it('keeps its WAL short with commits that never pause (the worker starts it over), and loses nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-wal-'));
    dirs.push(dir);
    const store = new SqliteHistoryStore(dir);
    const text = 'x\u0001'.repeat(32_768); // 64 KiB of UTF-8, as a raw device's cut message
    const wal = join(dir, 'history.sqlite-wal');
    let longest = 0;
    // 1,200 rows of 64 KiB (75 MiB) at about 30 MiB/s: the writer's own checkpoint would only
    // run past 64 MiB of WAL (the backstop), so a WAL that stays far below it was started over
    // by the worker.
    for (let id = 1; id <= 1200; id++) {
      store.append({ kind: 'message', room: 'lobby', from: 'dev', transport: 'tcp', text }, id, id);
      store.flush();
      if (id % 16 === 0) {
        longest = Math.max(longest, statSync(wal).size);
        await sleep(30);
      }
    }
    expect(longest / 2 ** 20).toBeLessThan(40);
    store.close();

    const again = new SqliteHistoryStore(dir);
    try {
      expect(again.lastId()).toBe(1200);
      const page = again.query({ room: 'lobby', limit: 3 });
      expect(page.entries.map((e) => e.id)).toEqual([1198, 1199, 1200]);
      expect(page.entries.every((e) => e.kind === 'message' && e.text === text)).toBe(true);
    } finally {
      again.close();
    }
  }, 30_000);

  it('says when the checkpoint worker fails, and close() does not wait for a worker that is gone', async () => {
    const errors: string[] = [];
    const checkpointer = new WalCheckpointer(join(tmpdir(), 'no-such-directory-for-switchboard', 'history.sqlite'), (message) => errors.push(message));
    for (let i = 0; i < 100 && errors.length === 0; i++) await sleep(20);
    expect(errors.join(' ')).toMatch(/directory|open/i);
    await sleep(50);
    const started = performance.now();
    checkpointer.close();
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('--history-sync', () => {
  it('opens history.sqlite with synchronous NORMAL by default and FULL when asked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sync-'));
    dirs.push(dir);
    const normal = new SqliteHistoryStore(dir);
    expect(normal.synchronous()).toBe(1);
    normal.close();
    const full = new SqliteHistoryStore(dir, { synchronous: 'full' });
    expect(full.synchronous()).toBe(2);
    full.close();
  });
});

describe('ids given to entries kept elsewhere', () => {
  it('are reserved in the database, so lastId() after a restart is above them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-ids-'));
    dirs.push(dir);
    const store = new SqliteHistoryStore(dir);
    store.append({ kind: 'message', room: 'lobby', from: 'a', transport: 'tcp', text: 'kept' }, 1, 1);
    store.idUsed(2);
    store.idUsed(3);
    store.flush();
    store.close();
    const reopened = new SqliteHistoryStore(dir);
    expect(reopened.lastId()).toBeGreaterThanOrEqual(3);
    reopened.close();
  });
});
