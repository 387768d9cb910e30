import type { FastifyPluginAsyncJsonSchemaToTs, JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyRequest } from 'fastify';
import { NAME_RULE, isValidName } from '@switchboard/protocol';
import { parseAddressRule } from '../address-match.js';
import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { BanKind } from '../identity/identity-store.js';
import { adminOnly } from './openapi.js';
import type { AdminRouteOptions } from './route-options.js';

export interface IdentityRouteOptions extends AdminRouteOptions {
  hub: Hub;
}

const password = { type: 'string', minLength: 8, maxLength: 256 } as const;
const account = {
  title: 'Account',
  type: 'object',
  properties: { name: { type: 'string' }, role: { type: 'string', enum: ['user', 'admin'] }, createdAt: { type: 'string' } },
  required: ['name', 'role', 'createdAt'],
  additionalProperties: false,
  examples: [{ name: 'alice', role: 'user', createdAt: '2026-11-22T00:04:10.002Z' }],
} as const;
const ban = {
  title: 'Ban',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string', enum: ['ip', 'cidr', 'name', 'account'] },
    value: { type: 'string' },
    reason: { type: 'string' },
    createdAt: { type: 'string' },
    expiresAt: { type: ['string', 'null'] },
  },
  required: ['id', 'kind', 'value', 'reason', 'createdAt', 'expiresAt'],
  additionalProperties: false,
  examples: [{ id: 3, kind: 'cidr', value: '198.51.100.0/24', reason: 'scanning', createdAt: '2026-11-22T00:04:10.002Z', expiresAt: null }],
} as const;
const nameParams = { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 32 } }, required: ['name'] } as const;

