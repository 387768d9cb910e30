import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';

export interface WebUiPluginOptions {
  root: string | null;
}

/** Serves the built Svelte page at `/`; explains how to build it when it is missing. */
export const webUiPlugin = fp<WebUiPluginOptions>(
  async (fastify, { root }) => {
    if (root !== null && existsSync(join(root, 'index.html'))) {
      await fastify.register(fastifyStatic, { root, prefix: '/', index: ['index.html'] });
      return;
    }
    fastify.get('/', async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><title>Switchboard</title><p>The web page is not built. Run <code>npm start</code> ' +
            '(or <code>npx -y pnpm@10.34.8 --filter @switchboard/web build</code>) and reload.</p>',
        ),
    );
  },
  { name: 'switchboard-web-ui', fastify: '5.x' },
);
