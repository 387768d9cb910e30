import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `source` makes workspace packages resolve to their TypeScript sources, so tests never
  // run against a stale build.
  // The rest are Vite's default server conditions.
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'apps/gateway/test/**/*.test.ts', 'apps/web/test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Memory checks collect garbage before they measure, so they see what is live.
          execArgv: ['--expose-gc'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
