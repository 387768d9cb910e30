import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyRequest } from 'fastify';
import { ProtocolError, isValidName } from '@switchboard/protocol';
import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import { historySettingBody, historySettingProblem, normalHistory, type EffectiveHistory } from '../history/history-setting.js';
import { OPEN_ROOM, normalAccess, type RoomAccess, type RoomVisitor } from '../room-access.js';
import { ADMIN_ERRORS, ADMIN_SECURITY } from './openapi.js';
import type { AdminRouteOptions } from './route-options.js';
import { historyPage, room, roomAccessBody } from './schemas.js';

export interface RoomRouteOptions extends AdminRouteOptions {
  hub: Hub;
  /** --public-read: one room's history without admin rights. */
  publicRead: boolean;
}

/**
 * Rooms, who may use them, and stored history. A room's history is for whoever may join the
 * room (anyone, unless it is restricted); history across rooms, which holds private messages, is
 * for operators (HistoryService holds the rules).
 */
export const roomRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: RoomRouteOptions }> = async (app, { hub, requireAdmin, publicRead }) => {
  const store = hub.identity.store;
  const withAccess = (name: string, members: number): { name: string; members: number; history: EffectiveHistory } & RoomAccess => ({
    name,
    members,
    ...normalAccess(store.roomAccess(name) ?? OPEN_ROOM),
    history: hub.history.historyOf(name),
  });
  const membersOf = (name: string): number => hub.listRooms().find((r) => r.name === name)?.members ?? 0;

  /** Who calls, for a restricted room's history: an operator, an account by its session token, or nobody in particular. */
  async function visitorOf(request: FastifyRequest): Promise<RoomVisitor> {
    try {
      await requireAdmin(request);
      return { account: null, role: 'admin' };
    } catch {
      const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      const owner = bearer === undefined ? undefined : await store.findToken(bearer);
      if (owner?.account == null) return { account: null, role: null };
      return { account: owner.account, role: store.account(owner.account)?.role ?? null };
    }
  }

  app.get(
    '/rooms',
    {
      schema: {
        summary: 'Rooms with members now, and rooms with an access or history setting, each with who may use it and how its messages are kept',
        response: {
          200: {
            description: 'Every room, with its members on this gateway, its access and its history setting',
            type: 'object',
            properties: { rooms: { type: 'array', items: room } },
            required: ['rooms'],
            examples: [
              {
                rooms: [
                  ...room.examples,
                  { name: 'cell1', members: 0, access: 'named', accounts: ['alice'], history: { mode: 'memory', size: 100, ttlSeconds: 3600 } },
                ],
              },
            ],
          },
        },
      },
    },
    async () => {
      const rooms = hub.listRooms();
      const listed = new Set(rooms.map((r) => r.name));
      const set = [...new Set([...store.roomAccessAll(), ...store.roomHistoryAll()].map((r) => r.room))]
        .filter((name) => !listed.has(name))
        .map((name) => ({ name, members: 0 }));
      return { rooms: [...rooms, ...set].map((r) => withAccess(r.name, r.members)) };
    },
  );

  /** The route options of a PUT of one room setting (admin only; the body as `body` says). */
  const roomSettingRoute = <Body extends object>(summary: string, body: Body, description: string) => ({
    onRequest: requireAdmin,
    schema: {
      summary,
      errors: ['ROOM_INVALID', 'CLUSTER_UNAVAILABLE'] as const,
      params: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 32 } }, required: ['name'] } as const,
      body,
      response: { 200: { ...room, description } },
    },
  });

  /**
   * A PUT of one room setting: the name checked, `keep` validates and stores the setting, the
   * cluster has it before `then` runs and the room is answered as it is now.
   */
  async function setRoom(name: string, keep: () => void, then?: () => void): Promise<ReturnType<typeof withAccess>> {
    if (!isValidName(name)) throw new GatewayError('ROOM_INVALID', `"${name}" is not a valid room name.`);
    keep();
    await store.shared();
    then?.();
    return withAccess(name, membersOf(name));
  }

  app.put(
    '/rooms/:name',
    roomSettingRoute(
      'Set who may join a room, read its history and speak in it (members it no longer admits are taken out)',
      roomAccessBody,
      'The room with its access now',
    ),
    async (request) => {
      const { name } = request.params;
      const { access, accounts } = request.body;
      return setRoom(
        name,
        () => {
          if (access === 'named' && (accounts === undefined || accounts.length === 0))
            throw new GatewayError('VALIDATION_FAILED', 'access "named" needs `accounts`: the accounts it admits.');
          if (access !== 'named' && accounts !== undefined) throw new GatewayError('VALIDATION_FAILED', '`accounts` goes with access "named" only.');
          store.setRoomAccess({ room: name, ...normalAccess({ access, accounts }) });
        },
        () => hub.roomAccessChanged(name),
      );
    },
  );

  app.put(
    '/rooms/:name/history',
    roomSettingRoute(
      'Set how a room keeps its messages: durable (the database), memory (the last `size`, none older than `ttlSeconds`) or none',
      historySettingBody,
      'The room with its history setting now (size and TTL filled in for memory)',
    ),
    async (request) => {
      const { name } = request.params;
      return setRoom(name, () => {
        const problem = historySettingProblem(request.body);
        if (problem !== undefined) throw new GatewayError('VALIDATION_FAILED', problem);
        store.setRoomHistory({ room: name, ...normalHistory(request.body) });
      });
    },
  );

  app.get(
    '/history',
    {
      schema: {
        summary: publicRead
          ? 'Stored messages, newest last: one room (whoever the room admits: anyone, unless it is restricted), or everything with private messages (admin)'
          : 'Stored messages, newest last: one room, or everything with private messages (admin; --no-public-read)',
        description:
          'With several gateways, a room this gateway does not serve (no member of it here) is first read up from the cluster, so every gateway answers the whole room. Everything (no `room`) is what this gateway keeps: the rooms it serves or once read, and its members\' private conversations (docs/several-gateways.md, "How rooms are routed"), ordered by time then id, `before`/`after` placed where their entry stands (an id this gateway does not keep: INVALID_MESSAGE; PROTOCOL.md §6).',
        ...(!publicRead && { security: ADMIN_SECURITY }),
        // Across rooms (no `room`) needs the admin guard whatever --public-read says.
        errors: ['ROOM_INVALID', 'ROOM_FORBIDDEN', 'INVALID_MESSAGE', 'CLUSTER_UNAVAILABLE', ...ADMIN_ERRORS],
        querystring: {
          type: 'object',
          properties: {
            room: { type: 'string', minLength: 1, maxLength: 32 },
            before: { type: 'integer', minimum: 1 },
            after: { type: 'integer', minimum: 0 },
            // Above the page limit it is clamped, as on the wire (PROTOCOL.md §6).
            limit: { type: 'integer', minimum: 1, default: 50 },
          },
          additionalProperties: false,
        },
        response: { 200: { ...historyPage, description: 'A page of stored messages, newest last; `more`: older ones remain' } },
      },
    },
    async (request) => {
      const { room: roomName, before, after, limit } = request.query;
      try {
        if (!publicRead) await requireAdmin(request);
        if (roomName !== undefined) return await hub.history.roomForReader(await visitorOf(request), roomName, { before, after, limit });
        await requireAdmin(request);
        return hub.history.forOperator({ before, after, limit });
      } catch (error) {
        if (error instanceof ProtocolError) throw new GatewayError(error.code, error.message);
        throw error;
      }
    },
  );
};
