import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type Database from 'better-sqlite3';
import { GatewayError } from '../errors.js';
import { openDatabase } from '../sqlite-file.js';
import type { RoomAccessRow } from '../room-access.js';
import { lookAlikeKey } from './look-alike.js';
import type { AccountRow, BanRow, IdentityChange, SharedIdentity, TokenRow } from './shared-identity.js';

/**
 * scrypt with N = 2^15, r = 8, p = 1 (OWASP's minimum for scrypt), 64-byte keys and a 16-byte
 * random salt per password: about 50 ms and 32 MiB of memory per hash, on libuv's thread pool.
 */
export const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 64, saltBytes: 16 } as const;
const scryptOptions: ScryptOptions = { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 };

export type Role = 'user' | 'admin';

export interface Account {
  name: string;
  role: Role;
  createdAt: string;
}

export type BanKind = 'ip' | 'cidr' | 'name' | 'account';

export interface Ban {
  id: number;
  kind: BanKind;
  value: string;
  reason: string;
  createdAt: string;
  expiresAt: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  /** Who: `token` (the admin token), `account:NAME` (an operator), `loopback` (no token configured), or the caller's own name. */
  actor: string;
  /** From where: the caller's IP address. */
  address: string;
  action: string;
  detail: Record<string, unknown>;
}

/** A resume token's owner: the identity its private history belongs to, and the name it reclaims. */
export interface TokenOwner {
  identity: string;
  name: string;
  account: string | null;
}

/** An account as sign-in needs it: `identity` is what its private history belongs to, never reused by a later account of the same name. */
export interface AccountIdentity {
  name: string;
  /** The lower-case name: what tokens, bans and members call the account by. */
  nameKey: string;
  identity: string;
  role: Role;
}

/**
 * How long a rotated resume token still works (PROTOCOL.md §3): a client whose connection
 * dropped before the welcome with its successor arrived can sign in with it again. It stops
 * at once when the successor is used.
 */
export const TOKEN_GRACE_MS = 60_000;

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

/** Expired tokens are deleted at most this often while the gateway runs (each hello issues one). */
export const TOKEN_PRUNE_EVERY_MS = 3_600_000;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

interface AccountSqlRow {
  name_key: string;
  name: string;
  salt: Buffer;
  hash: Buffer;
  params: string;
  role: Role;
  created_at: number;
  identity: string;
}

const accountRow = (r: AccountSqlRow): AccountRow => ({
  nameKey: r.name_key,
  name: r.name,
  salt: r.salt.toString('base64'),
  hash: r.hash.toString('base64'),
  params: r.params,
  role: r.role,
  createdAt: r.created_at,
  identity: r.identity,
});

/** Accounts made before identities were their own kept the identity their history is filed under. */
const legacyIdentity = (nameKey: string): string => `account:${nameKey}`;

/** A new account's identity: random, so a later account of the same name is someone else. */
const newAccountIdentity = (): string => `account:${randomBytes(12).toString('base64url')}`;

