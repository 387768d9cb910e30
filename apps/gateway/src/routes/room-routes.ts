import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { ProtocolError } from '@switchboard/protocol';
import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { AdminRouteOptions } from './listener-routes.js';
import { ADMIN_SECURITY } from './openapi.js';
import { errorResponses, historyPage, room } from './schemas.js';

export interface RoomRouteOptions extends AdminRouteOptions {
  hub: Hub;
  /** --public-read: one room's history without admin rights. */
  publicRead: boolean;
}

/**
 * Rooms and stored history. A room's history is public, as it is to any member; history
 * across rooms, which holds private messages, is for operators (HistoryService holds the rules).
 */
export const roomRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: RoomRouteOptions }> = async (app, { hub, requireAdmin, publicRead }) => {
  app.get(
    '/rooms',
    {
      schema: {
        summary: 'Rooms with members now',
        response: { 200: { type: 'object', properties: { rooms: { type: 'array', items: room } }, required: ['rooms'] }, ...errorResponses },
      },
    },
    async () => ({ rooms: hub.listRooms() }),
  );

  app.get(
    '/history',
    {
      schema: {
        summary: publicRead
          ? 'Stored messages, newest last: one room (public: --public-read), or everything with private messages (admin)'
          : 'Stored messages, newest last: one room, or everything with private messages (admin; --no-public-read)',
        ...(!publicRead && { security: ADMIN_SECURITY }),
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
        response: { 200: historyPage, ...errorResponses },
      },
    },
    async (request) => {
      const { room: roomName, before, after, limit } = request.query;
      try {
        if (!publicRead) await requireAdmin(request);
        if (roomName !== undefined) return hub.history.room(roomName, { before, after, limit });
        await requireAdmin(request);
        return hub.history.forOperator({ before, after, limit });
      } catch (error) {
        if (error instanceof ProtocolError) throw new GatewayError(error.code, error.message);
        throw error;
      }
    },
  );
};
