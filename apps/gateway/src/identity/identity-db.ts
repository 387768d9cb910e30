import type Database from 'better-sqlite3';
import { GatewayError } from '../errors.js';
import { openDatabase } from '../sqlite-file.js';
import { lookAlikeKey } from './look-alike.js';
import type { IdentityChange, SharedIdentity } from './shared-identity.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  name_key TEXT PRIMARY KEY, name TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,
  params TEXT NOT NULL, role TEXT NOT NULL, created_at INTEGER NOT NULL, identity TEXT, look_alike TEXT);
CREATE TABLE IF NOT EXISTS tokens (
  hash BLOB PRIMARY KEY, identity TEXT NOT NULL, name TEXT NOT NULL, account TEXT, expires_at INTEGER NOT NULL, rotated_to BLOB);
CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (expires_at);
CREATE TABLE IF NOT EXISTS bans (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER);
CREATE TABLE IF NOT EXISTS room_access (
  room TEXT PRIMARY KEY, access TEXT NOT NULL, accounts TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS room_history (
  room TEXT PRIMARY KEY, setting TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, address TEXT NOT NULL,
  action TEXT NOT NULL, detail TEXT NOT NULL);
`;

/**
 * The identity database's page cache. What a hello touches is small (an account lookup, the
 * bans, one token row), and a token's hash is random, so a larger cache would only end up
 * holding every token page ever written.
 */
export const IDENTITY_CACHE_KIB = 2048;

/**
 * <data-dir>/identity.sqlite, as the identity store's parts (accounts, tokens, bans) share it:
 * its schema brought up to date, prepared statements, and the changes other gateways must see.
 */
export class IdentityDb {
  readonly db: Database.Database;
  /** Prepared once each: a hello runs several of these, and a statement holds native memory until collected. */
  readonly #statements = new Map<string, Database.Statement>();
  /** The cluster's identity, when several gateways share one (docs/several-gateways.md, "Running several gateways"). */
  readonly shared: SharedIdentity | undefined;
  #sharing: Promise<void> = Promise.resolve();

  constructor(dataDir: string | null, shared: SharedIdentity | undefined) {
    this.db = openDatabase(dataDir, 'identity.sqlite', IDENTITY_CACHE_KIB);
    this.db.exec(SCHEMA);
    this.#banIdsNeverReused();
    this.#migrate();
    this.shared = shared;
  }

  sql(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) this.#statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** Changes other gateways must see are refused while the cluster cannot take them. */
  checkShared(): void {
    if (this.shared !== undefined && !this.shared.available()) {
      throw new GatewayError('CLUSTER_UNAVAILABLE', "The gateways' Redis is unreachable: accounts and bans cannot change until it is back.");
    }
  }

  share(change: IdentityChange): void {
    if (this.shared === undefined) return;
    const sent = this.shared.changed(change);
    this.#sharing = this.#sharing.then(() => sent);
  }

  /** Resolves once the changes made so far have been sent to every gateway (at once without a cluster). */
  sent(): Promise<void> {
    return this.#sharing;
  }

  /**
   * Databases from before accounts had identities of their own and names compared by look-alike
   * skeleton: the columns are added in place, and each existing account keeps `account:<name>`
   * so its private history stays its own.
   */
  #migrate(): void {
    const columns = (table: string) => new Set((this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
    const accountColumns = columns('accounts');
    if (!accountColumns.has('identity')) this.db.exec('ALTER TABLE accounts ADD COLUMN identity TEXT');
    if (!accountColumns.has('look_alike')) this.db.exec('ALTER TABLE accounts ADD COLUMN look_alike TEXT');
    if (!columns('tokens').has('rotated_to')) this.db.exec('ALTER TABLE tokens ADD COLUMN rotated_to BLOB');
    this.db.transaction(() => {
      this.db.prepare("UPDATE accounts SET identity = 'account:' || name_key WHERE identity IS NULL").run();
      for (const row of this.db.prepare('SELECT name_key, name FROM accounts WHERE look_alike IS NULL').all() as { name_key: string; name: string }[]) {
        this.db.prepare('UPDATE accounts SET look_alike = ? WHERE name_key = ?').run(lookAlikeKey(row.name), row.name_key);
      }
    })();
    this.db.exec('CREATE INDEX IF NOT EXISTS accounts_by_look_alike ON accounts (look_alike)');
    this.db.exec('CREATE INDEX IF NOT EXISTS tokens_by_predecessor ON tokens (rotated_to) WHERE rotated_to IS NOT NULL');
  }

  /**
   * A ban id names one ban forever (an audit entry, an operator's note): AUTOINCREMENT never
   * hands out an id again, even the highest one after it is lifted. Older databases made the
   * table without it and are rebuilt once.
   */
  #banIdsNeverReused(): void {
    const { sql } = this.db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'bans'").get() as { sql: string };
    if (/AUTOINCREMENT/i.test(sql)) return;
    this.db.transaction(() => {
      this.db.exec(`ALTER TABLE bans RENAME TO bans_old;
        CREATE TABLE bans (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER);
        INSERT INTO bans SELECT id, kind, value, reason, created_at, expires_at FROM bans_old;
        DROP TABLE bans_old;`);
    })();
  }

  close(): void {
    this.db.close();
  }
}
