import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyRequest, FastifySchema, RouteOptions } from 'fastify';
import { GatewayErrorCodes, httpStatusOf, type GatewayErrorCode } from '../errors.js';
import { SERVER_NAME } from '../hub/hub.js';
import { PROTOCOL_URL, protocolPageRoutes } from './protocol-page.js';
import { errorBody } from './schemas.js';

declare module 'fastify' {
  interface FastifySchema {
    /**
     * The error codes this route gives of its own (CLIENT_NOT_FOUND...). Those every route of
     * its kind gives (HOST_NOT_ALLOWED, VALIDATION_FAILED, the admin guard's...) are added by
     * `openApiPlugin`; each becomes a response of its status with the shared error body.
     */
    errors?: readonly GatewayErrorCode[];
  }
}

/** The API's sections in /docs, by path; one home for where a route is listed. */
const TAGS: [RegExp, string, string][] = [
  [/^\/api\/(health|config|stats)|^\/(livez|readyz|metrics)/, 'operations', 'Liveness, readiness, limits, process figures and Prometheus metrics'],
  [/^\/api\/listener\b|^\/api\/listeners/, 'listeners', 'TCP listeners: the default one (Switchboard framing) and any with line or raw framing'],
  [/^\/api\/devices|^\/ws\/devices/, 'devices', 'Outbound links to devices that are TCP servers, and the raw WebSocket pipe'],
  [/^\/api\/clients\/:id\/traffic|^\/api\/(rules|macros)/, 'console', 'The device console: traffic logs, auto-reply rules, shared macros'],
  [/^\/api\/(clients|broadcast)/, 'members', 'Connected members: list, kick, message one or all'],
  [/^\/api\/(rooms|history|search|files)/, 'rooms', 'Rooms, stored history, search and kept files'],
  [/^\/api\/(accounts|bans|audit|sessions)/, 'identity', 'Accounts, sign-out, bans and the audit log'],
  [/^\/api\/nodes/, 'cluster', 'Several gateways on one Redis: the nodes; any /api call takes ?node= to run on another node'],
  [
    /^\/ws$|^\/protocol(\.md$|\/)/,
    'protocol',
    'The WebSocket bridge (Switchboard frames, one per binary message); PROTOCOL.md as a page, and its byte vectors',
  ],
];

/** The bearer-token security requirement, for admin routes. */
export const ADMIN_SECURITY = [{ admin: [] }];

/** The name of the one error body (`{code, message}`) in the OpenAPI document: `#/components/schemas/ErrorBody`. */
const ERROR_BODY_ID = 'ErrorBody';

/** What the admin guard answers (admin-guard.ts): no or wrong credentials, not loopback, too many guesses. */
export const ADMIN_ERRORS: readonly GatewayErrorCode[] = ['UNAUTHORIZED', 'FORBIDDEN', 'AUTH_RATE_LIMITED'];
/** Every route: a Host the gateway does not answer to (request-guard.ts), and a failure of its own. */
const EVERY_ROUTE_ERRORS: readonly GatewayErrorCode[] = ['HOST_NOT_ALLOWED', 'INTERNAL'];
/** A request body: not JSON, too large, not application/json (app.ts's error handler). */
const BODY_ERRORS: readonly GatewayErrorCode[] = ['INVALID_JSON_BODY', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];
/** `?node=` on any /api call (cluster-routes.ts). */
const NODE_ERRORS: readonly GatewayErrorCode[] = ['NODE_NOT_FOUND', 'NODE_UNAVAILABLE'];

/** The codes documented so far for each route's schema (several onRoute hooks add to them). */
const documentedErrors = new WeakMap<object, Set<GatewayErrorCode>>();

/**
 * Adds error codes to a route's documented responses: one response per status, each the shared
 * error body, its description the codes it may carry. A status the route answers with a body
 * of its own (/readyz's 503) keeps it.
 */
