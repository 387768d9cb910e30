import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { INDEX_BATCH, SEARCH_INDEXED_CHARS, SqliteHistoryStore } from '../src/history/sqlite-history-store.js';

// The search index inside history.sqlite: what it takes, and a database from before it.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const everything = (store: SqliteHistoryStore, words: string[]) => store.search({ words, scope: 'everything', limit: 10 }).entries.map((e) => e.id);

describe('the search index', () => {
  it('takes the start of long texts and no text of byte messages', () => {
    const store = new SqliteHistoryStore(null);
    store.append({ kind: 'message', room: 'r', from: 'a', transport: 'tcp', text: `${'word '.repeat(SEARCH_INDEXED_CHARS / 5)} beyondlimit` }, 1, 1);
    store.append({ kind: 'message', room: 'r', from: 'dev', transport: 'tcp', text: 'binaryish reading', data: 'AAEC' }, 2, 2);
    store.append({ kind: 'message', room: 'r', from: 'a', transport: 'tcp', text: 'plain reading' }, 3, 3);
    expect(everything(store, ['word'])).toEqual([1]);
    expect(everything(store, ['beyondlimit'])).toEqual([]);
    expect(everything(store, ['reading'])).toEqual([3]);
    store.close();
  });

  it('indexes a database from before search when it is opened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-search-'));
    dirs.push(dir);
    const store = new SqliteHistoryStore(dir);
    store.append({ kind: 'message', room: 'r', from: 'a', transport: 'tcp', text: 'older pressure note' }, 1, 1);
    store.append({ kind: 'file', room: 'r', from: 'a', transport: 'tcp', name: 'pressure.csv', size: 1, mime: 'text/csv' }, 2, 2);
    store.close();
    const db = new Database(join(dir, 'history.sqlite'));
    db.exec('DROP TABLE entries_search;');
    db.close();
    const reopened = new SqliteHistoryStore(dir);
    try {
      expect(everything(reopened, ['pressure'])).toEqual([2, 1]);
      reopened.append({ kind: 'message', room: 'r', from: 'a', transport: 'tcp', text: 'new pressure' }, 3, 3);
      expect(everything(reopened, ['pressure'])).toEqual([3, 2, 1]);
    } finally {
      reopened.close();
    }
  });

  it('writes the rows waiting as one search segment, not one per statement or commit, and before any search', () => {
    // FTS5 writes what it has gathered as a segment at every savepoint, and a trigger gives each
    // INSERT statement one: a few hundred rows then made several segments, each to be merged later; and
    // each commit made one. Rows now wait for a batch (INDEX_BATCH), or the next search.
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-search-'));
    dirs.push(dir);
    const store = new SqliteHistoryStore(dir);
    const rows = INDEX_BATCH - 6; // short of a batch
    for (let id = 1; id <= rows; id++) {
      store.append({ kind: 'message', room: 'r', from: 'a', transport: 'tcp', text: `gauge${id} reading` }, id, id);
      if (id % 50 === 0) store.flush();
    }
    store.flush();
    const db = new Database(join(dir, 'history.sqlite'), { readonly: true });
    // entries_search_idx: FTS5's own table, a row per segment (and leaf) of the index.
    const segments = () => db.prepare('SELECT count(DISTINCT segid) AS segments FROM entries_search_idx').get();
    try {
      expect(segments()).toEqual({ segments: 0 });
      expect(everything(store, [`gauge${rows}`])).toEqual([rows]);
      expect(segments()).toEqual({ segments: 1 });
      expect(everything(store, ['reading'])).toHaveLength(10);
    } finally {
      db.close();
      store.close();
    }
  });

  it('drops the trigger of a database from before, and indexes each new row once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-search-'));
    dirs.push(dir);
    const store = new SqliteHistoryStore(dir);
    store.append({ kind: 'message', room: 'r', from: 'a', transport: 'tcp', text: 'older valve' }, 1, 1);
    store.close();
    const db = new Database(join(dir, 'history.sqlite'));
    db.exec(`CREATE TRIGGER IF NOT EXISTS entries_search_insert AFTER INSERT ON entries BEGIN
      INSERT INTO entries_search (rowid, text, file_name) VALUES (new.id, new.text, new.file_name); END;`);
    db.close();
    const reopened = new SqliteHistoryStore(dir);
    try {
      reopened.append({ kind: 'message', room: 'r', from: 'a', transport: 'tcp', text: 'newer valve' }, 2, 2);
      // The same row again (a replicated entry seen twice) is neither stored nor indexed twice.
      reopened.append({ kind: 'message', room: 'r', from: 'a', transport: 'tcp', text: 'newer valve' }, 2, 2);
      expect(everything(reopened, ['valve'])).toEqual([2, 1]);
    } finally {
      reopened.close();
    }
    const check = new Database(join(dir, 'history.sqlite'), { readonly: true });
    try {
      expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all()).toEqual([]);
    } finally {
      check.close();
    }
  });
});
