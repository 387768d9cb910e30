import { randomBytes } from 'node:crypto';
import { ProtocolError, type ClientMessageOf } from '@switchboard/protocol';
import { addressMatches, inBlock, parseAddressRule, parseCidr } from '../address-match.js';
import { AttemptLimiter, attemptAddress, type AttemptLimit } from './attempt-limiter.js';
import { lookAlikeKey } from './look-alike.js';
import type { Ban, IdentityStore, Role } from './identity-store.js';

export interface IdentityConfig {
  /** Who may register: anyone, operators only, or nobody. */
  registration: 'open' | 'admin' | 'closed';
  /** Only accounts may join... */
  requireLogin: boolean;
  /** ...and, with this, plain devices and device links too. */
  requireLoginDevices: boolean;
  tokenTtlMs: number;
}

/** Who a connection is, once signed in. `identity` is what private history belongs to. */
export interface SignedIn {
  identity: string;
  name: string;
  account: string | null;
  role: Role | null;
  /** The resume token for welcome: issued (or, for a token hello, rotated) only once the welcome is certain. */
  token(): string;
}

/** Failed sign-ins allowed within FAILURE_WINDOW_MS from one address for one name; past them, AUTH_RATE_LIMITED. */
export const MAX_FAILURES = 10;
/** ...from one address for all names together (an IPv6 address counts by its /64)... */
export const MAX_FAILURES_PER_ADDRESS = 30;
/** ...and for one name from everywhere: high, so locking an account out takes many addresses. */
export const MAX_FAILURES_PER_NAME = 300;
export const FAILURE_WINDOW_MS = 60_000;
/** How many counters the failure table holds at most (docs/identity-and-security.md, "Identity"). */
export const MAX_FAILURE_KEYS = 50_000;

/**
 * Who may be whom: a registered name needs its password or a token; a guest gets an identity
 * of its own (a later guest who takes the freed name is someone else); every sign-in gets a
 * resume token, and a token used gets a new one. Sign-ins that can fail are limited per
 * (address, name), per address and per name, each attempt counted before it is evaluated.
 */
export class Identity {
  readonly #attempts = new AttemptLimiter(FAILURE_WINDOW_MS, MAX_FAILURE_KEYS);

  constructor(
    readonly store: IdentityStore,
    readonly config: IdentityConfig,
  ) {}

