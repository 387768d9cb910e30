import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import type { NewRule } from '../devices/auto-replies.js';
import { lastingScope, trafficKeyOf } from '../devices/traffic-keys.js';
import { describeEntry, trafficCsv, trafficText } from '../devices/traffic-log.js';
import { adminOnly } from './openapi.js';
import type { AdminRouteOptions } from './route-options.js';
import { errorResponses, idParams, macro, macroBody, rule, ruleBody, trafficEntry } from './schemas.js';

/** The device console's server side: traffic logs, auto-reply rules, shared macros. All admin. */
export const consoleRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: AdminRouteOptions }> = async (app, { requireAdmin }) => {
  adminOnly(app, requireAdmin);

  app.get(
    '/clients/:id/traffic',
    {
      schema: {
        summary:
          "A device's recent traffic, in the gateway's order (seq): JSON (with connection events), CSV (time, direction, length, hex, text, auto) or text",
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
      const key = trafficKeyOf(app.hub, app.deviceLinks, request.params.id);
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

  app.get(
    '/rules',
    {
      schema: {
        summary: 'Auto-reply rules',
        response: { 200: { type: 'object', properties: { rules: { type: 'array', items: rule } }, required: ['rules'] }, ...errorResponses },
      },
    },
    async () => ({
      rules: app.rules.list(),
    }),
  );

  app.post(
    '/rules',
    { schema: { summary: 'Add an auto-reply rule (runs in the gateway, stored)', body: ruleBody, response: { 201: rule, ...errorResponses } } },
    async (request, reply) => reply.code(201).send(app.rules.add(request.body as NewRule, (scope) => lastingScope(app.hub, app.deviceLinks, scope))),
  );

  app.delete(
    '/rules/:id',
    { schema: { summary: 'Remove a rule', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (request, reply) => {
      app.rules.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/macros',
    {
      schema: {
        summary: 'Console macros, shared by everyone',
        response: { 200: { type: 'object', properties: { macros: { type: 'array', items: macro } }, required: ['macros'] }, ...errorResponses },
      },
    },
    async () => ({
      macros: app.macros.list(),
    }),
  );

  app.post('/macros', { schema: { summary: 'Save a macro', body: macroBody, response: { 201: macro, ...errorResponses } } }, async (request, reply) =>
    reply.code(201).send(app.macros.add(request.body)),
  );

  app.delete(
    '/macros/:id',
    { schema: { summary: 'Remove a macro', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (request, reply) => {
      app.macros.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );
};
