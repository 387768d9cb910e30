import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SEARCH_INDEXED_CHARS, SqliteHistoryStore } from '../src/history/sqlite-history-store.js';

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
    db.exec('DROP TRIGGER entries_search_insert; DROP TABLE entries_search;');
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
});
