import { createReadStream } from 'node:fs';
import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts';
import { sanitizeFileName } from '@switchboard/protocol';
import { GatewayError } from '../errors.js';
import type { StoredFile } from '../files/file-store.js';
import { readerOf } from './reader.js';
import type { RoomRouteOptions } from './room-routes.js';
import { ADMIN_ERRORS } from './openapi.js';

const keptFile = {
  title: 'KeptFile',
  type: 'object',
  properties: {
    id: { type: 'integer', description: "The file's history id (its file-offer `id`)" },
    name: { type: 'string' },
    size: { type: 'integer' },
    mime: { type: 'string', description: 'As the sender declared it; downloads are always application/octet-stream' },
    sha256: { type: 'string' },
    from: { type: 'string' },
    ts: { type: 'integer' },
    room: { type: 'string' },
    to: { type: 'string' },
  },
  required: ['id', 'name', 'size', 'mime', 'sha256', 'from', 'ts'],
  additionalProperties: false,
  examples: [
    {
      id: 57,
      name: 'report.pdf',
      size: 48213,
      mime: 'application/pdf',
      sha256: 'b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c',
      from: 'alice',
      ts: 1795392250002,
      room: 'lobby',
    },
  ],
} as const;

const FILE_PAGE = 50;
const MAX_FILE_PAGE = 500;

/** A kept file as the API shows it: without the identities it is read by. */
function shown(file: StoredFile): Omit<StoredFile, 'room' | 'to' | 'fromIdentity' | 'toIdentity'> & { room?: string; to?: string } {
  const { id, name, size, mime, sha256, from, ts, room, to } = file;
  return { id, name, size, mime, sha256, from, ts, ...(room !== null && { room }), ...(to !== null && { to }) };
}

/** `filename` for old clients (ASCII, no quotes), `filename*` with the whole name (RFC 6266). */
function contentDisposition(name: string): string {
  const safe = sanitizeFileName(name);
  const ascii = safe.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(safe)}`;
}

/**
 * Files kept for later (docs/chat.md, "Files kept"): listed and downloaded by the rules of history
 * (HistoryService.mayRead) for the caller `readerOf` names. A download is always an attachment
 * of type application/octet-stream, never something a browser would render.
 */
export const fileRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: RoomRouteOptions }> = async (app, { hub, requireAdmin, publicRead }) => {
  app.get(
    '/files',
    {
      schema: {
        summary:
          "Files kept for later, newest first: a member's resume token lists what that member may read, an operator everything, no credentials the rooms'",
        errors: ADMIN_ERRORS,
        querystring: {
          type: 'object',
          properties: {
            room: { type: 'string', minLength: 1, maxLength: 32 },
            before: { type: 'integer', minimum: 1 },
            limit: { type: 'integer', minimum: 1, default: FILE_PAGE, description: `At most ${MAX_FILE_PAGE}` },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            description: 'The files the caller may read, newest first; `more`: older ones remain',
            type: 'object',
            properties: {
              files: { type: 'array', items: keptFile },
              more: { type: 'boolean' },
              store: { type: 'boolean', description: 'false: this gateway keeps no files (--no-file-store)' },
            },
            required: ['files', 'more', 'store'],
            additionalProperties: false,
            examples: [{ files: keptFile.examples, more: false, store: true }],
          },
        },
      },
    },
    async (request) => {
      const reader = await readerOf(request, hub, requireAdmin, publicRead);
      const store = hub.fileStore;
      if (store === null) return { files: [], more: false, store: false };
      const { room, before, limit } = request.query;
      const scope = reader.operator ? ('everything' as const) : { privateOf: reader.identity };
      const page = store.list({ scope, room, before, limit: Math.min(limit, MAX_FILE_PAGE) });
      return { files: page.files.filter((f) => hub.history.mayRead(reader, f)).map(shown), more: page.more, store: true };
    },
  );

  app.get(
    '/files/:id',
    {
      schema: {
        summary: 'Download a kept file: always an attachment of type application/octet-stream, by the same rules as GET /api/files',
        errors: ['FILE_NOT_FOUND', ...ADMIN_ERRORS],
        params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
        response: {
          200: {
            description: "The file's bytes, as an attachment (Content-Disposition with its name; X-File-Sha256 its SHA-256)",
            content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
          },
        },
      },
    },
    async (request, reply) => {
      const reader = await readerOf(request, hub, requireAdmin, publicRead);
      const file = hub.fileStore?.get(request.params.id);
      // Not kept and not yours look the same: a file's existence is not told to those who may not read it.
      if (file === undefined || !hub.history.mayRead(reader, file)) {
        throw new GatewayError('FILE_NOT_FOUND', `No kept file ${request.params.id} that you may read.`);
      }
      return (
        reply
          .header('content-type', 'application/octet-stream')
          .header('content-disposition', contentDisposition(file.name))
          .header('x-content-type-options', 'nosniff')
          .header('content-length', file.size)
          .header('cache-control', 'private, no-store')
          .header('x-file-sha256', file.sha256)
          // A stream is sent as it is (the 200 schema only documents it): typed as the schema's string.
          .send(createReadStream(hub.fileStore!.path(file.id)) as unknown as string)
      );
    },
  );
};
