import type { RoomHistoryRow } from '../history/history-setting.js';
import type { RoomAccessRow } from '../room-access.js';
import { Accounts, type Account, type AccountIdentity, type Role } from './accounts.js';
import { Bans, type Ban, type BanKind } from './bans.js';
import { IdentityDb } from './identity-db.js';
import type { AccountRow, BanRow, IdentityChange, SharedIdentity } from './shared-identity.js';
import { TOKEN_PRUNE_EVERY_MS, Tokens, type TokenOwner } from './tokens.js';

export { SCRYPT, type Account, type AccountIdentity, type Role } from './accounts.js';
export type { Ban, BanKind } from './bans.js';
export { IDENTITY_CACHE_KIB } from './identity-db.js';
export { TOKEN_GRACE_MS, TOKEN_PRUNE_EVERY_MS, type TokenOwner } from './tokens.js';

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

/**
 * Who may be whom: accounts (scrypt hashes, never the password: accounts.ts), resume tokens
 * (only their SHA-256 is kept: tokens.ts), bans (bans.ts), rooms' access and the audit log, in
 * <data-dir>/identity.sqlite (identity-db.ts). In a cluster, what changes here reaches the
 * other gateways, and theirs is applied here.
 */
export class IdentityStore {
  readonly #db: IdentityDb;
  readonly #tokens: Tokens;
  readonly #accounts: Accounts;
  readonly #bans: Bans;
  /** Bans another gateway added: the hub disconnects the members they match here. */
  onRemoteBan: ((ban: Ban) => void) | undefined;
  /** Rooms' access settings, read on every message: kept in memory, written through. */
  readonly #roomAccess = new Map<string, RoomAccessRow>();
  /** A room's access another gateway changed: the hub removes the members it no longer admits. */
  onRemoteRoomAccess: ((row: RoomAccessRow) => void) | undefined;
  /** Rooms' history settings, read on every message: kept in memory, written through, shared like access. */
  readonly #roomHistory = new Map<string, RoomHistoryRow>();

