// One lint configuration for the whole workspace: typescript-eslint's type-checked rules where
// types exist (they catch floating promises and unsafe `any`, which tests miss), Svelte's own
// rules for the page. Formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/node_modules/', '**/dist/', 'bench/results/', 'clients/', 'test-results/', 'playwright-report/', '**/*.cjs', 'apps/web/svelte.config.js'],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.browser },
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.mjs', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
        extraFileExtensions: ['.svelte'],
      },
    },
  },
  {
    // Tests, the page's tests and the tools' configs are typechecked by tsconfig.tests.json, not by a package's tsconfig.
    files: ['packages/*/test/**', 'apps/gateway/test/**', 'apps/web/test/**', 'bench/test/**', 'test/**', 'vitest.config.ts', 'playwright.config.ts'],
    languageOptions: { parserOptions: { projectService: false, project: ['./tsconfig.tests.json'] } },
    rules: {
      // Tests read JSON bodies and frames as `any` on purpose and assert on them: the assertion is the check.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // The same for stream chunks appended to a string of output.
      '@typescript-eslint/restrict-plus-operands': ['error', { allowAny: true }],
      // Playwright fixtures are declared with an empty pattern when they take no other fixture.
      'no-empty-pattern': 'off',
    },
  },
  {
    rules: {
      // Where it pays: floating promises, unsafe any, impossible conditions. Not where it only
      // restyles deliberate code: `!` after a checked lookup, numbers in template strings,
      // `return void-call` in handlers, async functions kept async for their callers' signature.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/require-await': 'off',
      // `void state` reads a reactive value so Svelte tracks it, `return void call()` ends a handler: both deliberate.
      '@typescript-eslint/no-meaningless-void-operator': 'off',
      // Its findings are checked downcasts (`link as DeviceLink` once `link.device` is set) and ws's class seen through two type packages.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // Its findings are private bookkeeping (listeners, a derivation's temporaries), not state the page renders.
      'svelte/prefer-svelte-reactivity': 'off',
      // Control characters in a pattern are what the gateway's byte escaping and name checks look for.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // The page's Vite config has a tsconfig of its own (Node types, strict).
    files: ['apps/web/vite.config.ts'],
    languageOptions: { parserOptions: { projectService: false, project: ['./apps/web/tsconfig.node.json'] } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
