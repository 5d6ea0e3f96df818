/** `npm run test:faults`: the fault suite (private PostgreSQL/Redis/NATS and subgraph processes it may kill); not part of `npm test`. */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/faults/**/*.test.ts'],
  testTimeout: 180000,
};