/** Accounts, bans and the audit log (PROTOCOL.md §3 for signing in over the wire). */
export const identityRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: IdentityRouteOptions }> = async (app, { hub, requireAdmin }) => {
  const { store, config } = hub.identity;

  /** Whether the caller passes the admin guard, without failing the request. */
  const isAdmin = async (request: FastifyRequest): Promise<boolean> =>
    requireAdmin(request).then(
      () => true,
      () => false,
    );

  app.post(
    '/accounts',
    {
      schema: {
        summary: 'Register a name with a password (--registration open: anyone; admin: operators); `role` needs an operator',
        body: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1, maxLength: 32 }, password, role: { type: 'string', enum: ['user', 'admin'] } },
          required: ['name', 'password'],
          additionalProperties: false,
        },
        errors: ['REGISTRATION_CLOSED', 'NAME_INVALID', 'NAME_TAKEN', 'CLUSTER_UNAVAILABLE'],
        response: { 201: { ...account, description: 'The new account' } },
      },
    },
    async (request, reply) => {
      const { name, role = 'user' } = request.body;
      const admin = await isAdmin(request);
      if (hub.config.identity.registration === 'closed')
        throw new GatewayError('REGISTRATION_CLOSED', 'This gateway takes no new accounts (--registration closed).');
      if ((config.registration === 'admin' || role === 'admin') && !admin) {
        throw new GatewayError(
          'REGISTRATION_CLOSED',
          role === 'admin' ? 'Only an operator can create an operator account.' : 'Only operators create accounts here (--registration admin).',
        );
      }
      if (!isValidName(name)) throw new GatewayError('NAME_INVALID', `"${name}" is not a valid name: use ${NAME_RULE}.`);
      if (!(await store.register(name, request.body.password, role))) throw new GatewayError('NAME_TAKEN', `"${name}" is registered already.`);
      await store.shared(); // in force on every gateway of a cluster before the caller hears it is done
      return reply.code(201).send(store.account(name)!);
    },
  );

  app.post(
    '/sessions/sign-out',
    {
      schema: {
        summary: 'Sign out: the resume token in `Authorization: Bearer <token>` (and any it replaced) stops working',
        errors: ['UNAUTHORIZED', 'CLUSTER_UNAVAILABLE'],
        headers: { type: 'object', properties: { authorization: { type: 'string' } } },
        response: { 204: { type: 'null', description: 'Signed out (also when the token was unknown or signed out already)' } },
      },
    },
    async (request, reply) => {
      const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (token === undefined) throw new GatewayError('UNAUTHORIZED', 'Sign-out needs `Authorization: Bearer <resume token>`.');
      // Unknown or already revoked is the same answer (signing out twice is no error), but only a
      // token that exists is revoked: a stranger's guesses cost the cluster nothing.
      if ((await store.findToken(token)) !== undefined) store.revokeToken(token);
      await store.shared();
      return reply.code(204).send(null);
    },
  );

  await app.register(async (scope) => {
    const admin = scope.withTypeProvider<JsonSchemaToTsProvider>();
    adminOnly(scope, requireAdmin);

    admin.get(
      '/accounts',
      {
        schema: {
          summary: 'Accounts',
          response: {
            200: {
              description: 'Every account',
              type: 'object',
              properties: { accounts: { type: 'array', items: account } },
              required: ['accounts'],
              examples: [{ accounts: account.examples }],
            },
          },
        },
      },
      async () => ({
        accounts: store.accounts(),
      }),
    );

    admin.delete(
      '/accounts/:name',
      {
        schema: {
          summary: 'Delete an account (its sessions end)',
          errors: ['ACCOUNT_NOT_FOUND', 'CLUSTER_UNAVAILABLE'],
          params: nameParams,
          response: { 204: { type: 'null', description: 'Deleted' } },
        },
      },
      async (request, reply) => {
        const { name } = request.params;
        const identity = store.deleteAccount(name);
        if (identity === undefined) throw new GatewayError('ACCOUNT_NOT_FOUND', `No account is named "${name}".`);
        await store.shared();
        // Its members on every gateway (the directory knows whose each connection is).
        await hub.revokeSessions(identity, 'Your account was deleted by an administrator; this session has ended.');
        return reply.code(204).send(null);
      },
    );

    admin.post(
      '/accounts/:name/password',
      {
        schema: {
          summary: "Reset an account's password (its sessions end with SESSION_REVOKED and its resume tokens stop working)",
          errors: ['ACCOUNT_NOT_FOUND', 'CLUSTER_UNAVAILABLE'],
          params: nameParams,
          body: { type: 'object', properties: { password }, required: ['password'], additionalProperties: false },
          response: { 204: { type: 'null', description: 'Set (its sessions ended)' } },
        },
      },
      async (request, reply) => {
        const identity = await store.setPassword(request.params.name, request.body.password);
        if (identity === undefined) throw new GatewayError('ACCOUNT_NOT_FOUND', `No account is named "${request.params.name}".`);
        await store.shared();
        await hub.revokeSessions(identity, 'Your password was reset by an administrator: sign in again with the new one.');
        return reply.code(204).send(null);
      },
    );

    admin.get(
      '/bans',
      {
        schema: {
          summary: 'Bans in force',
          response: {
            200: {
              description: 'Every ban in force',
              type: 'object',
              properties: { bans: { type: 'array', items: ban } },
              required: ['bans'],
              examples: [{ bans: ban.examples }],
            },
          },
        },
      },
      async () => ({
        bans: store.bans(),
      }),
    );

    admin.post(
      '/bans',
      {
        schema: {
          summary: 'Ban an IP address, a CIDR block, a name or an account; matching members are disconnected',
          body: {
            type: 'object',
            properties: {
              ip: { type: 'string', maxLength: 64 },
              cidr: { type: 'string', maxLength: 64 },
              name: { type: 'string', maxLength: 32 },
              account: { type: 'string', maxLength: 32 },
              reason: { type: 'string', minLength: 1, maxLength: 500 },
              expiresAt: { type: 'string', format: 'date-time' },
            },
            required: ['reason'],
            additionalProperties: false,
          },
          errors: ['BAN_INVALID', 'CLUSTER_UNAVAILABLE'],
          response: { 201: { ...ban, description: 'The ban, in force' } },
        },
      },
      async (request, reply) => {
        const { reason, expiresAt, ...target } = request.body;
        const kinds = Object.keys(target) as BanKind[];
        if (kinds.length !== 1) throw new GatewayError('VALIDATION_FAILED', 'Give exactly one of ip, cidr, name or account.');
        const kind = kinds[0]!;
        const value = target[kind]!;
        // Parsed as the matcher will parse it: a value that could never match is refused, not stored.
        if (kind === 'ip' && parseAddressRule(value, { prefix: 'none' }) === undefined) {
          throw new GatewayError('BAN_INVALID', `"${value}" is not an IPv4 or IPv6 address like 192.0.2.7 or 2001:db8::7.`);
        }
        if (kind === 'cidr' && parseAddressRule(value, { prefix: 'required' }) === undefined) {
          throw new GatewayError('BAN_INVALID', `"${value}" is not a CIDR block like 10.0.0.0/8 or 2001:db8::/32.`);
        }
        const until = expiresAt === undefined ? null : Date.parse(expiresAt);
        const added = store.addBan(kind, value, reason, until);
        for (const member of [...hub.members.values()]) {
          if (hub.identity.banFor(member.link.ip, member.name, member.account)?.id === added.id) await hub.ban(member.id, `Banned: ${reason}`);
        }
        await store.shared();
        return reply.code(201).send(added);
      },
    );

    admin.delete(
      '/bans/:id',
      {
        schema: {
          summary: 'Lift a ban',
          errors: ['BAN_NOT_FOUND', 'CLUSTER_UNAVAILABLE'],
          params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
          response: { 204: { type: 'null', description: 'Lifted' } },
        },
      },
      async (request, reply) => {
        const ban = store.bans().find((b) => b.id === request.params.id);
        if (ban !== undefined) request.auditTarget = `${ban.kind} ${ban.value}`;
        if (!store.removeBan(request.params.id)) throw new GatewayError('BAN_NOT_FOUND', `No ban has id ${request.params.id}.`);
        await store.shared();
        return reply.code(204).send(null);
      },
    );

    admin.get(
      '/audit',
      {
        schema: {
          summary: 'Admin actions: who, from where, what, when (newest last)',
          querystring: {
            type: 'object',
            properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 }, before: { type: 'integer', minimum: 1 } },
            additionalProperties: false,
          },
          response: {
            200: {
              description: 'The entries, oldest first',
              type: 'object',
              properties: {
                entries: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      id: { type: 'integer' },
                      at: { type: 'string' },
                      actor: { type: 'string' },
                      address: { type: 'string' },
                      action: { type: 'string' },
                      detail: { type: 'object', additionalProperties: true },
                    },
                    required: ['id', 'at', 'actor', 'address', 'action', 'detail'],
                  },
                },
              },
              required: ['entries'],
              examples: [
                {
                  entries: [
                    {
                      id: 88,
                      at: '2026-11-22T00:04:10.002Z',
                      actor: 'account:root',
                      address: '127.0.0.1',
                      action: 'POST /api/clients/:id/kick',
                      detail: { params: { id: 'm3' }, body: { reason: 'flooding' } },
                    },
                  ],
                },
              ],
            },
          },
        },
      },
      async (request) => ({ entries: store.auditLog(request.query.limit, request.query.before).map((entry) => ({ ...entry, detail: { ...entry.detail } })) }),
    );
  });
};

/** Never a password or a token in the audit log. */
export function redacted(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, /password|token/i.test(key) ? '[redacted]' : redacted(v)]));
}
