// ESLint flat config: correctness rules with type information (typescript-eslint), no style rules
// (formatting is left to the files as they are). Run by `npm run lint`, which `npm test` runs first.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'src/wire/generated/', '.bench/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // tsconfig.test.json covers src/, scripts/, test/ and vitest.config.ts.
        project: ['./tsconfig.test.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Unused parameters named with a leading underscore are interface slots a class does not
      // need (a policy ignoring `now`); anything else unused is an error.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      // Off: the code writes `x!` on indexed reads (noUncheckedIndexedAccess is off, so the
      // compiler calls them unnecessary); they mark where a value is known present. ~400 sites,
      // none a bug.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Off: wire code compares numbers read off the socket with `as const` enum objects (HTTP/2
      // frame types, gRPC status values) on purpose; the rule wants both sides to be the enum type.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      // Off: `async` without `await` is how a method keeps a Promise-returning interface
      // (prom-client collectors, test doubles); not a correctness problem.
      '@typescript-eslint/require-await': 'off',
      // A caught `unknown` is rethrown / passed on as it came.
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Vitest's asymmetric matchers (expect.stringContaining, expect.any) are typed `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    // This file itself is plain JavaScript outside the TypeScript project.
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
