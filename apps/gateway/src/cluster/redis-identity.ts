import type { RoomHistoryRow } from '../history/history-setting.js';
import type { RoomAccessRow } from '../room-access.js';
import type { AccountRow, BanRow, IdentityChange, SharedIdentity, TokenRow } from '../identity/shared-identity.js';
import type { ScriptName } from './redis-scripts.js';

/** What the identity needs of the cluster's Redis connection. */
export interface RedisPort {
  prefix: string;
  ready(): boolean;
  // Properties, not methods: #write takes them off the port.
  command: (args: (string | Buffer)[]) => Promise<unknown>;
  run: (script: ScriptName, keys: string[], args: string[]) => Promise<unknown>;
  /** Tells every other gateway (on the cluster's bus, after the writes before it). */
  broadcast(change: IdentityChange): void;
  logError(what: string, error: Error): void;
}

/**
 * Accounts, bans and resume tokens shared by the gateways on one Redis. Accounts and bans are
 * two hashes (`accounts`, `bans`) that every gateway copies whole into its SQLite at start and
 * after Redis comes back, and keeps current from the changes others broadcast. Tokens are one
 * key each (`token:<sha256>`, expiring with the token) plus a set per identity for renames and
 * revocations and a set per token of the tokens it replaced (rotation); a gateway fetches one when it is presented there for the first time.
 */
export class RedisIdentity implements SharedIdentity {
  #handlers: Parameters<SharedIdentity['follow']>[0] | undefined;
  readonly #keys: {
    accounts: string;
    bans: string;
    rooms: string;
    roomHistory: string;
    token: string;
    tokensOf: (identity: string) => string;
    predecessors: (hash: string) => string;
  };

  constructor(private readonly port: RedisPort) {
    this.#keys = {
      accounts: `${port.prefix}accounts`,
      bans: `${port.prefix}bans`,
      rooms: `${port.prefix}room-access`,
      roomHistory: `${port.prefix}room-history`,
      token: `${port.prefix}token:`,
      tokensOf: (identity) => `${port.prefix}tokens-of:${identity}`,
      // The tokens a token replaced, still in their grace (TOKEN_GRACE_MS): they stop when it is used.
      predecessors: (hash) => `${port.prefix}token-predecessors:${hash}`,
    };
  }

  available(): boolean {
    return this.port.ready();
  }

  changed(change: IdentityChange): Promise<void> {
    return this.#write(change).then(
      () => this.port.broadcast(change),
      (error: unknown) => this.port.logError(`sharing an identity change (${change.kind})`, error as Error),
    );
  }

  async tokenByHash(hash: string): Promise<TokenRow | undefined> {
    if (!this.port.ready()) return undefined;
    const value = (await this.port.command(['GET', this.#keys.token + hash])) as string | null;
    if (value === null) return undefined;
    return { hash, ...(JSON.parse(value) as Omit<TokenRow, 'hash'>) };
  }

  follow(handlers: Parameters<SharedIdentity['follow']>[0]): void {
    this.#handlers = handlers;
    // The cluster joined before the store existed: take in its accounts and bans now.
    if (this.port.ready()) this.resync().catch((error: unknown) => this.port.logError('reading the shared accounts and bans', error as Error));
  }

  /** Another gateway's change, from the bus. */
  received(change: IdentityChange): void {
    this.#handlers?.apply(change);
  }

  /** After (re)joining: the cluster's accounts and bans in, ours it lacks out. */
  async resync(): Promise<void> {
    const handlers = this.#handlers;
    if (handlers === undefined) return;
    const accounts = ((await this.port.command(['HVALS', this.#keys.accounts])) as string[]).map((v) => JSON.parse(v) as AccountRow);
    const bans = ((await this.port.command(['HVALS', this.#keys.bans])) as string[]).map((v) => JSON.parse(v) as BanRow);
    const missing = handlers.merge(accounts, bans);
    for (const account of missing.accounts) {
      await this.port.command(['HSETNX', this.#keys.accounts, account.nameKey, JSON.stringify(account)]);
      this.port.broadcast({ kind: 'account', account });
    }
    for (const ban of missing.bans) {
      await this.port.command(['HSETNX', this.#keys.bans, String(ban.id), JSON.stringify(ban)]);
      this.port.broadcast({ kind: 'ban', ban });
    }
    // Rooms' access: the cluster's settings win, as accounts' do.
    for (const value of (await this.port.command(['HVALS', this.#keys.rooms])) as string[])
      handlers.apply({ kind: 'room-access', row: JSON.parse(value) as RoomAccessRow });
    for (const value of (await this.port.command(['HVALS', this.#keys.roomHistory])) as string[])
      handlers.apply({ kind: 'room-history', row: JSON.parse(value) as RoomHistoryRow });
  }

  async #write(change: IdentityChange): Promise<void> {
    const { command, run } = this.port;
    switch (change.kind) {
      case 'account':
        await command(['HSET', this.#keys.accounts, change.account.nameKey, JSON.stringify(change.account)]);
        return;
      case 'account-deleted':
        await command(['HDEL', this.#keys.accounts, change.nameKey]);
        return;
      case 'ban':
        await command(['HSET', this.#keys.bans, String(change.ban.id), JSON.stringify(change.ban)]);
        return;
      case 'ban-lifted':
        await command(['HDEL', this.#keys.bans, String(change.id)]);
        return;
      case 'token': {
        const { hash, ...owner } = change.token;
        const ttl = String(Math.max(1, change.token.expiresAt - Date.now()));
        const set = this.#keys.tokensOf(owner.identity);
        await Promise.all([
          command(['SET', this.#keys.token + hash, JSON.stringify(owner), 'PX', ttl]),
          command(['SADD', set, hash]),
          command(['PEXPIRE', set, ttl, 'GT']),
        ]);
        // PEXPIRE GT leaves a set without a TTL alone: give a new one its first.
        await command(['PEXPIRE', set, ttl, 'NX']);
        return;
      }
      case 'tokens-renamed':
        await run('renameTokens', [this.#keys.tokensOf(change.identity)], [this.#keys.token, change.name]);
        return;
      case 'room-access':
        await command(['HSET', this.#keys.rooms, change.row.room, JSON.stringify(change.row)]);
        return;
      case 'room-history':
        await command(['HSET', this.#keys.roomHistory, change.row.room, JSON.stringify(change.row)]);
        return;
      case 'tokens-revoked':
        await run('revokeTokens', [this.#keys.tokensOf(change.identity)], [this.#keys.token]);
        return;
      case 'token-rotated':
        await run(
          'rotateToken',
          [this.#keys.token + change.hash, this.#keys.predecessors(change.hash), this.#keys.predecessors(change.successor)],
          [this.#keys.token, change.hash, change.successor, String(change.expiresAt)],
        );
        return;
      case 'token-revoked':
        await run('revokeToken', [this.#keys.token + change.hash, this.#keys.predecessors(change.hash)], [this.#keys.token]);
        return;
    }
  }
}
