import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { DEFAULT_LISTENER_ID } from '../devices/listener-registry.js';
import type { Hub } from '../hub/hub.js';
import { switchboardMetrics } from '../metrics.js';

export interface OperationsOptions {
  hub: Hub;
  requireAdmin: (request: FastifyRequest) => Promise<void>;
  /** --metrics-public: /metrics without admin rights. */
  metricsPublic: boolean;
}

const probe = {
  type: 'object',
  properties: { status: { type: 'string' }, reasons: { type: 'array', items: { type: 'string' } } },
  required: ['status'],
  additionalProperties: false,
} as const;

/**
 * What orchestrators and Prometheus read: `/livez` (the event loop turns), `/readyz` (the
 * listeners it should have are bound, the history database takes writes, no shutdown has
 * begun: a load balancer drains it first), and `/metrics` (prom-client: process metrics and
 * `switchboard_*`, no per-member or per-room labels).
 */
export async function operationsRoutes(app: FastifyInstance, { hub, requireAdmin, metricsPublic }: OperationsOptions): Promise<void> {
  app.get(
    '/livez',
    { schema: { summary: 'Live while the event loop turns', response: { 200: { ...probe, description: 'Live', examples: [{ status: 'live' }] } } } },
    async () => ({ status: 'live' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Ready for traffic: listeners bound, history writable, not shutting down (503 otherwise)',
        response: {
          200: { ...probe, description: 'Ready', examples: [{ status: 'ready' }] },
          503: { ...probe, description: 'Not ready, and why', examples: [{ status: 'not ready', reasons: ['shutting down'] }] },
        },
      },
    },
    async (_request, reply) => {
      const reasons: string[] = [];
      if (hub.shuttingDown) reasons.push('shutting down');
      for (const listener of app.listeners.list()) {
        const expected = listener.id !== DEFAULT_LISTENER_ID || hub.config.tcp.autoStart;
        if (expected && !listener.listening)
          reasons.push(`listener ${listener.id} is not listening${listener.lastError ? `: ${listener.lastError.message}` : ''}`);
      }
      if (!hub.history.writable()) reasons.push('the history database does not take writes');
      return reasons.length === 0 ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reasons });
    },
  );

  const register = new Registry();
  collectDefaultMetrics({ register });
  const metrics = switchboardMetrics(register, hub, app);
  app.get(
    '/metrics',
    {
      ...(!metricsPublic && { onRequest: requireAdmin }),
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        response: {
          200: {
            description: 'The metrics, as Prometheus scrapes them',
            content: { 'text/plain': { schema: { type: 'string', description: 'Prometheus text exposition format 0.0.4' } } },
          },
        },
      },
    },
    async (_request, reply) => reply.type(register.contentType).send(await metrics.render()),
  );
}
