import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * A SQLite database in the data directory (WAL), or in memory when there is none (tests,
 * `--data-dir ''`). NORMAL sync in WAL mode survives a process crash; only a power loss can
 * drop the last commits. FULL (the history's --history-sync full) syncs the WAL at every
 * commit, so a commit survives a power loss too.
 *
 * `cacheKiB` bounds the connection's page cache. better-sqlite3 builds SQLite with a 16 MiB
 * default (SQLITE_DEFAULT_CACHE_SIZE=-16000), and a cache keeps every page it has read or
 * written until it is full: a growing database (history, tokens) filled it a page at a time, so
 * the gateway's resident memory grew by up to 16 MiB per database long after start-up. Each
 * store sets what its working set needs instead.
 */
export function openDatabase(dataDir: string | null, fileName: string, cacheKiB: number, synchronous: 'normal' | 'full' = 'normal'): Database.Database {
  let file = ':memory:';
  if (dataDir !== null) {
    mkdirSync(dataDir, { recursive: true });
    file = join(dataDir, fileName);
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma(`cache_size = -${Math.trunc(cacheKiB)}`);
  return db;
}