  /** Signs a hello in, or throws AUTH_REQUIRED, AUTH_FAILED, AUTH_RATE_LIMITED, NAME_TAKEN or BANNED. */
  async signIn(hello: Pick<ClientMessageOf<'hello'>, 'password' | 'token'>, name: string, ip: string): Promise<SignedIn> {
    const ttl = this.config.tokenTtlMs;
    if (hello.token !== undefined) {
      const used = hello.token;
      // Counted per address only: a token names nobody until it is found.
      const owner = await this.#attempt(ip, undefined, () => this.store.findToken(used));
      if (owner.account === null) {
        // A guest's token: only while guests are admitted, and never for a name since registered.
        if (this.config.requireLogin) throw new ProtocolError('AUTH_REQUIRED', 'This gateway admits accounts only: register, then sign in.');
        const account = this.store.account(owner.name);
        if (account !== undefined)
          throw new ProtocolError(
            'NAME_TAKEN',
            `"${owner.name}" is now the registered account "${account.name}": say hello under another name (without the token).`,
          );
      }
      const role = owner.account === null ? null : (this.store.account(owner.account)?.role ?? null);
      this.#checkBans(ip, owner.name, owner.account);
      return { ...owner, role, token: () => this.store.rotateToken(used, owner, ttl) };
    }
    const account = this.store.accountIdentity(name);
    if (account !== undefined) {
      if (hello.password === undefined) throw new ProtocolError('AUTH_REQUIRED', `"${account.name}" is a registered account: sign in with its password.`);
      const password = hello.password;
      await this.#attempt(
        ip,
        account.name,
        async () => ((await this.store.verify(account.name, password)) ? true : undefined),
        `Wrong password for "${account.name}".`,
      );
      this.#checkBans(ip, account.name, account.nameKey);
      const owner = { identity: account.identity, name: account.name, account: account.nameKey };
      return { ...owner, role: account.role, token: () => this.store.issueToken(owner, ttl) };
    }
    if (this.config.requireLogin) throw new ProtocolError('AUTH_REQUIRED', 'This gateway admits accounts only: register, then sign in.');
    this.#checkBans(ip, name, null);
    const owner = { identity: `guest:${randomBytes(12).toString('base64url')}`, name, account: null };
    return { ...owner, role: null, token: () => this.store.issueToken(owner, ttl) };
  }

  /**
   * Runs one sign-in check that can fail (a password, a token) under the limits: its place is
   * reserved before it runs, so parallel attempts cannot all slip under the limit; undefined
   * from `check` is a failure (AUTH_FAILED with `failure`).
   */
  async #attempt<T>(
    ip: string,
    name: string | undefined,
    check: () => Promise<T | undefined>,
    failure = 'That token is unknown or expired: sign in again.',
  ): Promise<T> {
    const reservation = this.#attempts.reserve(signInLimits(ip, name));
    if ('full' in reservation) {
      throw new ProtocolError(
        'AUTH_RATE_LIMITED',
        reservation.full === undefined
          ? 'Too many sign-ins are failing on this gateway right now; try again later.'
          : `More than ${reservation.full.max} failed sign-ins ${reservation.full.key.startsWith('name:') ? 'for this name' : 'from your address'} in ${FAILURE_WINDOW_MS / 1000} s; try again later.`,
      );
    }
    let result: T | undefined;
    try {
      result = await check();
    } finally {
      reservation.settle(result === undefined);
    }
    if (result === undefined) throw new ProtocolError('AUTH_FAILED', failure);
    return result;
  }

  /** The ban in force for this address, name or account, if any. */
  banFor(ip: string, name?: string, account?: string | null): Ban | undefined {
    return this.store.bans().find((ban) => {
      switch (ban.kind) {
        case 'ip': {
          const rule = parseAddressRule(ban.value, { prefix: 'none' });
          return rule !== undefined && addressMatches(ip, rule);
        }
        case 'cidr': {
          const cidr = parseCidr(ban.value);
          return cidr !== undefined && inBlock(ip, cidr.block, cidr.prefix);
        }
        // Names by look-alike key: a ban on mallory also holds Cyrillic mаllory.
        case 'name':
          return name !== undefined && lookAlikeKey(name) === lookAlikeKey(ban.value);
        case 'account':
          return account != null && lookAlikeKey(account) === lookAlikeKey(ban.value);
      }
    });
  }

  #checkBans(ip: string, name: string, account: string | null): void {
    const ban = this.banFor(ip, name, account);
    if (ban !== undefined) throw bannedError(ban);
  }
}

/**
 * What one sign-in attempt is counted under (MAX_FAILURES and the two after it). A token
 * attempt (no name) counts per address alone: a name-wide counter for tokens would let anyone
 * stop every token sign-in.
 */
function signInLimits(ip: string, name: string | undefined): AttemptLimit[] {
  const address = attemptAddress(ip);
  if (name === undefined) {
    return [
      { key: `address-token:${address}`, max: MAX_FAILURES },
      { key: `address:${address}`, max: MAX_FAILURES_PER_ADDRESS },
    ];
  }
  const nameKey = lookAlikeKey(name);
  return [
    { key: `address-name:${address} ${nameKey}`, max: MAX_FAILURES },
    { key: `address:${address}`, max: MAX_FAILURES_PER_ADDRESS },
    { key: `name:${nameKey}`, max: MAX_FAILURES_PER_NAME },
  ];
}

export function bannedError(ban: Ban): ProtocolError {
  const until = ban.expiresAt === null ? '' : ` (until ${ban.expiresAt})`;
  return new ProtocolError('BANNED', `Banned${until}: ${ban.reason}`);
}
