import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import type { Hub } from '../hub/hub.js';
import { SERVER_NAME } from '../hub/hub.js';
import { errorResponses } from './schemas.js';

export interface HealthRouteOptions {
  hub: Hub;
}

const startedAt = Date.now();

export const healthRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: HealthRouteOptions }> = async (app, { hub }) => {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness',
        response: {
          200: {
            type: 'object',
            properties: { status: { type: 'string' }, version: { type: 'string' }, uptimeMs: { type: 'integer' }, members: { type: 'integer' } },
            required: ['status', 'version', 'uptimeMs', 'members'],
          },
          ...errorResponses,
        },
      },
    },
    async () => ({ status: 'ok', version: SERVER_NAME, uptimeMs: Date.now() - startedAt, members: hub.members.size }),
  );

  app.get(
    '/config',
    {
      schema: {
        summary: 'Limits a client should know',
        response: {
          200: {
            type: 'object',
            properties: {
              maxFrameLength: { type: 'integer' },
              maxFileBytes: { type: 'integer' },
              maxTextBytes: { type: 'integer' },
              historyLimit: { type: 'integer' },
              adminTokenRequired: { type: 'boolean' },
            },
            required: ['maxFrameLength', 'maxFileBytes', 'maxTextBytes', 'historyLimit', 'adminTokenRequired'],
          },
          ...errorResponses,
        },
      },
    },
    async () => ({
      maxFrameLength: hub.config.limits.maxFrameLength,
      maxFileBytes: hub.config.limits.maxFileBytes,
      maxTextBytes: hub.config.limits.maxTextBytes,
      historyLimit: hub.config.history.maxPage,
      adminTokenRequired: hub.config.security.adminToken !== null,
    }),
  );
};
