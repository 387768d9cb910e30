import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { IdentityDb } from './identity-db.js';
import { lookAlikeKey } from './look-alike.js';
import type { AccountRow } from './shared-identity.js';
import type { Tokens } from './tokens.js';

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

/** An account as sign-in needs it: `identity` is what its private history belongs to, never reused by a later account of the same name. */
export interface AccountIdentity {
  name: string;
  /** The lower-case name: what tokens, bans and members call the account by. */
  nameKey: string;
  identity: string;
  role: Role;
}

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

type AccountLike = Pick<AccountSqlRow, 'name_key' | 'name' | 'role' | 'created_at' | 'identity'>;

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

/** Accounts: names compared by look-alike skeleton, scrypt hashes (never the password), and the identity each one's history is filed under. */
export class Accounts {
  constructor(
    private readonly store: IdentityDb,
    private readonly tokens: Tokens,
  ) {}

  /** An account by its lower-case name, as other gateways get it. */
  row(nameKey: string): AccountRow | undefined {
    const row = this.store.sql('SELECT * FROM accounts WHERE name_key = ?').get(nameKey) as AccountSqlRow | undefined;
    return row && accountRow(row);
  }

  /** Every account, as other gateways get them. */
  rows(): AccountRow[] {
    return (this.store.sql('SELECT * FROM accounts').all() as AccountSqlRow[]).map(accountRow);
  }

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

  #accountLike(name: string): AccountLike | undefined {
    // The exact name first: accounts registered before look-alikes were compared may share a skeleton.
    return (this.store.sql('SELECT name_key, name, role, created_at, identity FROM accounts WHERE name_key = ?').get(name.toLowerCase()) ??
      this.store
        .sql('SELECT name_key, name, role, created_at, identity FROM accounts WHERE look_alike = ? ORDER BY created_at LIMIT 1')
        .get(lookAlikeKey(name))) as AccountLike | undefined;
  }

  accounts(): Account[] {
    return (this.store.sql('SELECT name, role, created_at FROM accounts ORDER BY name_key').all() as { name: string; role: Role; created_at: number }[]).map(
      (row) => ({
        name: row.name,
        role: row.role,
        createdAt: new Date(row.created_at).toISOString(),
      }),
    );
  }

  /** False when the name, or one it looks like, is registered already. */
  async register(name: string, password: string, role: Role): Promise<boolean> {
    this.store.checkShared();
    if (this.account(name) !== undefined) return false;
    const salt = randomBytes(SCRYPT.saltBytes);
    const hash = await hashPassword(password, salt);
    // Checked again: another registration of a look-alike may have finished during the hash.
    if (this.account(name) !== undefined) return false;
    const result = this.store
      .sql('INSERT OR IGNORE INTO accounts (name_key, name, salt, hash, params, role, created_at, identity, look_alike) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
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
    if (result.changes === 1) this.store.share({ kind: 'account', account: this.row(name.toLowerCase())! });
    return result.changes === 1;
  }

  async verify(name: string, password: string): Promise<boolean> {
    const row = this.store.sql('SELECT salt, hash FROM accounts WHERE name_key = ?').get(name.toLowerCase()) as { salt: Buffer; hash: Buffer } | undefined;
    if (row === undefined) return false;
    const hash = await hashPassword(password, row.salt);
    return timingSafeEqual(hash, row.hash);
  }

  /** The account's identity (its sessions are to be closed), or undefined when no account has that name. */
  async setPassword(name: string, password: string): Promise<string | undefined> {
    this.store.checkShared();
    const salt = randomBytes(SCRYPT.saltBytes);
    const hash = await hashPassword(password, salt);
    const account = this.row(name.toLowerCase());
    if (account === undefined) return undefined;
    const identity = account.identity ?? legacyIdentity(account.nameKey);
    this.store.sql('UPDATE accounts SET salt = ?, hash = ? WHERE name_key = ?').run(salt, hash, account.nameKey);
    // A new password ends every session of the old one.
    this.tokens.revokedAll(identity);
    this.store.share({ kind: 'account', account: this.row(account.nameKey)! });
    this.store.share({ kind: 'tokens-revoked', identity });
    return identity;
  }

  /**
   * The deleted account's name key and identity, or undefined when no account has that name. Its
   * private history stays filed under that identity, which no later account gets: only operators read it.
   */
  delete(name: string): { nameKey: string; identity: string } | undefined {
    this.store.checkShared();
    const account = this.row(name.toLowerCase());
    if (account === undefined) return undefined;
    const identity = account.identity ?? legacyIdentity(account.nameKey);
    this.tokens.revokedAll(identity);
    this.deleted(account.nameKey);
    this.store.share({ kind: 'account-deleted', nameKey: account.nameKey });
    this.store.share({ kind: 'tokens-revoked', identity });
    return { nameKey: account.nameKey, identity };
  }

  /** An account deleted here or on another gateway. */
  deleted(nameKey: string): void {
    this.store.sql('DELETE FROM accounts WHERE name_key = ?').run(nameKey);
  }

  /** An account as another gateway has it. */
  put(a: AccountRow): void {
    this.store
      .sql('INSERT OR REPLACE INTO accounts (name_key, name, salt, hash, params, role, created_at, identity, look_alike) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
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
}
