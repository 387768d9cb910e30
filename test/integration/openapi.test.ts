import { GatewayErrorCodes } from '@switchboard/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// Issue 27: the OpenAPI document says what every operation answers, success and error, with an
// example, so a stranger can write a client from /docs alone.

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  example?: unknown;
  examples?: unknown;
  anyOf?: Schema[];
}
interface Media {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, unknown>;
}
interface Response {
  description?: string;
  content?: Record<string, Media>;
}
interface Operation {
  summary?: string;
  responses: Record<string, Response>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const ERROR_REF = '#/components/schemas/ErrorBody';

let gateway: RunningGateway;
let doc: OpenApiDocument;
beforeAll(async () => {
  gateway = await startGateway({ security: { adminToken: 'docs-token' } });
  const response = await fetch(`${gateway.httpUrl}/docs/json`);
  expect(response.status).toBe(200);
  doc = (await response.json()) as OpenApiDocument;
});
afterAll(async () => {
  await gateway.close();
});

function operations(): [string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]): [string, Operation] => [`${method.toUpperCase()} ${path}`, operation]),
  );
}

/** A JSON body's example: on the media type, or on its schema (inline or the named one it refers to). */
function hasExample(media: Media): boolean {
  if (media.example !== undefined || media.examples !== undefined) return true;
  const schema = media.schema?.$ref === undefined ? media.schema : doc.components.schemas[media.schema.$ref.replace('#/components/schemas/', '')];
  return schema?.example !== undefined || schema?.examples !== undefined;
}

