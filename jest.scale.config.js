/** `npm run test:scale`: two instances of every subgraph and two gateways behind HAProxy (scale/); not part of `npm test`. */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/scale/**/*.test.ts'],
  testTimeout: 300000,
};