function documentErrors(schema: FastifySchema, codes: readonly GatewayErrorCode[]): void {
  const known = documentedErrors.get(schema) ?? new Set(schema.errors);
  for (const code of codes) known.add(code);
  documentedErrors.set(schema, known);
  const byStatus = new Map<number, GatewayErrorCode[]>();
  for (const code of known) byStatus.set(httpStatusOf(code), [...(byStatus.get(httpStatusOf(code)) ?? []), code]);
  const responses = (schema.response ??= {}) as Record<string, { $ref?: string; description?: string } | undefined>;
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const own = responses[status];
    if (own !== undefined && own.$ref !== `${ERROR_BODY_ID}#`) continue;
    responses[status] = { $ref: `${ERROR_BODY_ID}#`, description: list.map((code) => `- \`${code}\`: ${GatewayErrorCodes[code]}`).join('\n') };
  }
}

/**
 * OpenAPI 3 from the routes' own JSON schemas (@fastify/swagger, registered before the routes
 * it documents), interactive docs at /docs, the document at /docs/json. Each route gets its
 * tag here, admin routes (those guarded by `requireAdmin`, or marked by `adminOnly`) the
 * admin security scheme, and every route its error responses: its own `errors` and those of its
 * kind (documentErrors).
 */
export async function openApiPlugin(app: FastifyInstance, requireAdmin: (request: FastifyRequest) => Promise<void>): Promise<void> {
  // Every 4xx and 5xx answer's body, by name; `code` is one of the gateway's error table.
  app.addSchema({
    ...errorBody,
    $id: ERROR_BODY_ID,
    description: 'Every 4xx and 5xx answer: a stable `code` (docs/rest-api.md, "Error codes"; PROTOCOL.md §9) and a sentence for people.',
    properties: { code: { type: 'string', enum: Object.keys(GatewayErrorCodes) }, message: { type: 'string' } },
    examples: [{ code: 'CLIENT_NOT_FOUND', message: 'No connected client has id "m9".' }],
  });
  await app.register(swagger, {
    // Shared schemas by their own names (#/components/schemas/ErrorBody), not def-0.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transformObject: (document) => namedShapes(withSingleExamples('openapiObject' in document ? document.openapiObject : document.swaggerObject)),
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Switchboard',
        version: SERVER_NAME.split('/')[1] ?? '0',
        description:
          "A gateway between browsers and raw TCP programs. Members join over TCP (Switchboard's length-prefixed frames, or devices with " +
          `line or raw framing) and over the WebSocket bridge at \`/ws\`; the wire protocol is specified in [PROTOCOL.md](${PROTOCOL_URL}). ` +
          "Errors are `{code, message}` with a stable code. Admin routes take `Authorization: Bearer <admin token>` or an operator's session " +
          'token; with no admin token configured, loopback callers may use them. Every request must name a host the gateway answers to ' +
          '(loopback names, the listen address, `--allowed-hosts`), else 421 `HOST_NOT_ALLOWED`; a POST, PUT, PATCH or DELETE whose ' +
          "`Origin` is another site (not the page's own, not on `--allowed-origins`) is refused with 403 `CROSS_ORIGIN_REFUSED`, with or " +
          'without a token; calls with no Origin (scripts, curl) are not affected. `GET /api/clients` and `GET /api/history?room=` are ' +
          'public unless `--no-public-read` (the default with `--require-login`), then admin only.',
      },
      tags: TAGS.map(([, name, description]) => ({ name, description })),
      components: {
        securitySchemes: {
          admin: { type: 'http', scheme: 'bearer', description: 'The admin token (--admin-token), or the resume token of an operator account.' },
        },
      },
    },
  });
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url.startsWith('/docs')) return;
    const schema = (route.schema ??= {}) as FastifySchema & { tags?: string[]; security?: unknown; hide?: boolean };
    const tag = TAGS.find(([pattern]) => pattern.test(route.url));
    if (schema.tags === undefined && tag !== undefined) schema.tags = [tag[1]];
    if ([route.onRequest].flat().includes(requireAdmin)) schema.security = ADMIN_SECURITY;
    if (schema.hide === true) return;
    const methods = [route.method].flat();
    const changes = methods.some((method) => method !== 'GET' && method !== 'HEAD');
    documentErrors(schema, [
      ...EVERY_ROUTE_ERRORS,
      ...(schema.security !== undefined ? ADMIN_ERRORS : []),
      ...(schema.body !== undefined || schema.params !== undefined || schema.querystring !== undefined ? (['VALIDATION_FAILED'] as const) : []),
      ...(schema.body !== undefined || methods.some((method) => ['POST', 'PUT', 'PATCH'].includes(method)) ? BODY_ERRORS : []),
      ...(changes ? (['CROSS_ORIGIN_REFUSED'] as const) : []),
      ...(route.url.startsWith('/api/') ? NODE_ERRORS : []),
    ]);
  });
  // Swagger UI's own policy (its scripts are files; it sets inline styles as it draws), still
  // never framed, and without upgrade-insecure-requests (a gateway on plain HTTP is normal).
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: (header) =>
      header
        .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
        .replace(/style-src 'self' https:[^;]*;/, "style-src 'self' 'unsafe-inline';")
        .replace(/\s*upgrade-insecure-requests;?/, ''),
  });
  await app.register(protocolPageRoutes);
}

