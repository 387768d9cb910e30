import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { trafficKey } from '../devices/accept-device.js';
import type { GivenScope, NewRule, RuleScope } from '../devices/auto-replies.js';
import { plainDeviceKey } from '../devices/plain-device-log.js';
import { describeEntry, trafficCsv, trafficText } from '../devices/traffic-log.js';
import { GatewayError } from '../errors.js';
import type { AdminRouteOptions } from './listener-routes.js';
import { adminOnly } from './openapi.js';
import { errorResponses, idParams, macro, macroBody, rule, ruleBody, trafficEntry } from './schemas.js';

/** The device console's server side: traffic logs, auto-reply rules, shared macros. All admin. */
export const consoleRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: AdminRouteOptions }> = async (app, { requireAdmin }) => {
  adminOnly(app, requireAdmin);

  /** The traffic key of a device member (`m7`: a line/raw listener's, or a plain device) or an outbound link (`d1`, also while it is down). */
  function keyOf(id: string): string {
    const member = app.hub.members.get(id);
    const link = member?.link;
    if (link?.device !== undefined) return trafficKey(link.device, link.address, member!.connectedAt);
    const plain = member === undefined ? undefined : plainDeviceKey(member);
    if (plain !== undefined) return plain;
    if (app.deviceLinks.list().some((d) => d.id === id)) return `link:${id}`;
    throw new GatewayError('DEVICE_NOT_FOUND', `No device member or device link has id "${id}".`);
  }

  /** A rule's `{client}` scope as what outlives the connection: the link, or the listener and the device's address. */
  function lastingScope(scope: GivenScope): RuleScope {
    if (typeof scope !== 'object' || !('client' in scope)) return scope;
    const id = scope.client;
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- a scope's `link` (a union with string), not String.prototype.link
    if (app.deviceLinks.list().some((d) => d.id === id)) return { link: id };
    const link = app.hub.members.get(id)?.link;
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- a scope's `link` (a union with string), not String.prototype.link
    if (link?.device?.link !== undefined) return { link: link.device.link };
    if (link?.device?.listener !== undefined) return { listener: link.device.listener, address: link.ip };
    throw new GatewayError('DEVICE_NOT_FOUND', `No line/raw device member or device link has id "${id}".`);
  }

  app.get(
    '/clients/:id/traffic',
    {
      schema: {
        summary: "A device's recent traffic, in the gateway's order (seq): JSON (with connection events), CSV (time, direction, length, hex, text, auto) or text",
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            format: { type: 'string', enum: ['json', 'csv', 'text'], default: 'json' },
            limit: { type: 'integer', minimum: 1 },
            /** Only entries with a greater `seq`, oldest first (a console follows the log with it). */
            after: { type: 'integer', minimum: -1 },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            anyOf: [
              {
                type: 'object',
                properties: { entries: { type: 'array', items: trafficEntry }, cap: { type: 'integer' }, next: { type: 'integer' } },
                required: ['entries', 'cap', 'next'],
              },
              { type: 'string' },
            ],
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const key = keyOf(request.params.id);
      const entries = app.traffic.entries(key, request.query.limit, request.query.after);
      switch (request.query.format) {
        case 'csv':
          return reply.type('text/csv; charset=utf-8').send(trafficCsv(entries));
        case 'text':
          return reply.type('text/plain; charset=utf-8').send(trafficText(entries));
        default:
          return { entries: entries.map(describeEntry), cap: app.traffic.entriesPerDevice, next: app.traffic.nextSeq(key) };
      }
    },
  );

  app.get('/rules', { schema: { summary: 'Auto-reply rules', response: { 200: { type: 'object', properties: { rules: { type: 'array', items: rule } }, required: ['rules'] }, ...errorResponses } } }, async () => ({
    rules: app.rules.list(),
  }));

  app.post(
    '/rules',
    { schema: { summary: 'Add an auto-reply rule (runs in the gateway, stored)', body: ruleBody, response: { 201: rule, ...errorResponses } } },
    async (request, reply) => reply.code(201).send(app.rules.add(request.body as NewRule, lastingScope)),
  );

  app.delete('/rules/:id', { schema: { summary: 'Remove a rule', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } }, async (request, reply) => {
    app.rules.remove(request.params.id);
    return reply.code(204).send(null);
  });

  app.get('/macros', { schema: { summary: 'Console macros, shared by everyone', response: { 200: { type: 'object', properties: { macros: { type: 'array', items: macro } }, required: ['macros'] }, ...errorResponses } } }, async () => ({
    macros: app.macros.list(),
  }));

  app.post('/macros', { schema: { summary: 'Save a macro', body: macroBody, response: { 201: macro, ...errorResponses } } }, async (request, reply) =>
    reply.code(201).send(app.macros.add(request.body)),
  );

  app.delete('/macros/:id', { schema: { summary: 'Remove a macro', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } }, async (request, reply) => {
    app.macros.remove(request.params.id);
    return reply.code(204).send(null);
  });
};
