import { createHash, randomBytes } from 'node:crypto';
import type { IdentityDb } from './identity-db.js';
import type { TokenRow } from './shared-identity.js';

/** A resume token's owner: the identity its private history belongs to, and the name it reclaims. */
export interface TokenOwner {
  identity: string;
  name: string;
  account: string | null;
}

/**
 * How long a rotated resume token still works (PROTOCOL.md §3): a client whose connection
 * dropped before the welcome with its successor arrived can sign in with it again. It stops
 * at once when the successor is used.
 */
export const TOKEN_GRACE_MS = 60_000;

/** Expired tokens are deleted at most this often while the gateway runs (each hello issues one). */
export const TOKEN_PRUNE_EVERY_MS = 3_600_000;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Resume tokens: 256 random bits each, of which only the SHA-256 is kept. */
export class Tokens {
  /** When expired tokens are next deleted (tokens are only added by issue, which prunes on its way). */
  #nextPruneAt = 0;

  constructor(
    private readonly store: IdentityDb,
    /** How often, at most, issuing a token also deletes the expired ones. */
    private readonly pruneEveryMs: number,
    /** The identity of the account with this lower-case name now, if any. */
    private readonly accountIdentity: (nameKey: string) => string | undefined,
  ) {
    this.prune();
  }

  /** A new token for this identity: 256 random bits, base64url; only its SHA-256 is stored. */
  issue(owner: TokenOwner, ttlMs: number): string {
    if (Date.now() >= this.#nextPruneAt) this.prune();
    const token = randomBytes(32).toString('base64url');
    const hash = sha256(token);
    const expiresAt = Date.now() + ttlMs;
    this.store
      .sql('INSERT INTO tokens (hash, identity, name, account, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(hash, owner.identity, owner.name, owner.account, expiresAt);
    this.store.share({ kind: 'token', token: { hash: hash.toString('hex'), ...owner, expiresAt } });
    return token;
  }

  /**
   * A token this gateway holds, or (in a cluster) one another gateway issued, kept here from then
   * on. An account's token only while that very account exists: never one of a deleted account
   * whose name was registered again.
   */
  async find(token: string): Promise<TokenOwner | undefined> {
    const local = this.owner(token);
    const shared = this.store.shared;
    if (local !== undefined || shared === undefined) return local;
    const row = await shared.tokenByHash(sha256(token).toString('hex')).catch(() => undefined);
    if (row === undefined || row.expiresAt < Date.now()) return undefined;
    this.put(row);
    return this.owner(token);
  }

  /** A token as another gateway issued or found it. */
  put(row: TokenRow): void {
    this.store
      .sql('INSERT OR REPLACE INTO tokens (hash, identity, name, account, expires_at, rotated_to) VALUES (?, ?, ?, ?, ?, ?)')
      .run(
        Buffer.from(row.hash, 'hex'),
        row.identity,
        row.name,
        row.account,
        row.expiresAt,
        row.rotatedTo === undefined ? null : Buffer.from(row.rotatedTo, 'hex'),
      );
  }

  owner(token: string): TokenOwner | undefined {
    const row = this.store.sql('SELECT identity, name, account, expires_at FROM tokens WHERE hash = ?').get(sha256(token)) as
      { identity: string; name: string; account: string | null; expires_at: number } | undefined;
    if (row === undefined || row.expires_at < Date.now()) return undefined;
    if (row.account !== null && this.accountIdentity(row.account) !== row.identity) return undefined;
    return { identity: row.identity, name: row.name, account: row.account };
  }

  /**
   * A used token gives way to a new one (in welcome). The used one keeps working for
   * TOKEN_GRACE_MS or until the new one is used; the ones it replaced stop now, since it was used.
   */
  rotate(used: string, owner: TokenOwner, ttlMs: number): string {
    const next = this.issue(owner, ttlMs);
    const change = {
      kind: 'token-rotated',
      hash: sha256(used).toString('hex'),
      successor: sha256(next).toString('hex'),
      expiresAt: Date.now() + TOKEN_GRACE_MS,
    } as const;
    this.rotated(change);
    this.store.share(change);
    return next;
  }

  /** A rotation, here or on another gateway. */
  rotated(change: { hash: string; successor: string; expiresAt: number }): void {
    const used = Buffer.from(change.hash, 'hex');
    this.store.sql('DELETE FROM tokens WHERE rotated_to = ?').run(used);
    this.store
      .sql('UPDATE tokens SET rotated_to = ?, expires_at = MIN(expires_at, ?) WHERE hash = ?')
      .run(Buffer.from(change.successor, 'hex'), change.expiresAt, used);
  }

  /** Signing out: the token, and any it replaced still in their grace, stop working. */
  revoke(token: string): void {
    const hash = sha256(token).toString('hex');
    this.revoked(hash);
    this.store.share({ kind: 'token-revoked', hash });
  }

  /** A sign-out, here or on another gateway. */
  revoked(hash: string): void {
    const bytes = Buffer.from(hash, 'hex');
    this.store.sql('DELETE FROM tokens WHERE hash = ? OR rotated_to = ?').run(bytes, bytes);
  }

  /** The token's holder took another name: the token reclaims that one from now on. */
  rename(identity: string, name: string): void {
    this.renamed(identity, name);
    this.store.share({ kind: 'tokens-renamed', identity, name });
  }

  renamed(identity: string, name: string): void {
    this.store.sql('UPDATE tokens SET name = ? WHERE identity = ?').run(name, identity);
  }

  /** Every token of an identity stops (a new password, a deleted account), here; the caller tells the others. */
  revokedAll(identity: string): void {
    this.store.sql('DELETE FROM tokens WHERE identity = ?').run(identity);
  }

  /** Deletes expired tokens: at start, and while running at most every `pruneEveryMs`, so the table holds one TTL of sign-ins, not every one ever made. */
  prune(): void {
    const now = Date.now();
    this.store.sql('DELETE FROM tokens WHERE expires_at < ?').run(now);
    this.#nextPruneAt = now + this.pruneEveryMs;
  }
}