  /**
   * `pruneEveryMs`: how often, at most, issuing a token also deletes the expired ones (hourly by
   * default). `shared`: the cluster's identity, when several gateways share one (docs/several-gateways.md,
   * "Running several gateways").
   */
  constructor(dataDir: string | null, options: { pruneEveryMs?: number; shared?: SharedIdentity | undefined } = {}) {
    this.#db = new IdentityDb(dataDir, options.shared);
    this.#tokens = new Tokens(this.#db, options.pruneEveryMs ?? TOKEN_PRUNE_EVERY_MS, (nameKey) => this.#accounts.row(nameKey)?.identity);
    this.#accounts = new Accounts(this.#db, this.#tokens);
    this.#bans = new Bans(this.#db);
    for (const r of this.#db.sql('SELECT room, access, accounts FROM room_access').all() as {
      room: string;
      access: RoomAccessRow['access'];
      accounts: string;
    }[]) {
      this.#roomAccess.set(r.room, { room: r.room, access: r.access, ...(r.access === 'named' && { accounts: JSON.parse(r.accounts) as string[] }) });
    }
    for (const r of this.#db.sql('SELECT room, setting FROM room_history').all() as { room: string; setting: string }[]) {
      this.#roomHistory.set(r.room, { ...(JSON.parse(r.setting) as Omit<RoomHistoryRow, 'room'>), room: r.room });
    }
    options.shared?.follow({ apply: (change) => this.#apply(change), merge: (accounts, bans) => this.#merge(accounts, bans) });
  }

  /** Resolves once the changes made so far have been sent to every gateway (at once without a cluster): the API answers after it. */
  shared(): Promise<void> {
    return this.#db.sent();
  }

  // ---- Accounts (accounts.ts) ----

  account(name: string): Account | undefined {
    return this.#accounts.account(name);
  }

  accountIdentity(name: string): AccountIdentity | undefined {
    return this.#accounts.accountIdentity(name);
  }

  accounts(): Account[] {
    return this.#accounts.accounts();
  }

  register(name: string, password: string, role: Role): Promise<boolean> {
    return this.#accounts.register(name, password, role);
  }

  verify(name: string, password: string): Promise<boolean> {
    return this.#accounts.verify(name, password);
  }

  setPassword(name: string, password: string): Promise<string | undefined> {
    return this.#accounts.setPassword(name, password);
  }

  /**
   * The deleted account's identity, or undefined when no account has that name. Its private
   * history stays filed under that identity, which no later account gets: only operators read it.
   */
  deleteAccount(name: string): string | undefined {
    const deleted = this.#accounts.delete(name);
    if (deleted === undefined) return undefined;
    this.#forgetInRooms(deleted.nameKey);
    return deleted.identity;
  }

  // ---- Resume tokens (tokens.ts) ----

  issueToken(owner: TokenOwner, ttlMs: number): string {
    return this.#tokens.issue(owner, ttlMs);
  }

  findToken(token: string): Promise<TokenOwner | undefined> {
    return this.#tokens.find(token);
  }

  tokenOwner(token: string): TokenOwner | undefined {
    return this.#tokens.owner(token);
  }

  rotateToken(used: string, owner: TokenOwner, ttlMs: number): string {
    return this.#tokens.rotate(used, owner, ttlMs);
  }

  revokeToken(token: string): void {
    this.#tokens.revoke(token);
  }

  renameToken(identity: string, name: string): void {
    this.#tokens.rename(identity, name);
  }

  pruneTokens(): void {
    this.#tokens.prune();
  }

  // ---- Bans (bans.ts) ----

  addBan(kind: BanKind, value: string, reason: string, expiresAt: number | null): Ban {
    return this.#bans.add(kind, value, reason, expiresAt);
  }

  bans(): Ban[] {
    return this.#bans.list();
  }

  removeBan(id: number): boolean {
    return this.#bans.remove(id);
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
    this.#db.checkShared();
    this.#putRoomAccess(row);
    this.#db.share({ kind: 'room-access', row });
  }

  /**
   * From --config, or a device room's default where nobody set one (`unlessSet`): never
   * refused, so a gateway that starts while Redis is down still closes its rooms here.
   */
  configureRoomAccess(row: RoomAccessRow, options: { unlessSet?: boolean } = {}): boolean {
    if (options.unlessSet === true && this.#roomAccess.has(row.room)) return false;
    this.#putRoomAccess(row);
    if (this.#db.shared?.available()) this.#db.share({ kind: 'room-access', row });
    return true;
  }

  /** A deleted account leaves the rooms that name it: whoever registers the name next is someone else. */
  #forgetInRooms(account: string): void {
    for (const row of this.#roomAccess.values()) {
      if (row.access !== 'named' || !(row.accounts ?? []).includes(account)) continue;
      const kept: RoomAccessRow = { ...row, accounts: row.accounts!.filter((a) => a !== account) };
      this.#putRoomAccess(kept);
      this.#db.share({ kind: 'room-access', row: kept });
    }
  }

  #putRoomAccess(row: RoomAccessRow): void {
    this.#db.sql('INSERT OR REPLACE INTO room_access (room, access, accounts) VALUES (?, ?, ?)').run(row.room, row.access, JSON.stringify(row.accounts ?? []));
    this.#roomAccess.set(row.room, row);
  }

  // ---- Rooms' history settings ----

  roomHistory(room: string): RoomHistoryRow | undefined {
    return this.#roomHistory.get(room);
  }

  roomHistoryAll(): RoomHistoryRow[] {
    return [...this.#roomHistory.values()];
  }

  /** Sets how a room's messages are kept (an operator's call: refused while the cluster cannot take it). */
  setRoomHistory(row: RoomHistoryRow): void {
    this.#db.checkShared();
    this.#putRoomHistory(row);
    this.#db.share({ kind: 'room-history', row });
  }

  /** From --config: never refused, as configureRoomAccess. */
  configureRoomHistory(row: RoomHistoryRow): void {
    this.#putRoomHistory(row);
    if (this.#db.shared?.available()) this.#db.share({ kind: 'room-history', row });
  }

  #putRoomHistory(row: RoomHistoryRow): void {
    const { room, ...setting } = row;
    this.#db.sql('INSERT OR REPLACE INTO room_history (room, setting) VALUES (?, ?)').run(room, JSON.stringify(setting));
    this.#roomHistory.set(room, row);
  }

  // ---- Other gateways' changes ----

  #apply(change: IdentityChange): void {
    switch (change.kind) {
      case 'account':
        return this.#accounts.put(change.account);
      case 'account-deleted':
        return this.#accounts.deleted(change.nameKey);
      case 'token-rotated':
        return this.#tokens.rotated(change);
      case 'token-revoked':
        return this.#tokens.revoked(change.hash);
      case 'ban': {
        this.#bans.put(change.ban);
        const ban = this.bans().find((b) => b.id === change.ban.id);
        if (ban !== undefined) this.onRemoteBan?.(ban);
        return;
      }
      case 'ban-lifted':
        return this.#bans.lifted(change.id);
      case 'token':
        return this.#tokens.put(change.token);
      case 'tokens-renamed':
        return this.#tokens.renamed(change.identity, change.name);
      case 'tokens-revoked':
        return this.#tokens.revokedAll(change.identity);
      case 'room-access':
        this.#putRoomAccess(change.row);
        this.onRemoteRoomAccess?.(change.row);
        return;
      case 'room-history':
        this.#putRoomHistory(change.row);
        return;
    }
  }

  /** The cluster's accounts and bans win; ours that it lacks (made before this gateway joined) go up to it. */
  #merge(accounts: AccountRow[], bans: BanRow[]): { accounts: AccountRow[]; bans: BanRow[] } {
    const theirAccounts = new Set(accounts.map((a) => a.nameKey));
    const theirBans = new Set(bans.map((b) => b.id));
    const ours = this.#accounts.rows().filter((a) => !theirAccounts.has(a.nameKey));
    const ourBans = this.#bans.rows().filter((b) => !theirBans.has(b.id));
    this.#db.db.transaction(() => {
      for (const account of accounts) this.#accounts.put(account);
      for (const ban of bans) this.#bans.put(ban);
    })();
    return { accounts: ours, bans: ourBans };
  }

  // ---- Audit ----

  audit(entry: Omit<AuditEntry, 'id' | 'at'>): void {
    this.#db
      .sql('INSERT INTO audit (at, actor, address, action, detail) VALUES (?, ?, ?, ?, ?)')
      .run(Date.now(), entry.actor, entry.address, entry.action, JSON.stringify(entry.detail));
  }

  auditLog(limit: number, before?: number): AuditEntry[] {
    const rows = this.#db
      .sql(`SELECT id, at, actor, address, action, detail FROM audit ${before !== undefined ? 'WHERE id < ?' : ''} ORDER BY id DESC LIMIT ?`)
      .all(...(before !== undefined ? [before, limit] : [limit])) as {
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