function hashPassword(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, SCRYPT.keylen, scryptOptions, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/**
 * Who may be whom: accounts (scrypt hashes, never the password), resume tokens (only their
 * SHA-256 is kept), bans and the audit log, in <data-dir>/identity.sqlite.
 */
export class IdentityStore {
  readonly #db: Database.Database;
  /** Prepared once each: a hello runs several of these, and a statement holds native memory until collected. */
  readonly #statements = new Map<string, Database.Statement>();

  /** When expired tokens are next deleted (tokens are only added by issueToken, which prunes on its way). */
  #nextPruneAt = 0;
  readonly #pruneEveryMs: number;

  #sql(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) this.#statements.set(sql, (statement = this.#db.prepare(sql)));
    return statement;
  }

  /** `pruneEveryMs`: how often, at most, issuing a token also deletes the expired ones (hourly by default). */
  readonly #shared: SharedIdentity | undefined;
  #sharing: Promise<void> = Promise.resolve();
  /** Bans another gateway added: the hub disconnects the members they match here. */
  onRemoteBan: ((ban: Ban) => void) | undefined;
  /** Rooms' access settings, read on every message: kept in memory, written through. */
  readonly #roomAccess = new Map<string, RoomAccessRow>();
  /** A room's access another gateway changed: the hub removes the members it no longer admits. */
  onRemoteRoomAccess: ((row: RoomAccessRow) => void) | undefined;

  /**
   * `pruneEveryMs`: how often, at most, issuing a token also deletes the expired ones (hourly by
   * default). `shared`: the cluster's identity, when several gateways share one (docs/several-gateways.md,
   * "Running several gateways").
   */
  constructor(dataDir: string | null, options: { pruneEveryMs?: number; shared?: SharedIdentity | undefined } = {}) {
    this.#db = openDatabase(dataDir, 'identity.sqlite', IDENTITY_CACHE_KIB);
    this.#db.exec(SCHEMA);
    this.#banIdsNeverReused();
    this.#migrate();
    this.#pruneEveryMs = options.pruneEveryMs ?? TOKEN_PRUNE_EVERY_MS;
    this.pruneTokens();
    for (const r of this.#sql('SELECT room, access, accounts FROM room_access').all() as {
      room: string;
      access: RoomAccessRow['access'];
      accounts: string;
    }[]) {
      this.#roomAccess.set(r.room, { room: r.room, access: r.access, ...(r.access === 'named' && { accounts: JSON.parse(r.accounts) as string[] }) });
    }
    this.#shared = options.shared;
    this.#shared?.follow({ apply: (change) => this.#apply(change), merge: (accounts, bans) => this.#merge(accounts, bans) });
  }

  /**
   * Databases from before accounts had identities of their own and names compared by look-alike
   * skeleton: the columns are added in place, and each existing account keeps `account:<name>`
   * so its private history stays its own.
   */
  #migrate(): void {
    const columns = (table: string) => new Set((this.#db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
    const accountColumns = columns('accounts');
    if (!accountColumns.has('identity')) this.#db.exec('ALTER TABLE accounts ADD COLUMN identity TEXT');
    if (!accountColumns.has('look_alike')) this.#db.exec('ALTER TABLE accounts ADD COLUMN look_alike TEXT');
    if (!columns('tokens').has('rotated_to')) this.#db.exec('ALTER TABLE tokens ADD COLUMN rotated_to BLOB');
    this.#db.transaction(() => {
      this.#db.prepare("UPDATE accounts SET identity = 'account:' || name_key WHERE identity IS NULL").run();
      for (const row of this.#db.prepare('SELECT name_key, name FROM accounts WHERE look_alike IS NULL').all() as { name_key: string; name: string }[]) {
        this.#db.prepare('UPDATE accounts SET look_alike = ? WHERE name_key = ?').run(lookAlikeKey(row.name), row.name_key);
      }
    })();
    this.#db.exec('CREATE INDEX IF NOT EXISTS accounts_by_look_alike ON accounts (look_alike)');
    this.#db.exec('CREATE INDEX IF NOT EXISTS tokens_by_predecessor ON tokens (rotated_to) WHERE rotated_to IS NOT NULL');
  }

  /** Changes other gateways must see are refused while the cluster cannot take them. */
  #checkShared(): void {
    if (this.#shared !== undefined && !this.#shared.available()) {
      throw new GatewayError('CLUSTER_UNAVAILABLE', "The gateways' Redis is unreachable: accounts and bans cannot change until it is back.");
    }
  }

  #share(change: IdentityChange): void {
    if (this.#shared === undefined) return;
    const sent = this.#shared.changed(change);
    this.#sharing = this.#sharing.then(() => sent);
  }

  /** Resolves once the changes made so far have been sent to every gateway (at once without a cluster): the API answers after it. */
  shared(): Promise<void> {
    return this.#sharing;
  }

  #accountRow(nameKey: string): AccountRow | undefined {
    const row = this.#sql('SELECT * FROM accounts WHERE name_key = ?').get(nameKey) as AccountSqlRow | undefined;
    return row && accountRow(row);
  }

  // ---- Accounts ----

  /** The account this name is, or looks like (Cyrillic `а` for Latin `a`, `I` for `l`: docs/identity-and-security.md, "Identity"). */
  account(name: string): Account | undefined {
    const row = this.#accountLike(name);
    return row && { name: row.name, role: row.role, createdAt: new Date(row.created_at).toISOString() };
  }

  /** The account this name is or looks like, as signing in needs it. */
  accountIdentity(name: string): AccountIdentity | undefined {
    const row = this.#accountLike(name);
    return row && { name: row.name, nameKey: row.name_key, identity: row.identity, role: row.role };
  }

  #accountLike(name: string): { name_key: string; name: string; role: Role; created_at: number; identity: string } | undefined {
    // The exact name first: accounts registered before look-alikes were compared may share a skeleton.
    return (this.#sql('SELECT name_key, name, role, created_at, identity FROM accounts WHERE name_key = ?').get(name.toLowerCase()) ??
      this.#sql('SELECT name_key, name, role, created_at, identity FROM accounts WHERE look_alike = ? ORDER BY created_at LIMIT 1').get(lookAlikeKey(name))) as
      { name_key: string; name: string; role: Role; created_at: number; identity: string } | undefined;
  }

  accounts(): Account[] {
    return (this.#sql('SELECT name, role, created_at FROM accounts ORDER BY name_key').all() as { name: string; role: Role; created_at: number }[]).map(
      (row) => ({
        name: row.name,
        role: row.role,
        createdAt: new Date(row.created_at).toISOString(),
      }),
    );
  }

  /** False when the name, or one it looks like, is registered already. */
  async register(name: string, password: string, role: Role): Promise<boolean> {
    this.#checkShared();
    if (this.account(name) !== undefined) return false;
    const salt = randomBytes(SCRYPT.saltBytes);
    const hash = await hashPassword(password, salt);
    // Checked again: another registration of a look-alike may have finished during the hash.
    if (this.account(name) !== undefined) return false;
    const result = this.#sql(
      'INSERT OR IGNORE INTO accounts (name_key, name, salt, hash, params, role, created_at, identity, look_alike) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      name.toLowerCase(),
      name,
      salt,
      hash,
      JSON.stringify({ N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p }),
      role,
      Date.now(),
      newAccountIdentity(),
      lookAlikeKey(name),
    );
    if (result.changes === 1) this.#share({ kind: 'account', account: this.#accountRow(name.toLowerCase())! });
    return result.changes === 1;
  }

  async verify(name: string, password: string): Promise<boolean> {
    const row = this.#sql('SELECT salt, hash FROM accounts WHERE name_key = ?').get(name.toLowerCase()) as { salt: Buffer; hash: Buffer } | undefined;
    if (row === undefined) return false;
    const hash = await hashPassword(password, row.salt);
    return timingSafeEqual(hash, row.hash);
  }

  /** The account's identity (its sessions are to be closed), or undefined when no account has that name. */
  async setPassword(name: string, password: string): Promise<string | undefined> {
    this.#checkShared();
    const salt = randomBytes(SCRYPT.saltBytes);
    const hash = await hashPassword(password, salt);
    const account = this.#accountRow(name.toLowerCase());
    if (account === undefined) return undefined;
    const identity = account.identity ?? legacyIdentity(account.nameKey);
    this.#sql('UPDATE accounts SET salt = ?, hash = ? WHERE name_key = ?').run(salt, hash, account.nameKey);
    // A new password ends every session of the old one.
    this.#sql('DELETE FROM tokens WHERE identity = ?').run(identity);
    this.#share({ kind: 'account', account: this.#accountRow(account.nameKey)! });
    this.#share({ kind: 'tokens-revoked', identity });
    return identity;
  }

  /**
   * The deleted account's identity, or undefined when no account has that name. Its private
   * history stays filed under that identity, which no later account gets: only operators read it.
   */
  deleteAccount(name: string): string | undefined {
    this.#checkShared();
    const account = this.#accountRow(name.toLowerCase());
    if (account === undefined) return undefined;
    const identity = account.identity ?? legacyIdentity(account.nameKey);
    this.#sql('DELETE FROM tokens WHERE identity = ?').run(identity);
    this.#sql('DELETE FROM accounts WHERE name_key = ?').run(account.nameKey);
    this.#share({ kind: 'account-deleted', nameKey: account.nameKey });
    this.#share({ kind: 'tokens-revoked', identity });
    this.#forgetInRooms(account.nameKey);
    return identity;
  }

  // ---- Resume tokens ----

  /** A new token for this identity: 256 random bits, base64url; only its SHA-256 is stored. */
  issueToken(owner: TokenOwner, ttlMs: number): string {
    if (Date.now() >= this.#nextPruneAt) this.pruneTokens();
    const token = randomBytes(32).toString('base64url');
    const hash = sha256(token);
    const expiresAt = Date.now() + ttlMs;
    this.#sql('INSERT INTO tokens (hash, identity, name, account, expires_at) VALUES (?, ?, ?, ?, ?)').run(
      hash,
      owner.identity,
      owner.name,
      owner.account,
      expiresAt,
    );
    this.#share({ kind: 'token', token: { hash: hash.toString('hex'), ...owner, expiresAt } });
    return token;
  }

  /**
   * A token this gateway holds, or (in a cluster) one another gateway issued, kept here from then
   * on. An account's token only while that very account exists: never one of a deleted account
   * whose name was registered again.
   */
  async findToken(token: string): Promise<TokenOwner | undefined> {
    const local = this.tokenOwner(token);
    if (local !== undefined || this.#shared === undefined) return local;
    const row = await this.#shared.tokenByHash(sha256(token).toString('hex')).catch(() => undefined);
    if (row === undefined || row.expiresAt < Date.now()) return undefined;
    this.#putToken(row);
    return this.tokenOwner(token);
  }

  #putToken(row: TokenRow): void {
    this.#sql('INSERT OR REPLACE INTO tokens (hash, identity, name, account, expires_at, rotated_to) VALUES (?, ?, ?, ?, ?, ?)').run(
      Buffer.from(row.hash, 'hex'),
      row.identity,
      row.name,
      row.account,
      row.expiresAt,
      row.rotatedTo === undefined ? null : Buffer.from(row.rotatedTo, 'hex'),
    );
  }

  tokenOwner(token: string): TokenOwner | undefined {
    const row = this.#sql('SELECT identity, name, account, expires_at FROM tokens WHERE hash = ?').get(sha256(token)) as
      { identity: string; name: string; account: string | null; expires_at: number } | undefined;
    if (row === undefined || row.expires_at < Date.now()) return undefined;
    if (row.account !== null && this.#accountRow(row.account)?.identity !== row.identity) return undefined;
    return { identity: row.identity, name: row.name, account: row.account };
  }

  /**
   * A used token gives way to a new one (in welcome). The used one keeps working for
   * TOKEN_GRACE_MS or until the new one is used; the ones it replaced stop now, since it was used.
   */
  rotateToken(used: string, owner: TokenOwner, ttlMs: number): string {
    const next = this.issueToken(owner, ttlMs);
    const change = {
      kind: 'token-rotated',
      hash: sha256(used).toString('hex'),
      successor: sha256(next).toString('hex'),
      expiresAt: Date.now() + TOKEN_GRACE_MS,
    } as const;
    this.#rotated(change);
    this.#share(change);
    return next;
  }

  #rotated(change: { hash: string; successor: string; expiresAt: number }): void {
    const used = Buffer.from(change.hash, 'hex');
    this.#sql('DELETE FROM tokens WHERE rotated_to = ?').run(used);
    this.#sql('UPDATE tokens SET rotated_to = ?, expires_at = MIN(expires_at, ?) WHERE hash = ?').run(
      Buffer.from(change.successor, 'hex'),
      change.expiresAt,
      used,
    );
  }

  /** Signing out: the token, and any it replaced still in their grace, stop working. */
  revokeToken(token: string): void {
    const hash = sha256(token).toString('hex');
    this.#revoked(hash);
    this.#share({ kind: 'token-revoked', hash });
  }

  #revoked(hash: string): void {
    const bytes = Buffer.from(hash, 'hex');
    this.#sql('DELETE FROM tokens WHERE hash = ? OR rotated_to = ?').run(bytes, bytes);
  }

  /** The token's holder took another name: the token reclaims that one from now on. */
  renameToken(identity: string, name: string): void {
    this.#sql('UPDATE tokens SET name = ? WHERE identity = ?').run(name, identity);
    this.#share({ kind: 'tokens-renamed', identity, name });
  }

  /** Deletes expired tokens: at start, and while running at most every `pruneEveryMs`, so the table holds one TTL of sign-ins, not every one ever made. */
  pruneTokens(): void {
    const now = Date.now();
    this.#sql('DELETE FROM tokens WHERE expires_at < ?').run(now);
    this.#nextPruneAt = now + this.#pruneEveryMs;
  }

  // ---- Bans ----

  /**
   * A ban id names one ban forever (an audit entry, an operator's note): AUTOINCREMENT never
   * hands out an id again, even the highest one after it is lifted. Older databases made the
   * table without it and are rebuilt once.
   */
  #banIdsNeverReused(): void {
    const { sql } = this.#db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'bans'").get() as { sql: string };
    if (/AUTOINCREMENT/i.test(sql)) return;
    this.#db.transaction(() => {
      this.#db.exec(`ALTER TABLE bans RENAME TO bans_old;
        CREATE TABLE bans (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER);
        INSERT INTO bans SELECT id, kind, value, reason, created_at, expires_at FROM bans_old;
        DROP TABLE bans_old;`);
    })();
  }

  addBan(kind: BanKind, value: string, reason: string, expiresAt: number | null): Ban {
    this.#checkShared();
    const createdAt = Date.now();
    // In a cluster two gateways may add a ban at once: the id is the time with random low digits,
    // not a local counter, and above every id this gateway has seen (its own and the others'), so
    // a clock set back does not bring an old id round again.
    const seen = (this.#sql("SELECT seq FROM sqlite_sequence WHERE name = 'bans'").get() as { seq: number } | undefined)?.seq ?? 0;
    const chosen = this.#shared === undefined ? null : Math.max(createdAt * 1000 + Math.floor(Math.random() * 1000), seen + 1);
    const id = Number(
      this.#sql('INSERT INTO bans (id, kind, value, reason, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(
        chosen,
        kind,
        value,
        reason,
        createdAt,
        expiresAt,
      ).lastInsertRowid,
    );
    this.#share({ kind: 'ban', ban: { id, kind, value, reason, createdAt, expiresAt } });
    return { id, kind, value, reason, createdAt: new Date(createdAt).toISOString(), expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() };
  }

  /** Bans in force (an expired ban lifts by itself). */
  bans(): Ban[] {
    const rows = this.#sql('SELECT id, kind, value, reason, created_at, expires_at FROM bans WHERE expires_at IS NULL OR expires_at > ? ORDER BY id').all(
      Date.now(),
    ) as {
      id: number;
      kind: BanKind;
      value: string;
      reason: string;
      created_at: number;
      expires_at: number | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      value: r.value,
      reason: r.reason,
      createdAt: new Date(r.created_at).toISOString(),
      expiresAt: r.expires_at === null ? null : new Date(r.expires_at).toISOString(),
    }));
  }

  removeBan(id: number): boolean {
    this.#checkShared();
    const removed = this.#sql('DELETE FROM bans WHERE id = ?').run(id).changes === 1;
    if (removed) this.#share({ kind: 'ban-lifted', id });
    return removed;
  }

  // ---- Rooms' access ----

  roomAccess(room: string): RoomAccessRow | undefined {
    return this.#roomAccess.get(room);
  }

  roomAccessAll(): RoomAccessRow[] {
    return [...this.#roomAccess.values()];
  }

  /** Sets a room's access (an operator's call: refused while the cluster cannot take it). */
  setRoomAccess(row: RoomAccessRow): void {
    this.#checkShared();
    this.#putRoomAccess(row);
    this.#share({ kind: 'room-access', row });
  }

  /**
   * From --config, or a device room's default where nobody set one (`unlessSet`): never
   * refused, so a gateway that starts while Redis is down still closes its rooms here.
   */
  configureRoomAccess(row: RoomAccessRow, options: { unlessSet?: boolean } = {}): boolean {
    if (options.unlessSet === true && this.#roomAccess.has(row.room)) return false;
    this.#putRoomAccess(row);
    if (this.#shared?.available()) this.#share({ kind: 'room-access', row });
    return true;
  }

  /** A deleted account leaves the rooms that name it: whoever registers the name next is someone else. */
  #forgetInRooms(account: string): void {
    for (const row of this.#roomAccess.values()) {
      if (row.access !== 'named' || !(row.accounts ?? []).includes(account)) continue;
      const kept: RoomAccessRow = { ...row, accounts: row.accounts!.filter((a) => a !== account) };
      this.#putRoomAccess(kept);
      this.#share({ kind: 'room-access', row: kept });
    }
  }

  #putRoomAccess(row: RoomAccessRow): void {
    this.#sql('INSERT OR REPLACE INTO room_access (room, access, accounts) VALUES (?, ?, ?)').run(row.room, row.access, JSON.stringify(row.accounts ?? []));
    this.#roomAccess.set(row.room, row);
  }

  // ---- Other gateways' changes ----

  #apply(change: IdentityChange): void {
    switch (change.kind) {
      case 'account':
        return this.#putAccount(change.account);
      case 'account-deleted':
        this.#sql('DELETE FROM accounts WHERE name_key = ?').run(change.nameKey);
        return;
      case 'token-rotated':
        return this.#rotated(change);
      case 'token-revoked':
        return this.#revoked(change.hash);
      case 'ban': {
        this.#putBan(change.ban);
        const ban = this.bans().find((b) => b.id === change.ban.id);
        if (ban !== undefined) this.onRemoteBan?.(ban);
        return;
      }
      case 'ban-lifted':
        this.#sql('DELETE FROM bans WHERE id = ?').run(change.id);
        return;
      case 'token':
        return this.#putToken(change.token);
      case 'tokens-renamed':
        this.#sql('UPDATE tokens SET name = ? WHERE identity = ?').run(change.name, change.identity);
        return;
      case 'tokens-revoked':
        this.#sql('DELETE FROM tokens WHERE identity = ?').run(change.identity);
        return;
      case 'room-access':
        this.#putRoomAccess(change.row);
        this.onRemoteRoomAccess?.(change.row);
        return;
    }
  }

  #putAccount(a: AccountRow): void {
    this.#sql(
      'INSERT OR REPLACE INTO accounts (name_key, name, salt, hash, params, role, created_at, identity, look_alike) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      a.nameKey,
      a.name,
      Buffer.from(a.salt, 'base64'),
      Buffer.from(a.hash, 'base64'),
      a.params,
      a.role,
      a.createdAt,
      // A row from a gateway that predates account identities: the identity its history has.
      a.identity ?? legacyIdentity(a.nameKey),
      lookAlikeKey(a.name),
    );
  }

  #putBan(b: BanRow): void {
    this.#sql('INSERT OR REPLACE INTO bans (id, kind, value, reason, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(
      b.id,
      b.kind,
      b.value,
      b.reason,
      b.createdAt,
      b.expiresAt,
    );
  }

  /** The cluster's accounts and bans win; ours that it lacks (made before this gateway joined) go up to it. */
  #merge(accounts: AccountRow[], bans: BanRow[]): { accounts: AccountRow[]; bans: BanRow[] } {
    const theirAccounts = new Set(accounts.map((a) => a.nameKey));
    const theirBans = new Set(bans.map((b) => b.id));
    const ours = (this.#sql('SELECT * FROM accounts').all() as AccountSqlRow[]).map(accountRow).filter((a) => !theirAccounts.has(a.nameKey));
    const ourBans = (
      this.#sql('SELECT id, kind, value, reason, created_at, expires_at FROM bans').all() as {
        id: number;
        kind: BanRow['kind'];
        value: string;
        reason: string;
        created_at: number;
        expires_at: number | null;
      }[]
    )
      .filter((b) => !theirBans.has(b.id))
      .map((b) => ({ id: b.id, kind: b.kind, value: b.value, reason: b.reason, createdAt: b.created_at, expiresAt: b.expires_at }));
    this.#db.transaction(() => {
      for (const account of accounts) this.#putAccount(account);
      for (const ban of bans) this.#putBan(ban);
    })();
    return { accounts: ours, bans: ourBans };
  }

  // ---- Audit ----

  audit(entry: Omit<AuditEntry, 'id' | 'at'>): void {
    this.#sql('INSERT INTO audit (at, actor, address, action, detail) VALUES (?, ?, ?, ?, ?)').run(
      Date.now(),
      entry.actor,
      entry.address,
      entry.action,
      JSON.stringify(entry.detail),
    );
  }

  auditLog(limit: number, before?: number): AuditEntry[] {
    const rows = this.#sql(
      `SELECT id, at, actor, address, action, detail FROM audit ${before !== undefined ? 'WHERE id < ?' : ''} ORDER BY id DESC LIMIT ?`,
    ).all(...(before !== undefined ? [before, limit] : [limit])) as {
      id: number;
      at: number;
      actor: string;
      address: string;
      action: string;
      detail: string;
    }[];
    return rows.reverse().map((r) => ({
      id: r.id,
      at: new Date(r.at).toISOString(),
      actor: r.actor,
      address: r.address,
      action: r.action,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
    }));
  }

  close(): void {
    this.#db.close();
  }
}
