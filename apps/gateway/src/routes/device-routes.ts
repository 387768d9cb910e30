import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { adminOnly } from './openapi.js';
import type { AdminRouteOptions } from './route-options.js';
import { deviceBody, deviceInfo, errorResponses, idParams, listenerBody, listenerInfo } from './schemas.js';

const listenerList = { type: 'object', properties: { listeners: { type: 'array', items: listenerInfo } }, required: ['listeners'] } as const;
const deviceList = { type: 'object', properties: { devices: { type: 'array', items: deviceInfo } }, required: ['devices'] } as const;
const stopBody = { type: ['object', 'null'], properties: { disconnect: { type: 'boolean' } }, additionalProperties: false } as const;

/** Devices as they are: listeners with their own framing, and outbound links to devices that are servers. All admin. */
export const deviceRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: AdminRouteOptions }> = async (app, { requireAdmin }) => {
  adminOnly(app, requireAdmin);

  app.get('/listeners', { schema: { summary: 'Every TCP listener', response: { 200: listenerList, ...errorResponses } } }, async () => ({
    listeners: app.listeners.list(),
  }));

  app.post(
    '/listeners',
    {
      schema: {
        summary: 'Add a listener (framing frame, line or raw) and start it; it is stored',
        body: listenerBody,
        response: { 201: listenerInfo, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await app.listeners.create(request.body)),
  );

  app.post(
    '/listeners/:id/start',
    { schema: { summary: 'Start a stopped listener', params: idParams, response: { 200: listenerInfo, ...errorResponses } } },
    async (request) => app.listeners.get(request.params.id).start(),
  );

  app.post(
    '/listeners/:id/stop',
    {
      schema: {
        summary: 'Stop accepting (optionally disconnect its members)',
        params: idParams,
        body: stopBody,
        response: { 200: listenerInfo, ...errorResponses },
      },
    },
    async (request) => app.listeners.get(request.params.id).stop({ disconnect: request.body?.disconnect === true }),
  );

  app.delete(
    '/listeners/:id',
    { schema: { summary: 'Stop and remove a listener (not the default one)', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (request, reply) => {
      await app.listeners.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get('/devices', { schema: { summary: 'Outbound device links', response: { 200: deviceList, ...errorResponses } } }, async () => ({
    devices: app.deviceLinks.list(),
  }));

  app.post(
    '/devices',
    {
      schema: {
        summary: 'Dial a device that is a TCP server (within --device-targets); redialed with backoff, stored',
        body: deviceBody,
        response: { 201: deviceInfo, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await app.deviceLinks.create(request.body)),
  );

  app.post(
    '/devices/:id/dial',
    {
      schema: {
        summary: 'A link waiting in backoff dials now (409 LINK_NOT_IN_BACKOFF otherwise)',
        params: idParams,
        response: { 200: deviceInfo, ...errorResponses },
      },
    },
    async (request) => app.deviceLinks.dialNow(request.params.id),
  );

  app.delete(
    '/devices/:id',
    { schema: { summary: 'Hang up and remove a device link', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (request, reply) => {
      request.auditTarget = app.deviceLinks.list().find((device) => device.id === request.params.id)?.name;
      app.deviceLinks.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );
};
