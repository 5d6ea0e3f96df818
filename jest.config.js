/** Jest runs the TypeScript sources through SWC (decorator metadata on) against the real local services. */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: { '^@shop/kernel$': '<rootDir>/lib/src/index.ts', '^@shop/kernel/(.*)$': '<rootDir>/lib/src/$1' },
  testMatch: [
    '<rootDir>/{lib,gateway,scripts}/test/**/*.test.ts',
    '<rootDir>/subgraphs/*/test/**/*.test.ts',
    '<rootDir>/storefront/test/**/*.test.ts',
  ],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  setupFiles: ['reflect-metadata'],
  testTimeout: 60000,
};