describe('the OpenAPI document (/docs/json)', () => {
  it('has many operations to check', () => {
    expect(operations().length).toBeGreaterThan(40);
  });

  it('every operation has a success response: a JSON body with a schema and an example, another content type, or no body (204)', () => {
    const missing: string[] = [];
    for (const [name, operation] of operations()) {
      const success = Object.entries(operation.responses).filter(([status]) => /^2\d\d$/.test(status));
      const described = success.some(([status, response]) => {
        if (status === '204') return response.content === undefined && response.description !== 'Default Response';
        const content = Object.entries(response.content ?? {});
        return (
          content.length > 0 &&
          content.every(([type, media]) => media.schema !== undefined && (!type.includes('json') || hasExample(media))) &&
          response.description !== 'Default Response'
        );
      });
      if (!described) missing.push(name);
    }
    expect(missing).toEqual([]);
  });

  it('every error response is the one shared error body, and says which codes it carries', () => {
    const wrong: string[] = [];
    for (const [name, operation] of operations()) {
      const errors = Object.entries(operation.responses).filter(([status]) => /^[45]/.test(status));
      if (errors.length === 0) wrong.push(`${name}: no error responses`);
      for (const [status, response] of errors) {
        // The one answer that is not an error: a probe's "not ready" is for load balancers to read.
        if (`${name} ${status}` === 'GET /readyz 503') continue;
        const schema = response.content?.['application/json']?.schema;
        if (schema?.$ref !== ERROR_REF) wrong.push(`${name} ${status}: ${JSON.stringify(schema)}`);
        if (!/`[A-Z_]+`/.test(response.description ?? '')) wrong.push(`${name} ${status}: no code in "${response.description}"`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("the error body's code is an enum of exactly the gateway's error table, and every code a response names is in it", () => {
    const errorBody = doc.components.schemas.ErrorBody!;
    expect(errorBody.properties?.code?.enum).toBeDefined();
    const table = Object.keys(GatewayErrorCodes);
    expect([...errorBody.properties!.code!.enum!].sort()).toEqual([...table].sort());
    for (const [name, operation] of operations()) {
      for (const [status, response] of Object.entries(operation.responses).filter(([s]) => /^[45]/.test(s))) {
        for (const [, code] of (response.description ?? '').matchAll(/`([A-Z_]+)`/g)) expect(table, `${name} ${status}`).toContain(code);
      }
    }
  });

  it('admin operations list 401 UNAUTHORIZED, state changes 403 CROSS_ORIGIN_REFUSED, all 421 HOST_NOT_ALLOWED', () => {
    const kick = doc.paths['/api/clients/{id}/kick']!.post!;
    expect(kick.responses['401']?.description).toContain('`UNAUTHORIZED`');
    expect(kick.responses['403']?.description).toContain('`CROSS_ORIGIN_REFUSED`');
    expect(kick.responses['404']?.description).toContain('`CLIENT_NOT_FOUND`');
    expect(doc.paths['/api/health']!.get!.responses['421']?.description).toContain('`HOST_NOT_ALLOWED`');
    expect(doc.paths['/api/health']!.get!.responses['401']).toBeUndefined();
  });

  it('names the shapes the API shares once, in components, and refers to them: none is repeated inline', () => {
    const shapes = ['ErrorBody', 'Client', 'Room', 'HistoryEntry', 'ListenerInfo', 'DeviceInfo', 'Rule', 'Macro', 'Account', 'Ban', 'KeptFile'];
    for (const name of shapes) expect(Object.keys(doc.components.schemas), name).toContain(name);
    const clients = doc.paths['/api/clients']!.get!.responses['200']!.content!['application/json']!.schema!;
    expect(clients.properties?.clients?.items).toEqual({ $ref: '#/components/schemas/Client' });
    expect(doc.paths['/api/listeners/{id}/start']!.post!.responses['200']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/ListenerInfo',
    });
    // A titled schema left inline would be a shape repeated under its own name.
    expect(JSON.stringify(doc.paths)).not.toContain('"title"');
  });

  it('is OpenAPI 3.0: schemas give one `example`, never a JSON Schema `examples` list', () => {
    const lists: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (typeof node !== 'object' || node === null) return;
      for (const [key, value] of Object.entries(node)) {
        if (key === 'examples' && Array.isArray(value)) lists.push(at);
        else if (key !== 'example') walk(value, `${at}/${key}`);
      }
    };
    walk(doc, '');
    expect(lists).toEqual([]);
  });

  it('every example fits its schema: no field the schema lacks (the serializer would drop it), none it requires missing', () => {
    const wrong: string[] = [];
    for (const [name, operation] of operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        const media = response.content?.['application/json'];
        if (media?.schema === undefined) continue;
        const schema = resolve(media.schema);
        const examples = [media.example, schema.example, ...Object.values(media.examples ?? {}).map((e) => (e as { value?: unknown }).value)];
        for (const example of examples.filter((e) => e !== undefined)) wrong.push(...misfits(example, media.schema, `${name} ${status}`));
      }
    }
    expect(wrong).toEqual([]);
  });
});

function resolve(schema: Schema): Schema {
  return schema.$ref === undefined ? schema : resolve(doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!);
}

/** Where a value does not fit a schema (OpenAPI 3.0: type, nullable, enum, properties, required, items, anyOf). */
function misfits(value: unknown, given: Schema, at: string): string[] {
  const schema = resolve(given) as Schema & { nullable?: boolean; required?: string[]; additionalProperties?: unknown };
  if (schema.anyOf !== undefined) return schema.anyOf.some((option) => misfits(value, option, at).length === 0) ? [] : [`${at}: fits no anyOf option`];
  if (value === null) return schema.nullable === true || [schema.type].flat().includes('null') ? [] : [`${at}: null`];
  if (schema.enum !== undefined && !schema.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} not in enum`];
  const types = [schema.type].flat().filter((t) => t !== undefined);
  const actual = Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  if (types.length > 0 && !types.some((t) => t === actual || (t === 'number' && actual === 'integer'))) return [`${at}: ${actual}, not ${types.join('|')}`];
  if (Array.isArray(value)) return schema.items === undefined ? [] : value.flatMap((item, i) => misfits(item, schema.items!, `${at}[${i}]`));
  if (typeof value !== 'object') return [];
  const object = value as Record<string, unknown>;
  const missing = (schema.required ?? []).filter((key) => !(key in object)).map((key) => `${at}: no ${key}`);
  const extra = Object.keys(object).flatMap((key) => {
    const property = schema.properties?.[key];
    if (property !== undefined) return misfits(object[key], property, `${at}.${key}`);
    return schema.additionalProperties === undefined || schema.additionalProperties === false ? [`${at}: ${key} is not in the schema`] : [];
  });
  return [...missing, ...extra];
}
