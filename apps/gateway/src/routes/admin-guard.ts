import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import type { Identity } from '../identity/identity.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who passed the admin guard, for the audit log: `token`, `account:NAME` or `loopback`. */
    actor?: string;
  }
}

export function isLoopback(ip: string | undefined): boolean {
  if (ip === undefined) return false;
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

/**
 * Admin routes take the bearer admin token, or the resume token of an account with the `admin`
 * role (an operator signed in on the page); with no admin token configured, loopback callers
 * too, so a fresh install is not open to the network.
 */
export function adminGuard(token: string | null, identity: Identity): (request: FastifyRequest) => Promise<void> {
  const expected = token === null ? null : Buffer.from(`Bearer ${token}`);
  return async (request) => {
    const header = request.headers.authorization ?? '';
    const given = Buffer.from(header);
    if (expected !== null && given.length === expected.length && timingSafeEqual(given, expected)) {
      request.actor = 'token';
      return;
    }
    const bearer = /^Bearer (\S+)$/.exec(header)?.[1];
    const owner = bearer === undefined ? undefined : await identity.store.findToken(bearer);
    if (owner?.account != null && identity.store.account(owner.account)?.role === 'admin') {
      request.actor = `account:${owner.account}`;
      return;
    }
    if (expected === null) {
      if (!isLoopback(request.socket.remoteAddress)) {
        throw new GatewayError('FORBIDDEN', 'No admin token is configured, so admin calls are accepted from loopback addresses (or operators signed in) only.');
      }
      request.actor = 'loopback';
      return;
    }
    throw new GatewayError('UNAUTHORIZED', 'This call needs `Authorization: Bearer <token>` with the admin token, or an operator\'s session token.');
  };
}
