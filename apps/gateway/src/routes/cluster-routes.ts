import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';

export interface ClusterRouteOptions {
  hub: Hub;
  requireAdmin: (request: FastifyRequest) => Promise<void>;
}

/**
 * The gateway nodes of the cluster, and `?node=` on any /api call: an operator on one node
 * acts on another (its listeners, devices, stats), the call run there as if made there.
 */
export const clusterRoutes: FastifyPluginAsync<ClusterRouteOptions> = async (app, { hub }) => {
  app.get(
    '/nodes',
    {
      schema: {
        summary: 'The gateway nodes of this cluster (one, without --redis-url), with their members',
        description:
          'Any /api call takes `?node=ID` (admin): it runs on that node and answers as it would there; 404 NODE_NOT_FOUND for an unknown node, 504 NODE_UNAVAILABLE when it does not answer within --cluster-timeout-ms.',
        response: {
          200: {
            description: 'The live nodes, sorted by id',
            type: 'object',
            properties: {
              node: { type: 'string', description: 'The node that answered' },
              nodes: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { id: { type: 'string' }, members: { type: 'integer' }, self: { type: 'boolean' } },
                  required: ['id', 'members', 'self'],
                  additionalProperties: false,
                },
              },
            },
            required: ['node', 'nodes'],
            examples: [
              {
                node: 'gw-a',
                nodes: [
                  { id: 'gw-a', members: 7, self: true },
                  { id: 'gw-b', members: 5, self: false },
                ],
              },
            ],
          },
        },
      },
    },
    async () => {
      const counts = new Map<string, number>([[hub.node.nodeId, 0], ...hub.node.bus.peers().map((id): [string, number] => [id, 0])]);
      for (const record of hub.node.directory.all()) counts.set(record.node, (counts.get(record.node) ?? 0) + 1);
      const nodes = [...counts].map(([id, members]) => ({ id, members, self: id === hub.node.nodeId })).sort((a, b) => a.id.localeCompare(b.id));
      return { node: hub.node.nodeId, nodes };
    },
  );
};

/** `?node=` on an /api call: checked for admin rights here, run on that node, its answer passed back as it is. */
export function forwardToNode(hub: Hub, requireAdmin: (request: FastifyRequest) => Promise<void>) {
  return async (request: FastifyRequest, reply: import('fastify').FastifyReply): Promise<void> => {
    const query = request.query as Record<string, unknown> | undefined;
    const node = query?.node;
    if (typeof node !== 'string') return;
    delete query!.node; // the route's own query schema does not know it
    if (node === hub.node.nodeId) return;
    // Forwarded calls run on the other node from loopback: only an operator may forward.
    await requireAdmin(request);
    if (!hub.node.bus.peers().includes(node)) throw new GatewayError('NODE_NOT_FOUND', `No live gateway node is named "${node}".`);
    const url = request.url.replace(/([?&])node=[^&]*(&|$)/, (_match, lead: string, tail: string) => (tail === '&' ? lead : '')).replace(/\?$/, '');
    const answer = await hub.node.bus.forward(node, { method: request.method, url, body: request.body, authorization: request.headers.authorization });
    if (answer === undefined) throw new GatewayError('NODE_UNAVAILABLE', `Node "${node}" did not answer within ${hub.config.cluster.timeoutMs} ms.`);
    if (answer.contentType !== undefined) reply.header('content-type', answer.contentType);
    await reply.code(answer.status).send(answer.body);
  };
}

/** Runs calls other nodes forward here, through this node's own routes and guards. */
export function serveForwardedCalls(app: FastifyInstance, hub: Hub): void {
  hub.node.bus.serveCalls(async (call) => {
    const response = await app.inject({
      method: call.method as 'GET',
      url: call.url,
      ...(call.body !== undefined && call.body !== null && { payload: call.body }),
      headers: call.authorization === undefined ? {} : { authorization: call.authorization },
      remoteAddress: '127.0.0.1',
    });
    const contentType = response.headers['content-type'];
    return { status: response.statusCode, body: response.body, contentType: typeof contentType === 'string' ? contentType : undefined };
  });
}
