import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `source` makes workspace packages resolve to their TypeScript sources, so tests never
  // run against a stale build.
  // The rest are Vite's default server conditions.
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'] } },
  test: {
    // Two test files at a time (Vitest's default is one fewer than the cores: one, here). Most
    // files wait on sockets and child gateways, so a second file uses the time; measured on two
    // busy cores, six integration files took 95 s instead of 109.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'apps/gateway/test/**/*.test.ts', 'apps/web/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
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
