import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defaultClientConditions, defineConfig } from 'vite';

// The gateway the dev server forwards /ws and /api to. Override to point at a gateway on
// another port, e.g. SWITCHBOARD_GATEWAY=http://127.0.0.1:18080 npx vite
const gateway = process.env['SWITCHBOARD_GATEWAY'] ?? 'http://127.0.0.1:8080';

const proxy = {
  '/ws': { target: gateway, ws: true },
  '/api': { target: gateway },
};

export default defineConfig({
  plugins: [svelte()],
  resolve: {
    // `source` resolves @switchboard/protocol to its TypeScript sources (no build step needed);
    // Vite's own defaults (module, browser, development|production) must stay after it.
    conditions: ['source', ...defaultClientConditions],
  },
  build: {
    // The gateway serves this folder at `/` with @fastify/static.
    outDir: 'dist',
    emptyOutDir: true,
  },
  server: { proxy },
  preview: { proxy },
});
