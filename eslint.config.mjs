// ESLint (flat config): typescript-eslint's recommended rules, no unused variables or imports, no floating promises
// (type-aware, through tsconfig.test.json, which covers every TypeScript file we lint) and no import cycles.
// `npm run lint`; part of `npm test`. Formatting is Prettier's job (`npm run format:check`), not ESLint's.
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default defineConfig(
  // bench/peers is the benchmark's copy of other gateways' setup, installed and run as its own project.
  globalIgnores([
    '**/dist/',
    '**/node_modules/',
    'coverage/',
    'bench/peers/',
    'bench/results/',
    'bench/.data/',
    'storefront/src/gql/',
  ]),
  {
    files: ['**/*.{ts,js,mjs}'],
    extends: [tseslint.configs.recommended],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // `let x; … () => x?.y …; x = …`: a closure that reads the variable before its one assignment wires two objects
      // that need each other; `const` would make an early call throw in the temporal dead zone instead of no-op.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['**/*.ts'],
    // The storefront's browser code has its own program (below); its browser journeys (storefront/test) are Node tests.
    ignores: ['storefront/src/**', 'storefront/vite.config.ts'],
    plugins: { 'import-x': importX },
    languageOptions: {
      parserOptions: {
        // One program for the whole tree (the `@shop/kernel` paths point at lib/src, so no build is needed first).
        project: './tsconfig.test.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    settings: {
      // Lets import-x parse the TypeScript files it follows (without it no-cycle never looks inside them).
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.test.json' })],
    },
    rules: {
      // A promise nobody awaits loses its rejection; fire-and-forget is written `void promise` on purpose.
      '@typescript-eslint/no-floating-promises': 'error',
      // The rule skips `import type`: a cycle through types alone does not order module loading at run time.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // Tests, their helpers and the benchmarks read GraphQL responses loosely (`data.cart.items[0]`): the operation
    // they just sent fixes the shape, and typing every response would add casts, not safety.
    files: ['**/test/**/*.ts', 'faults/**/*.ts', 'scale/**/*.ts', 'lib/src/testing/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The storefront is a browser app with its own tsconfig (bundler resolution, JSX); type-aware rules through it.
    files: ['storefront/src/**/*.{ts,tsx}', 'storefront/vite.config.ts'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { project: './storefront/tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  {
    // The jest configs are CommonJS files that Node loads as they are.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
