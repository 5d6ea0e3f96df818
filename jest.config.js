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
  // cookie 2 ships only as an ES module: SWC turns it into CommonJS like the sources.
  transform: { '^.+\\.ts$': ['@swc/jest', swc], '/node_modules/cookie/dist/.+\\.js$': ['@swc/jest', swc] },
  transformIgnorePatterns: ['/node_modules/(?!cookie/dist/)'],
  moduleNameMapper: { '^@shop/kernel$': '<rootDir>/lib/src/index.ts', '^@shop/kernel/(.*)$': '<rootDir>/lib/src/$1' },
  testMatch: ['<rootDir>/{lib,gateway,scripts}/test/**/*.test.ts', '<rootDir>/subgraphs/*/test/**/*.test.ts'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  setupFiles: ['reflect-metadata'],
  testTimeout: 60000,
};
