import { randomBytes } from 'node:crypto';
import { ProtocolError, type ClientMessageOf } from '@switchboard/protocol';
import { addressMatches, inBlock, parseAddressRule, parseCidr, plainAddress } from '../address-match.js';
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
  /** The resume token to hand back in welcome. */
  token: string;
}

/** Failed sign-ins allowed per address and per name within FAILURE_WINDOW_MS; past them, AUTH_RATE_LIMITED. */
export const MAX_FAILURES = 10;
export const FAILURE_WINDOW_MS = 60_000;

/**
 * Who may be whom: a registered name needs its password or a token; a guest gets an identity
 * of its own (a later guest who takes the freed name is someone else); every sign-in gets a
 * resume token. Failed sign-ins are limited per address and per name.
 */
export class Identity {
  readonly #failures = new Map<string, number[]>();

  constructor(
    readonly store: IdentityStore,
    readonly config: IdentityConfig,
  ) {}

  /** Signs a hello in, or throws AUTH_REQUIRED, AUTH_FAILED, AUTH_RATE_LIMITED or BANNED. */
  async signIn(hello: Pick<ClientMessageOf<'hello'>, 'password' | 'token'>, name: string, ip: string): Promise<SignedIn> {
    if (hello.token !== undefined) {
      this.#checkRate(ip, name);
      const owner = await this.store.findToken(hello.token);
      if (owner === undefined) {
        this.#fail(ip, name);
        throw new ProtocolError('AUTH_FAILED', 'That token is unknown or expired: sign in again.');
      }
      const role = owner.account === null ? null : (this.store.account(owner.account)?.role ?? null);
      if (owner.account !== null && role === null) throw new ProtocolError('AUTH_FAILED', 'The account of that token was deleted.');
      this.#checkBans(ip, owner.name, owner.account);
      return { ...owner, role, token: hello.token };
    }
    const account = this.store.account(name);
    if (account !== undefined) {
      this.#checkRate(ip, account.name);
      if (hello.password === undefined) throw new ProtocolError('AUTH_REQUIRED', `"${account.name}" is a registered account: sign in with its password.`);
      if (!(await this.store.verify(account.name, hello.password))) {
        this.#fail(ip, account.name);
        throw new ProtocolError('AUTH_FAILED', `Wrong password for "${account.name}".`);
      }
      this.#checkBans(ip, account.name, account.name);
      const owner = { identity: `account:${account.name.toLowerCase()}`, name: account.name, account: account.name.toLowerCase() };
      return { ...owner, role: account.role, token: this.store.issueToken(owner, this.config.tokenTtlMs) };
    }
    if (this.config.requireLogin) throw new ProtocolError('AUTH_REQUIRED', 'This gateway admits accounts only: register, then sign in.');
    this.#checkBans(ip, name, null);
    const owner = { identity: `guest:${randomBytes(12).toString('base64url')}`, name, account: null };
    return { ...owner, role: null, token: this.store.issueToken(owner, this.config.tokenTtlMs) };
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
        case 'name':
          return name !== undefined && name.toLowerCase() === ban.value.toLowerCase();
        case 'account':
          return account != null && account.toLowerCase() === ban.value.toLowerCase();
      }
    });
  }

  #checkBans(ip: string, name: string, account: string | null): void {
    const ban = this.banFor(ip, name, account);
    if (ban !== undefined) throw bannedError(ban);
  }

  #checkRate(ip: string, name: string): void {
    const now = Date.now();
    for (const key of [`ip:${plainAddress(ip)}`, `name:${name.toLowerCase()}`]) {
      const recent = (this.#failures.get(key) ?? []).filter((at) => now - at < FAILURE_WINDOW_MS);
      if (recent.length >= MAX_FAILURES) {
        throw new ProtocolError('AUTH_RATE_LIMITED', `More than ${MAX_FAILURES} failed sign-ins in ${FAILURE_WINDOW_MS / 1000} s; try again later.`);
      }
    }
  }

  #fail(ip: string, name: string): void {
    const now = Date.now();
    if (this.#failures.size > 10_000) this.#failures.clear(); // bounded: a flood of names cannot grow it without end
    for (const key of [`ip:${plainAddress(ip)}`, `name:${name.toLowerCase()}`]) {
      const recent = (this.#failures.get(key) ?? []).filter((at) => now - at < FAILURE_WINDOW_MS);
      recent.push(now);
      this.#failures.set(key, recent);
    }
  }
}

export function bannedError(ban: Ban): ProtocolError {
  const until = ban.expiresAt === null ? '' : ` (until ${ban.expiresAt})`;
  return new ProtocolError('BANNED', `Banned${until}: ${ban.reason}`);
}