/**
 * OpenAPI 3.0 gives a schema one `example`, where JSON Schema (and so the routes' schemas) gives
 * `examples`, a list: @fastify/swagger converts them except in responses given by content type.
 * Media objects' own `examples` (a map, not a list) stay.
 */
function withSingleExamples<T>(node: T): T {
  if (Array.isArray(node)) return node.map((item: unknown) => withSingleExamples(item)) as T;
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]: [string, unknown]) =>
      key === 'examples' && Array.isArray(value) ? ['example', value[0]] : [key, key === 'example' ? value : withSingleExamples(value)],
    ),
  ) as T;
}

/**
 * Each schema with a `title` (schemas.ts: Client, Room, ListenerInfo...) once, in
 * `components.schemas` under its title, and a `$ref` to it wherever a route uses it: the document
 * names the shapes the API shares instead of repeating them. Only the document changes; the
 * routes validate and serialize with their own schemas. A titled schema that differs from the one
 * already named (besides its description) stays where it is.
 */
function namedShapes<T extends { paths?: unknown; components?: { schemas?: Record<string, unknown> } }>(document: T): T {
  const named: Record<string, unknown> = { ...document.components?.schemas };
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (typeof node !== 'object' || node === null) return node;
    const copy = Object.fromEntries(Object.entries(node).map(([key, value]: [string, unknown]) => [key, key === 'example' ? value : visit(value)]));
    const { title, description: _description, example, ...shape } = copy;
    if (typeof title !== 'string' || !('type' in shape)) return copy;
    const known = named[title] as Record<string, unknown> | undefined;
    // Named without the description of its first use (a response's "The listener now").
    if (known === undefined) named[title] = { title, ...shape, ...(example !== undefined && { example }) };
    else {
      const { description: _d, example: _e, title: _t, ...knownShape } = known;
      if (JSON.stringify(knownShape) !== JSON.stringify(shape)) return copy;
      // The first use may have been a response whose example went to its media object.
      if (known.example === undefined && copy.example !== undefined) known.example = copy.example;
    }
    return { $ref: `#/components/schemas/${title}` };
  };
  const paths = visit(document.paths);
  return { ...document, paths, components: { ...document.components, schemas: named } };
}

/** Guards every route of a plugin with `requireAdmin`, and says so in the OpenAPI document. */
export function adminOnly(app: FastifyInstance, requireAdmin: (request: FastifyRequest) => Promise<void>): void {
  app.addHook('onRequest', requireAdmin);
  app.addHook('onRoute', (route: RouteOptions) => {
    const schema = (route.schema ??= {}) as FastifySchema & { security?: unknown };
    schema.security = ADMIN_SECURITY;
    documentErrors(schema, ADMIN_ERRORS);
  });
}
