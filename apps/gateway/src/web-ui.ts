import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';

/**
 * The page's own addresses (docs/chat.md, "The web page"): each answers with the page, which opens
 * the view it names. Nothing under /api, /ws, /docs or the probes: those keep their answers
 * (and an unknown /api path its 404 JSON).
 */
export const PAGE_ROUTES = ['/rooms/:room', '/private/:name', '/devices', '/devices/:id', '/admin', '/admin/:section'] as const;

export interface WebUiPluginOptions {
  root: string | null;
}

/** Serves the built Svelte page at `/`; explains how to build it when it is missing. */
export const webUiPlugin = fp<WebUiPluginOptions>(
  async (fastify, { root }) => {
    if (root !== null && existsSync(join(root, 'index.html'))) {
      await fastify.register(fastifyStatic, { root, prefix: '/', index: ['index.html'] });
      // Browsers ask for /favicon.ico on pages without a <link rel=icon> (/docs, /protocol.md).
      fastify.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/favicon.svg', 301));
      for (const url of PAGE_ROUTES) {
        fastify.get(url, { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').sendFile('index.html'));
      }
      return;
    }
    fastify.get('/', { schema: { hide: true } }, notBuilt);
    for (const url of PAGE_ROUTES) fastify.get(url, { schema: { hide: true } }, notBuilt);
  },
  { name: 'switchboard-web-ui', fastify: '5.x' },
);

async function notBuilt(_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  return reply
    .type('text/html; charset=utf-8')
    .send(
      '<!doctype html><title>Switchboard</title><p>The web page is not built. Run <code>npm start</code> ' +
        '(or <code>npx -y pnpm@10.34.8 --filter @switchboard/web build</code>) and reload.</p>',
    );
}
