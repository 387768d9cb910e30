import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { descriptorPressure, openDescriptors } from '../http-connections.js';
import type { Hub } from '../hub/hub.js';
import { SERVER_NAME } from '../hub/hub.js';
import { readStats, type StatsHistory } from '../stats-history.js';
import { serverConfig, serverStats, statsHistory } from './schemas.js';

export interface HealthRouteOptions {
  hub: Hub;
  requireAdmin: (request: import('fastify').FastifyRequest) => Promise<void>;
  /** The readings the admin page's charts open with. */
  statsHistory: StatsHistory;
}

const startedAt = Date.now();

export const healthRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: HealthRouteOptions }> = async (app, { hub, requireAdmin, statsHistory: history }) => {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness',
        response: {
          200: {
            description: 'Up: `ok`, or `degraded` with why',
            type: 'object',
            properties: {
              status: {
                type: 'string',
                enum: ['ok', 'degraded'],
                description:
                  'degraded: the cluster (Redis) is unreachable (messages are refused with CLUSTER_UNAVAILABLE), or open descriptors are above 90 % of the limit',
              },
              version: { type: 'string' },
              uptimeMs: { type: 'integer' },
              members: { type: 'integer', description: 'Connections on this node' },
              node: { type: 'string', description: 'This gateway node' },
              cluster: { type: 'string', description: 'Why the status is degraded' },
              descriptors: {
                type: 'object',
                description: 'File descriptors: open now, the limit (ulimit -n; null where unknown), and whether open is above 90 % of it',
                properties: { open: { type: 'integer' }, limit: { type: ['integer', 'null'] }, pressure: { type: 'boolean' } },
                required: ['open', 'limit', 'pressure'],
              },
              httpConnections: {
                type: 'object',
                description:
                  'HTTP connections open now (WebSockets count as members once open), the cap in total, and how many were refused at a cap since the start',
                properties: { open: { type: 'integer' }, max: { type: 'integer' }, refused: { type: 'integer' } },
                required: ['open', 'max', 'refused'],
              },
            },
            required: ['status', 'version', 'uptimeMs', 'members', 'node', 'descriptors', 'httpConnections'],
            examples: [
              {
                status: 'ok',
                version: 'switchboard/0.1.0',
                uptimeMs: 5123,
                members: 2,
                node: 'local',
                descriptors: { open: 41, limit: 1024, pressure: false },
                httpConnections: { open: 1, max: 256, refused: 0 },
              },
            ],
          },
        },
      },
    },
    async () => {
      const cluster = hub.node.status();
      const descriptors = descriptorPressure();
      const { httpConnections } = app;
      return {
        status: cluster.ok && !descriptors.pressure ? ('ok' as const) : ('degraded' as const),
        version: SERVER_NAME,
        uptimeMs: Date.now() - startedAt,
        members: hub.members.size,
        node: hub.node.nodeId,
        ...(cluster.detail !== undefined && { cluster: cluster.detail }),
        descriptors: { ...descriptors },
        httpConnections: { open: httpConnections.open, max: httpConnections.max, refused: httpConnections.refused },
      };
    },
  );

  app.get(
    '/config',
    {
      schema: {
        summary: 'Limits a client should know',
        response: {
          200: { ...serverConfig, description: 'The limits' },
        },
      },
    },
    async () => ({
      maxFrameLength: hub.config.limits.maxFrameLength,
      maxFileBytes: hub.config.limits.maxFileBytes,
      maxTextBytes: hub.config.limits.maxTextBytes,
      historyLimit: hub.config.history.maxPage,
      adminTokenRequired: hub.config.security.adminToken !== null,
      registration: hub.config.identity.registration,
      loginRequired: hub.config.identity.requireLogin,
    }),
  );

  app.get(
    '/stats',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'Process figures an operator watches: members, memory, open descriptors',
        response: {
          200: { ...serverStats, description: 'The figures now, and running totals since the start' },
        },
      },
    },
    async () => {
      const memory = process.memoryUsage();
      const { connections, framesIn, deliveries, queuedBytes, errorsSent } = readStats(hub);
      return {
        members: hub.members.size,
        rooms: hub.rooms.size,
        queuedBytes,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        openDescriptors: openDescriptors(),
        uptimeMs: Date.now() - startedAt,
        connections,
        framesIn,
        deliveries,
        errorsSent,
      };
    },
  );

  app.get(
    '/stats/history',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'The last minutes of what the admin charts draw, one reading a second (oldest first)',
        response: {
          200: { ...statsHistory, description: 'One reading a second for the last ten minutes, oldest first' },
        },
      },
    },
    async () => ({ everyMs: history.everyMs, readings: [...history.readings()] }),
  );
};
