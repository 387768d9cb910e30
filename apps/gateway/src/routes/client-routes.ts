import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { ProtocolError } from '@switchboard/protocol';
import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { AdminRouteOptions } from './route-options.js';
import { client, idParams, okId, operatorText, roomName } from './schemas.js';

export interface ClientRouteOptions extends AdminRouteOptions {
  hub: Hub;
  /** --public-read: the member list (with addresses) without admin rights. */
  publicRead: boolean;
}

/** List connected members, kick one, message one or all: the classic server's admin buttons. */
export const clientRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: ClientRouteOptions }> = async (app, { hub, requireAdmin, publicRead }) => {
  app.get(
    '/clients',
    {
      ...(!publicRead && { onRequest: requireAdmin }),
      schema: {
        summary: publicRead ? 'Connected members, TCP and WebSocket (public: --public-read)' : 'Connected members, TCP and WebSocket',
        response: {
          200: {
            description: "Every member of every gateway (a cluster's too), each with its node",
            type: 'object',
            properties: { clients: { type: 'array', items: client } },
            required: ['clients'],
            examples: [{ clients: client.examples }],
          },
        },
      },
    },
    async () => ({
      clients: [
        ...[...hub.members.values()].map((m) => ({
          id: m.id,
          node: hub.node.nodeId,
          name: m.name,
          transport: m.transport,
          address: m.link.address,
          rooms: m.rooms.map((r) => r.name),
          connectedAt: new Date(m.connectedAt).toISOString(),
          legacy: m.legacy,
          state: m.state,
          // A device's counts are what crossed its socket; everyone else's, the frames.
          bytesIn: (m.device?.wire ?? m).bytesIn,
          bytesOut: (m.device?.wire ?? m).bytesOut,
          messagesIn: (m.device?.wire ?? m).messagesIn,
          messagesOut: (m.device?.wire ?? m).messagesOut,
          ...(m.device !== undefined && {
            framing: m.device.origin.framing,
            ...(m.device.origin.listener !== undefined && { listener: m.device.origin.listener }),
            ...(m.device.origin.link !== undefined && { outbound: m.device.origin.link }),
          }),
        })),
        // Members of the other nodes, from this node's replica of the cluster directory.
        ...[...hub.node.directory.all()]
          .filter((record) => record.node !== hub.node.nodeId)
          .map(({ identity: _identity, legacy, connectedAt, ...record }) => ({
            ...record,
            legacy: legacy ?? false,
            state: 'joined' as const,
            connectedAt: new Date(connectedAt).toISOString(),
          })),
      ],
    }),
  );

  app.post(
    '/clients/:id/kick',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'Disconnect a member, telling it and its rooms why',
        errors: ['CLIENT_NOT_FOUND'],
        params: idParams,
        body: { type: ['object', 'null'], properties: { reason: { type: 'string', maxLength: 500 } }, additionalProperties: false },
        response: { 200: { ...okId, description: 'Kicked' } },
      },
    },
    async (request) => {
      const { id } = request.params;
      request.auditTarget = hub.node.directory.get(id)?.name;
      if (!(await hub.kick(id, request.body?.reason))) throw new GatewayError('CLIENT_NOT_FOUND', `No connected client has id "${id}".`);
      return { ok: true, id };
    },
  );

  app.post(
    '/clients/:id/messages',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'Send one member a private notice from the server',
        errors: ['CLIENT_NOT_FOUND'],
        params: idParams,
        body: { type: 'object', properties: { text: operatorText }, required: ['text'], additionalProperties: false },
        response: { 200: { ...okId, description: 'Sent' } },
      },
    },
    async (request) => {
      const { id } = request.params;
      request.auditTarget = hub.node.directory.get(id)?.name;
      if (!(await hub.tell(id, request.body.text))) throw new GatewayError('CLIENT_NOT_FOUND', `No connected client has id "${id}".`);
      return { ok: true, id };
    },
  );

  app.post(
    '/broadcast',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'Send a server notice to one room or to everyone',
        errors: ['ROOM_NOT_FOUND', 'TEXT_TOO_LONG', 'CLUSTER_UNAVAILABLE'],
        body: { type: 'object', properties: { text: operatorText, room: roomName }, required: ['text'], additionalProperties: false },
        response: {
          200: {
            description: 'Sent: how many it reached',
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              delivered: { type: 'integer', description: 'Members reached on the nodes that answered' },
              unanswered: { type: 'array', items: { type: 'string' }, description: 'Cluster nodes that did not answer in time (empty on one node)' },
            },
            required: ['ok', 'delivered', 'unanswered'],
            examples: [{ ok: true, delivered: 12, unanswered: [] }],
          },
        },
      },
    },
    async (request) => {
      try {
        return { ok: true, ...(await hub.broadcast(request.body.text, request.body.room)) };
      } catch (error) {
        if (error instanceof ProtocolError) throw new GatewayError(error.code, error.message);
        throw error;
      }
    },
  );
};
