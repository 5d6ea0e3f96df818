/**
 * Seeds (or checks) the bench deployment without running the benchmark: `npm run bench:seed [-- --force]`.
 * `npm run bench` seeds on its own when needed.
 */
import { ensureSeeded } from './lib/seed';
import { numberArg } from './lib/args';

ensureSeeded(
  {
    products: numberArg('products', 10_000),
    users: numberArg('users', 1_000),
    ordersPerUser: numberArg('orders-per-user', 3),
  },
  { force: process.argv.includes('--force') },
).then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
