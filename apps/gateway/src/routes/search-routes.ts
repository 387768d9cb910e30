import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { ProtocolError } from '@switchboard/protocol';
import { GatewayError } from '../errors.js';
import { MAX_SEARCH_LENGTH, SEARCH_PAGE } from '../history/history-service.js';
import { readerOf } from './reader.js';
import type { RoomRouteOptions } from './room-routes.js';
import { ADMIN_ERRORS } from './openapi.js';
import { historyEntry } from './schemas.js';

const searchPage = {
  type: 'object',
  properties: { q: { type: 'string' }, entries: { type: 'array', items: historyEntry }, more: { type: 'boolean' } },
  required: ['q', 'entries', 'more'],
  additionalProperties: false,
  description: 'Hits newest first; `more`: older ones remain (ask again with `before`)',
  examples: [{ q: 'pump pressure', entries: historyEntry.examples, more: false }],
} as const;

/**
 * `GET /api/search?q=`: full-text search of stored history (docs/chat.md, "Search"), by the rules of
 * the `search` request (PROTOCOL.md §6). Who reads what comes from the credentials: a member's
 * resume token reads what that member may read, an operator (admin token or an operator's
 * token) everything, and a caller without credentials the rooms only (public read).
 */
export const searchRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: RoomRouteOptions }> = async (app, { hub, requireAdmin, publicRead }) => {
  app.get(
    '/search',
    {
      schema: {
        summary:
          "Search stored messages and file names: a member's resume token reads what that member may read, an operator everything, no credentials the rooms",
        description:
          'Searches what this gateway keeps. With several gateways that is the rooms it serves (has a member in) or once read, and its members\' private conversations; ask a gateway that serves a room (`?node=`) for the rest (docs/several-gateways.md, "How rooms are routed").',
        // Credentials that are not a member's token must pass the admin guard (reader.ts).
        errors: ['ROOM_INVALID', 'ROOM_FORBIDDEN', 'INVALID_MESSAGE', ...ADMIN_ERRORS],
        querystring: {
          type: 'object',
          properties: {
            q: { type: 'string', minLength: 1, maxLength: MAX_SEARCH_LENGTH, description: 'Words to find (each as a prefix; all must occur)' },
            room: { type: 'string', minLength: 1, maxLength: 32 },
            before: {
              type: 'integer',
              minimum: 1,
              description:
                'Hits older than this id (the next page); without `room`, older than where that hit stands in time (an id this gateway did not give you: INVALID_MESSAGE)',
            },
            limit: { type: 'integer', minimum: 1, default: SEARCH_PAGE, description: 'At most 100' },
          },
          required: ['q'],
          additionalProperties: false,
        },
        response: { 200: searchPage },
      },
    },
    async (request) => {
      const searcher = await readerOf(request, hub, requireAdmin, publicRead);
      try {
        return { q: request.query.q, ...hub.history.search(searcher, request.query) };
      } catch (error) {
        if (error instanceof ProtocolError) throw new GatewayError(error.code, error.message);
        throw error;
      }
    },
  );
};
