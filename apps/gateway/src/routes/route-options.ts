import type { FastifyRequest } from 'fastify';

/** What every admin route plugin is given: the guard app.ts builds (admin-guard.ts). */
export interface AdminRouteOptions {
  requireAdmin: (request: FastifyRequest) => Promise<void>;
}
