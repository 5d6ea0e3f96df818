import { PrivateRedis, startPrivateRedis } from '@shop/kernel/testing';
import { ALL, eventually, ok, Shop, startShop, Tally } from './helpers';
import { available, holds } from '../subgraphs/cart/test/helpers';

/**
 * Redis restarted (it keeps nothing on disk here): the carts are gone, but no stock is lost — the holds live in the
 * product database with a deadline, so availability is whole again once they pass, without anyone repairing anything.
 */
const HOLD_SECONDS = 4;
let redis: PrivateRedis;
let shop: Shop;
beforeAll(async () => {
  redis = await startPrivateRedis();
  shop = await startShop([ALL.user, ALL.product, ALL.cart], {
    REDIS_URL: redis.url,
    CART_HOLD_SECONDS: String(HOLD_SECONDS),
  });
});
afterAll(async () => {
  await redis?.start();
  await shop?.stop();
  await redis?.dispose();
});

const STOCK = `query($id: ID!) { product(id: $id) { stock } }`;
const CART = `query($id: ID!) { cart(id: $id) { id status items { quantity } } }`;

test('carts are lost, stock is not: holds expire by their deadline and availability is whole again', async () => {
  const { stack } = shop;
  const tally = new Tally('Redis restarted (empty) under cart traffic');
  const product = await shop.product(20);
  const carts = await Promise.all(Array.from({ length: 10 }, () => shop.cartWith(undefined, [[product, 2]])));
  expect(ok(await stack.gql(STOCK, { id: product })).product.stock).toBe(0);

  // Traffic during the restart: readers of the existing carts and new shoppers.
  let running = true;
  const traffic = (async () => {
    while (running) {
      await Promise.all([
        stack.gql(CART, { id: carts[tally.requests % carts.length] }).then((r) => tally.count(r)),
        stack.gql('mutation { createCart { id } }').then((r) => tally.count(r)),
        stack.gql(STOCK, { id: product }).then((r) => tally.count(r)),
      ]);
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  await redis.stop();
  await new Promise((r) => setTimeout(r, 1000));
  await redis.start();
  await new Promise((r) => setTimeout(r, 500));
  running = false;
  await traffic;

  // The carts are gone (unknown ids answer null, not an error) …
  for (const id of carts) expect(ok(await stack.gql(CART, { id })).cart).toBeNull();
  // … their holds are still in the product store until their deadline …
  expect((await holds(stack, { productId: product })).length).toBe(10);
  // … and after it the stock is whole again, with no repair: availability by rule, and a new cart can take it all.
  const whole = await eventually(
    'stock back',
    async () => (ok(await stack.gql(STOCK, { id: product })).product.stock === 20 ? true : undefined),
    (HOLD_SECONDS + 10) * 1000,
  );
  expect(whole).toBe(true);
  const a = await available(stack, product);
  expect(a).toMatchObject({ available: 20, onHand: 20 });
  const fresh = await shop.cartWith(undefined, [[product, 20]]);
  expect(ok(await stack.gql(CART, { id: fresh })).cart.items).toEqual([{ quantity: 20 }]);
  expect(ok(await stack.gql(STOCK, { id: product })).product.stock).toBe(0);
  // After the restart every request works again.
  const after = await Promise.all(Array.from({ length: 10 }, () => stack.gql('mutation { createCart { id } }')));
  expect(after.filter((r) => r.errors)).toEqual([]);
  const lost = 20 - a.available;
  expect(lost).toBe(0);
  tally.print(lost, `${carts.length} carts lost as designed; 20 units held came back after ${HOLD_SECONDS} s`);
});
