import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import type { NewRule } from '../devices/auto-replies.js';
import { lastingScope, trafficKeyOf } from '../devices/traffic-keys.js';
import { describeEntry, trafficCsv, trafficText } from '../devices/traffic-log.js';
import { adminOnly } from './openapi.js';
import type { AdminRouteOptions } from './route-options.js';
import { idParams, macro, macroBody, rule, ruleBody, trafficEntry } from './schemas.js';

const gone = { type: 'null', description: 'Removed' } as const;

/** The device console's server side: traffic logs, auto-reply rules, shared macros. All admin. */
export const consoleRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: AdminRouteOptions }> = async (app, { requireAdmin }) => {
  adminOnly(app, requireAdmin);

  app.get(
    '/clients/:id/traffic',
    {
      schema: {
        summary:
          "A device's recent traffic, in the gateway's order (seq): JSON (with connection events), CSV (time, direction, length, hex, text, auto) or text",
        errors: ['DEVICE_NOT_FOUND'],
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
            description: 'The entries, oldest first, in the format asked for',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    entries: { type: 'array', items: trafficEntry },
                    cap: { type: 'integer', description: 'How many entries the gateway keeps per device' },
                    next: { type: 'integer', description: 'The seq the next entry will get' },
                  },
                  required: ['entries', 'cap', 'next'],
                  additionalProperties: false,
                  examples: [{ entries: trafficEntry.examples, cap: 1000, next: 18 }],
                },
              },
              'text/csv': { schema: { type: 'string', description: 'time,direction,length,hex,text,auto; one row per entry' } },
              'text/plain': { schema: { type: 'string', description: 'One line per entry' } },
            },
          },
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
        response: {
          200: {
            description: 'Every rule',
            type: 'object',
            properties: { rules: { type: 'array', items: rule } },
            required: ['rules'],
            examples: [{ rules: rule.examples }],
          },
        },
      },
    },
    async () => ({
      rules: app.rules.list(),
    }),
  );

  app.post(
    '/rules',
    {
      schema: {
        summary: 'Add an auto-reply rule (runs in the gateway, stored)',
        errors: ['RULE_PATTERN_INVALID', 'DEVICE_NOT_FOUND'],
        body: ruleBody,
        response: { 201: { ...rule, description: 'The rule, in force' } },
      },
    },
    async (request, reply) => reply.code(201).send(app.rules.add(request.body as NewRule, (scope) => lastingScope(app.hub, app.deviceLinks, scope))),
  );

  app.delete(
    '/rules/:id',
    { schema: { summary: 'Remove a rule', errors: ['RULE_NOT_FOUND'], params: idParams, response: { 204: gone } } },
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
        response: {
          200: {
            description: 'Every macro',
            type: 'object',
            properties: { macros: { type: 'array', items: macro } },
            required: ['macros'],
            examples: [{ macros: macro.examples }],
          },
        },
      },
    },
    async () => ({
      macros: app.macros.list(),
    }),
  );

  app.post(
    '/macros',
    { schema: { summary: 'Save a macro', body: macroBody, response: { 201: { ...macro, description: 'The macro, saved' } } } },
    async (request, reply) => reply.code(201).send(app.macros.add(request.body)),
  );

  app.delete(
    '/macros/:id',
    { schema: { summary: 'Remove a macro', errors: ['MACRO_NOT_FOUND'], params: idParams, response: { 204: gone } } },
    async (request, reply) => {
      app.macros.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );
};
