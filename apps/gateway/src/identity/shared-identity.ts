import type { RoomHistoryRow } from '../history/history-setting.js';
import type { RoomAccessRow } from '../room-access.js';
import type { Role } from './accounts.js';

/** An account as stored: the scrypt salt and hash, never the password. */
export interface AccountRow {
  nameKey: string;
  name: string;
  /** base64 */
  salt: string;
  /** base64 */
  hash: string;
  params: string;
  role: Role;
  createdAt: number;
  /** What its private history belongs to; absent from gateways older than account identities (then `account:<nameKey>`). */
  identity?: string;
}

export interface BanRow {
  id: number;
  kind: 'ip' | 'cidr' | 'name' | 'account';
  value: string;
  reason: string;
  createdAt: number;
  expiresAt: number | null;
}

export interface TokenRow {
  /** The SHA-256 of the token, hex: the token itself is never stored. */
  hash: string;
  identity: string;
  name: string;
  account: string | null;
  expiresAt: number;
  /** The SHA-256 (hex) of the token that replaced it, while it is in its grace (TOKEN_GRACE_MS). */
  rotatedTo?: string;
}

/** One change to who may be whom, as every gateway of a cluster applies it. */
export type IdentityChange =
  | { kind: 'account'; account: AccountRow }
  | { kind: 'account-deleted'; nameKey: string }
  | { kind: 'ban'; ban: BanRow }
  | { kind: 'ban-lifted'; id: number }
  | { kind: 'token'; token: TokenRow }
  | { kind: 'tokens-renamed'; identity: string; name: string }
  /** A token was used and replaced by `successor`: it works until `expiresAt`, the ones it replaced stop. */
  | { kind: 'token-rotated'; hash: string; successor: string; expiresAt: number }
  /** Signed out: the token and the ones it replaced stop. */
  | { kind: 'token-revoked'; hash: string }
  /** A new password or a deleted account ends the account's sessions (every token of its identity). */
  | { kind: 'tokens-revoked'; identity: string }
  /** Who may join and speak in a room (room-access.ts). */
  | { kind: 'room-access'; row: RoomAccessRow }
  /** How a room's messages are kept (history/history-setting.ts). */
  | { kind: 'room-history'; row: RoomHistoryRow };

/**
 * Identity shared by the gateways of a cluster (Redis: cluster/redis-identity.ts). Each gateway
 * keeps its own SQLite copy, which it reads from; the store tells the cluster each change it
 * makes, applies the others' changes, and asks the cluster for a token it has not seen (one
 * issued by another gateway). Accounts and bans are few and copied whole; tokens are fetched
 * when presented.
 */
export interface SharedIdentity {
  /** Whether changes can be shared now (false while Redis is unreachable: they are refused). */
  available(): boolean;
  /** Shares a change; settles once every gateway has been sent it (failures are logged, not thrown). */
  changed(change: IdentityChange): Promise<void>;
  tokenByHash(hash: string): Promise<TokenRow | undefined>;
  /**
   * Other gateways' changes, and after (re)joining the cluster's whole set of accounts and bans:
   * `merge` takes them in and returns this gateway's rows the cluster lacks (made before it joined).
   */
  follow(handlers: { apply(change: IdentityChange): void; merge(accounts: AccountRow[], bans: BanRow[]): { accounts: AccountRow[]; bans: BanRow[] } }): void;
}
