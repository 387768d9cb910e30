import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { AttemptLimiter, attemptAddress } from '../identity/attempt-limiter.js';
import { MAX_FAILURE_KEYS, type Identity } from '../identity/identity.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who passed the admin guard, for the audit log: `token`, `account:NAME` or `loopback`. */
    actor?: string;
    /** Whom or what an opaque id in the path names (a member's name for `m8`), for the audit log. */
    auditTarget?: string;
  }
}

export function isLoopback(ip: string | undefined): boolean {
  if (ip === undefined) return false;
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

/** Wrong admin credentials allowed per address (an IPv6 address by its /64) per window; past them, 429 AUTH_RATE_LIMITED. */
export const MAX_ADMIN_FAILURES = 10;
export const ADMIN_FAILURE_WINDOW_MS = 60_000;

/**
 * Admin routes take the bearer admin token, or the resume token of an account with the `admin`
 * role (an operator signed in on the page); with no admin token configured, loopback callers
 * too, so a fresh install is not open to the network. A request that presents credentials which
 * do not pass is a guess: guesses are limited per address (counted before the comparison, so
 * parallel ones cannot overtake the limit) and each is written to the audit log.
 */
export function adminGuard(token: string | null, identity: Identity): (request: FastifyRequest) => Promise<void> {
  const expected = token === null ? null : Buffer.from(`Bearer ${token}`);
  const guesses = new AttemptLimiter(ADMIN_FAILURE_WINDOW_MS, MAX_FAILURE_KEYS);
  return async (request) => {
    const header = request.headers.authorization;
    // No credentials, or loopback with no token configured (which passes anyway): nothing guessed.
    if (header === undefined || (expected === null && isLoopback(request.socket.remoteAddress))) {
      const actor = header === undefined ? undefined : await check(header);
      if (actor !== undefined) request.actor = actor;
      else refuse(request, expected === null);
      return;
    }
    const reservation = guesses.reserve([{ key: attemptAddress(request.ip), max: MAX_ADMIN_FAILURES }]);
    if ('full' in reservation) {
      throw new GatewayError(
        'AUTH_RATE_LIMITED',
        `More than ${MAX_ADMIN_FAILURES} wrong admin credentials from your address in ${ADMIN_FAILURE_WINDOW_MS / 1000} s; try again later.`,
      );
    }
    let actor: string | undefined;
    try {
      actor = await check(header);
    } finally {
      reservation.settle(actor === undefined);
    }
    if (actor !== undefined) {
      request.actor = actor;
      return;
    }
    identity.store.audit({
      actor: 'anonymous',
      address: request.ip,
      action: 'admin credentials refused',
      detail: { method: request.method, url: request.url.split('?')[0] },
    });
    return refuse(request, expected === null);
  };

  /** Who the credentials make the caller, or undefined when they are neither the admin token nor an operator's session. */
  async function check(header: string): Promise<string | undefined> {
    const given = Buffer.from(header);
    if (expected !== null && given.length === expected.length && timingSafeEqual(given, expected)) return 'token';
    const bearer = /^Bearer (\S+)$/.exec(header)?.[1];
    const owner = bearer === undefined ? undefined : await identity.store.findToken(bearer);
    if (owner?.account != null && identity.store.account(owner.account)?.role === 'admin') return `account:${owner.account}`;
    return undefined;
  }
}

/** No credentials that pass: loopback callers when no admin token is configured, nobody else. */
function refuse(request: FastifyRequest, noTokenConfigured: boolean): void {
  if (noTokenConfigured) {
    if (!isLoopback(request.socket.remoteAddress)) {
      throw new GatewayError('FORBIDDEN', 'No admin token is configured, so admin calls are accepted from loopback addresses (or operators signed in) only.');
    }
    request.actor = 'loopback';
    return;
  }
  throw new GatewayError('UNAUTHORIZED', "This call needs `Authorization: Bearer <token>` with the admin token, or an operator's session token.");
}
