import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * A SQLite database in the data directory (WAL), or in memory when there is none (tests,
 * `--data-dir ''`). NORMAL sync in WAL mode survives a process crash; only a power loss can
 * drop the last commits.
 */
export function openDatabase(dataDir: string | null, fileName: string): Database.Database {
  let file = ':memory:';
  if (dataDir !== null) {
    mkdirSync(dataDir, { recursive: true });
    file = join(dataDir, fileName);
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}
