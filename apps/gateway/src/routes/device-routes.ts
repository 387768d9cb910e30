import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { adminOnly } from './openapi.js';
import type { AdminRouteOptions } from './route-options.js';
import { deviceBody, deviceInfo, idParams, listenerBody, listenerInfo } from './schemas.js';

const listenerList = {
  description: 'Every listener, the default one first',
  type: 'object',
  properties: { listeners: { type: 'array', items: listenerInfo } },
  required: ['listeners'],
  examples: [{ listeners: listenerInfo.examples }],
} as const;
const deviceList = {
  description: 'Every outbound device link',
  type: 'object',
  properties: { devices: { type: 'array', items: deviceInfo } },
  required: ['devices'],
  examples: [{ devices: deviceInfo.examples }],
} as const;
const gone = { type: 'null', description: 'Removed' } as const;
/** Why a listener cannot listen (errors.ts, fromListenError). */
const listenErrors = ['ADDRESS_IN_USE', 'ADDRESS_NOT_AVAILABLE', 'PERMISSION_DENIED', 'TOO_MANY_OPEN_FILES'] as const;
const stopBody = { type: ['object', 'null'], properties: { disconnect: { type: 'boolean' } }, additionalProperties: false } as const;

/** Devices as they are: listeners with their own framing, and outbound links to devices that are servers. All admin. */
export const deviceRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: AdminRouteOptions }> = async (app, { requireAdmin }) => {
  adminOnly(app, requireAdmin);

  app.get('/listeners', { schema: { summary: 'Every TCP listener', response: { 200: listenerList } } }, async () => ({
    listeners: app.listeners.list(),
  }));

  app.post(
    '/listeners',
    {
      schema: {
        summary: 'Add a listener (framing frame, line or raw) and start it; it is stored',
        errors: ['LISTENER_EXISTS', 'ROOM_INVALID', ...listenErrors],
        body: listenerBody,
        response: { 201: { ...listenerInfo, description: 'The new listener, listening' } },
      },
    },
    async (request, reply) => reply.code(201).send(await app.listeners.create(request.body)),
  );

  app.post(
    '/listeners/:id/start',
    {
      schema: {
        summary: 'Start a stopped listener',
        errors: ['LISTENER_NOT_FOUND', 'LISTENER_ALREADY_RUNNING', ...listenErrors],
        params: idParams,
        response: { 200: { ...listenerInfo, description: 'The listener, listening' } },
      },
    },
    async (request) => app.listeners.get(request.params.id).start(),
  );

  app.post(
    '/listeners/:id/stop',
    {
      schema: {
        summary: 'Stop accepting (optionally disconnect its members)',
        errors: ['LISTENER_NOT_FOUND', 'LISTENER_NOT_RUNNING'],
        params: idParams,
        body: stopBody,
        response: { 200: { ...listenerInfo, description: 'The listener, stopped' } },
      },
    },
    async (request) => app.listeners.get(request.params.id).stop({ disconnect: request.body?.disconnect === true }),
  );

  app.delete(
    '/listeners/:id',
    {
      schema: {
        summary: 'Stop and remove a listener (not the default one)',
        errors: ['LISTENER_NOT_FOUND', 'LISTENER_IS_DEFAULT'],
        params: idParams,
        response: { 204: gone },
      },
    },
    async (request, reply) => {
      await app.listeners.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get('/devices', { schema: { summary: 'Outbound device links', response: { 200: deviceList } } }, async () => ({
    devices: app.deviceLinks.list(),
  }));

  app.post(
    '/devices',
    {
      schema: {
        summary: 'Dial a device that is a TCP server (within --device-targets); redialed with backoff, stored',
        errors: ['LISTENER_EXISTS', 'TARGET_NOT_ALLOWED', 'NAME_TAKEN', 'ROOM_INVALID'],
        body: deviceBody,
        response: { 201: { ...deviceInfo, description: 'The new link, dialing' } },
      },
    },
    async (request, reply) => reply.code(201).send(await app.deviceLinks.create(request.body)),
  );

  app.post(
    '/devices/:id/dial',
    {
      schema: {
        summary: 'A link waiting in backoff dials now (409 LINK_NOT_IN_BACKOFF otherwise)',
        errors: ['DEVICE_NOT_FOUND', 'LINK_NOT_IN_BACKOFF'],
        params: idParams,
        response: { 200: { ...deviceInfo, description: 'The link, dialing' } },
      },
    },
    async (request) => app.deviceLinks.dialNow(request.params.id),
  );

  app.delete(
    '/devices/:id',
    { schema: { summary: 'Hang up and remove a device link', errors: ['DEVICE_NOT_FOUND'], params: idParams, response: { 204: gone } } },
    async (request, reply) => {
      request.auditTarget = app.deviceLinks.list().find((device) => device.id === request.params.id)?.name;
      app.deviceLinks.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );
};
