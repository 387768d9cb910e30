import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { isValidName } from '@switchboard/protocol';
import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import { errorResponses, historyPage, room } from './schemas.js';

export interface RoomRouteOptions {
  hub: Hub;
}

/** Rooms and stored history. Read-only, so not behind the admin guard. */
export const roomRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: RoomRouteOptions }> = async (app, { hub }) => {
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
        summary: 'Stored messages, newest last',
        querystring: {
          type: 'object',
          properties: {
            room: { type: 'string', minLength: 1, maxLength: 32 },
            before: { type: 'integer', minimum: 1 },
            after: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: hub.config.history.maxPage, default: 50 },
          },
          additionalProperties: false,
        },
        response: { 200: historyPage, ...errorResponses },
      },
    },
    async (request) => {
      const { room: roomName, before, after, limit } = request.query;
      if (roomName !== undefined && !isValidName(roomName)) throw new GatewayError('ROOM_INVALID', `"${roomName}" is not a valid room name.`);
      return hub.history.query({ room: roomName, before, after, limit });
    },
  );
};
