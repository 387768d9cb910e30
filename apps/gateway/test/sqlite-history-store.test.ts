import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { INDEX_BATCH, SqliteHistoryStore } from '../src/history/sqlite-history-store.js';
import type { HistoryQuery } from '../src/history/history-store.js';
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

describe('private rows and the identity indexes', () => {
  /** Entries in the indexes that find a member's private rows by identity (dbstat: an index B-tree's cells, interior pages' too, are its entries). */
  function identityIndexEntries(dir: string): number {
    const db = new Database(join(dir, 'history.sqlite'), { readonly: true });
    try {
      const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries'").all() as {
        name: string;
        sql: string | null;
      }[];
      let cells = 0;
      for (const { name } of indexes.filter((i) => /_identity\b/.test(i.sql ?? ''))) {
        cells += (db.prepare('SELECT coalesce(sum(ncell), 0) AS cells FROM dbstat WHERE name = ?').get(name) as { cells: number }).cells;
      }
      return cells;
    } finally {
      db.close();
    }
  }

  const names = Array.from({ length: 10 }, (_, i) => `m${i}`);
  const sent: { id: number; from: number; to: number }[] = [];
  let nextId = 1;
  /** Private messages around a ring of 10 members (and a room message now and then), committed. */
  function talk(store: SqliteHistoryStore, count: number): void {
    for (let i = 0; i < count; i++) {
      const id = nextId++;
      if (id % 7 === 0) {
        store.append({ kind: 'message', room: 'lobby', from: 'm0', transport: 'tcp', text: `room ${id}` }, id, id);
        continue;
      }
      const from = id % 10;
      const to = (from + 1 + (id % 3)) % 10;
      sent.push({ id, from, to });
      store.append(
        { kind: 'private', from: names[from]!, to: names[to]!, transport: 'tcp', text: `p ${id}`, fromIdentity: `guest:${from}`, toIdentity: `guest:${to}` },
        id,
        id,
      );
    }
    store.flush();
  }

  /** Every way a member reads its private rows gives exactly the rows that are its own. */
  function readsWhole(store: SqliteHistoryStore): void {
    const ids = (q: Omit<HistoryQuery, 'limit'>) => store.query({ ...q, limit: 100_000 }).entries.map((e) => e.id);
    for (const me of [0, 3, 7]) {
      const mine = sent.filter((m) => m.from === me || m.to === me).map((m) => m.id);
      expect(ids({ privateOf: { identity: `guest:${me}` } })).toEqual(mine);
      const peer = (me + 1) % 10;
      const withPeer = sent.filter((m) => (m.from === me && m.to === peer) || (m.to === me && m.from === peer)).map((m) => m.id);
      expect(withPeer.length).toBeGreaterThan(0);
      expect(ids({ privateOf: { identity: `guest:${me}`, peer: `M${peer}` } })).toEqual(withPeer);
      const rooms = Array.from({ length: nextId - 1 }, (_, i) => i + 1).filter((id) => id % 7 === 0);
      const viewed = ids({ viewer: { identity: `guest:${me}`, rooms: ['lobby'] }, byTime: true });
      expect(viewed).toEqual([...mine, ...rooms].sort((a, b) => a - b));
      const middle = mine[Math.floor(mine.length / 2)]!;
      expect(store.query({ privateOf: { identity: `guest:${me}` }, before: middle, limit: 3 }).entries.map((e) => e.id)).toEqual(
        mine.filter((id) => id < middle).slice(-3),
      );
    }
  }

  it('commits private rows without touching the identity indexes until a batch is complete; every read and search finds every committed row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-identity-'));
    dirs.push(dir);
    sent.length = 0;
    nextId = 1;
    const store = new SqliteHistoryStore(dir);
    talk(store, Math.floor(INDEX_BATCH * 0.9)); // short of a batch
    // Waiting for their batch: a commit wrote no identity index page for them.
    expect(identityIndexEntries(dir)).toBe(0);
    readsWhole(store);

    // The commit that completes a batch does not index it (the flush's writes wait for that commit)…
    while (nextId - 1 < INDEX_BATCH) talk(store, 1);
    const indexed = sent.length;
    expect(identityIndexEntries(dir)).toBe(0);
    readsWhole(store);
    // …the batch is indexed in a turn of its own: every private row in both indexes.
    await new Promise((resolve) => setImmediate(resolve));
    expect(identityIndexEntries(dir)).toBe(2 * indexed);
    readsWhole(store);

    // Rows still waiting when the gateway stops (no close: a crash) are read and then indexed by the next start.
    talk(store, 20);
    expect(identityIndexEntries(dir)).toBe(2 * indexed);
    readsWhole(store);
    const next = new SqliteHistoryStore(dir);
    try {
      expect(identityIndexEntries(dir)).toBe(2 * sent.length);
      readsWhole(next);
      // Search finds a row as soon as it is committed (it indexes what waits first).
      talk(next, 5);
      const newest = sent.at(-1)!;
      expect(next.search({ words: [String(newest.id)], scope: { privateOf: `guest:${newest.to}` }, limit: 5 }).entries.map((e) => e.id)).toEqual([newest.id]);
    } finally {
      next.close();
      store.close();
    }
  }, 60_000);
});
