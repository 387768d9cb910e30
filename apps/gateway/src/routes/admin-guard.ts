import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';

export function isLoopback(ip: string | undefined): boolean {
  if (ip === undefined) return false;
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

/**
 * Admin routes need the bearer token when one is configured; with none configured they are
 * accepted from loopback addresses only, so a fresh install is not open to the network.
 */
export function adminGuard(token: string | null): (request: FastifyRequest) => Promise<void> {
  const expected = token === null ? null : Buffer.from(`Bearer ${token}`);
  return async (request) => {
    if (expected === null) {
      if (!isLoopback(request.socket.remoteAddress)) {
        throw new GatewayError('FORBIDDEN', 'No admin token is configured, so admin calls are accepted from loopback addresses only.');
      }
      return;
    }
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new GatewayError('UNAUTHORIZED', 'This call needs `Authorization: Bearer <token>` with the admin token.');
    }
  };
}
