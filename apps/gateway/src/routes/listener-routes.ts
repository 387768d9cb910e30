import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import type { AdminRouteOptions } from './route-options.js';
import { listenerStatus } from './schemas.js';

/** Start, stop and inspect the TCP listener, like the classic "start listening" endpoint. */
export const listenerRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: AdminRouteOptions }> = async (app, { requireAdmin }) => {
  app.get(
    '/listener',
    { schema: { summary: 'TCP listener status', response: { 200: { ...listenerStatus, description: 'The default listener now' } } } },
    async () => app.tcpListener.status(),
  );

  app.post(
    '/listener/start',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'Start listening for TCP members',
        errors: ['LISTENER_ALREADY_RUNNING', 'ADDRESS_IN_USE', 'ADDRESS_NOT_AVAILABLE', 'PERMISSION_DENIED', 'TOO_MANY_OPEN_FILES'],
        body: {
          type: ['object', 'null'],
          properties: {
            host: { type: 'string', minLength: 1, maxLength: 255 },
            port: { type: 'integer', minimum: 0, maximum: 65535 },
            backlog: { type: 'integer', minimum: 1, maximum: 65535 },
          },
          additionalProperties: false,
        },
        response: { 200: { ...listenerStatus, description: 'The listener now' } },
      },
    },
    async (request) => {
      const body = request.body ?? {};
      return app.tcpListener.start({
        ...(body.host !== undefined && { host: body.host }),
        ...(body.port !== undefined && { port: body.port }),
        ...(body.backlog !== undefined && { backlog: body.backlog }),
      });
    },
  );

  app.post(
    '/listener/stop',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'Stop accepting TCP members (optionally disconnect those connected)',
        errors: ['LISTENER_NOT_RUNNING'],
        body: {
          type: ['object', 'null'],
          properties: { disconnect: { type: 'boolean' } },
          additionalProperties: false,
        },
        response: { 200: { ...listenerStatus, description: 'The listener now' } },
      },
    },
    async (request) => app.tcpListener.stop({ disconnect: request.body?.disconnect === true }),
  );
};
