import type { FastifyRequest } from 'fastify';
import type { Searcher } from '../history/history-service.js';
import type { Hub } from '../hub/hub.js';

/**
 * Who an HTTP caller reads stored history as (search, kept files): a member's resume token
 * (`Authorization: Bearer <token>`) reads what that member may read (rooms that admit its
 * account, hub/room-access.ts), an operator's token or the
 * admin token everything, and a caller without credentials the rooms only (--public-read; else
 * it must pass the admin guard, which lets loopback callers in when no admin token is set).
 */
export async function readerOf(
  request: FastifyRequest,
  hub: Hub,
  requireAdmin: (request: FastifyRequest) => Promise<void>,
  publicRead: boolean,
): Promise<Searcher> {
  const header = request.headers.authorization;
  const bearer = header === undefined ? undefined : /^Bearer (\S+)$/.exec(header)?.[1];
  const owner = bearer === undefined ? undefined : await hub.identity.store.findToken(bearer);
  if (owner !== undefined) {
    const role = owner.account === null ? null : (hub.identity.store.account(owner.account)?.role ?? null);
    return role === 'admin' ? { operator: true } : { operator: false, identity: owner.identity, visitor: { account: owner.account, role } };
  }
  // Other credentials must be the admin token (or, with none configured, a loopback caller).
  if (header !== undefined || !publicRead) {
    await requireAdmin(request);
    return { operator: true };
  }
  return { operator: false, identity: null, visitor: { account: null, role: null } };
}
