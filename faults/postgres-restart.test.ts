import { randomUUID } from 'node:crypto';
import { PrivatePostgres, startPrivatePostgres } from '@shop/kernel/testing';
import { ALL, INTERNALS, PLACEHOLDER_KEYS, Shop, startShop, Tally } from './helpers';
import { db as orderDb } from '../subgraphs/order/test/helpers';

/**
 * PostgreSQL restarted during load (a private cluster; every subgraph's database lives on it). Production settings,
 * as a client would see them: while it is down the answers are coded errors with no stack, SQL or driver message;
 * afterwards everything works again without restarting a service, and retried checkouts make exactly one order.
 */
let pg: PrivatePostgres;
let shop: Shop;
beforeAll(async () => {
  pg = await startPrivatePostgres();
  shop = await startShop([ALL.user, ALL.product, ALL.cart, ALL.order, ALL.notification], {
    POSTGRES_URL: pg.url('shop'),
    NODE_ENV: 'production',
    ...PLACEHOLDER_KEYS,
  });
});
afterAll(async () => {
  await pg?.start();
  await shop?.stop();
  await pg?.dispose();
});

const LIST = `{ products(first: 5) { totalCount edges { node { id stock } } } }`;

test('down: coded errors without internals; back: recovery without restarts; idempotent retries → one order', async () => {
  const { stack } = shop;
  const tally = new Tally('PostgreSQL restarted under catalog, account and checkout load');
  const product = await shop.product(50, 900);
  const buyer = await shop.buyer();
  const cart = await shop.cartWith(buyer.token, [[product, 2]]);
  const key = randomUUID();
  const leaks: unknown[] = [];
  const seen = (r: any) => {
    tally.count(r);
    for (const e of r.errors ?? []) if (INTERNALS.test(JSON.stringify(e))) leaks.push(e);
    return r;
  };

  let running = true;
  const load = (async () => {
    while (running) {
      await Promise.all([
        stack.gql(LIST).then(seen),
        stack.gql(`{ me { id } }`, {}, buyer.token).then(seen),
        stack.gql(`query($id: ID!) { product(id: $id) { stock } }`, { id: product }).then(seen),
      ]);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  await pg.stop();
  // While it is down: the checkout (same key as the retries below) and reads fail with codes, nothing leaks.
  const down = [seen(await shop.place(buyer.token, cart, key)), seen(await stack.gql(LIST))];
  for (const r of down) {
    expect(r.errors?.length).toBeGreaterThan(0);
    expect(r.errors.every((e: any) => typeof e.extensions?.code === 'string')).toBe(true);
  }
  await new Promise((r) => setTimeout(r, 1500));
  await pg.start();

  // Back, with no service restarted: reads work again within seconds.
  const until = Date.now() + 30_000;
  let recovered = false;
  while (!recovered && Date.now() < until) {
    const r = await stack.gql(LIST);
    recovered = !r.errors && r.data?.products.totalCount >= 1;
    if (!recovered) await new Promise((res) => setTimeout(res, 200));
  }
  running = false;
  await load;
  expect(recovered).toBe(true);
  expect(leaks).toEqual([]);

  // The checkout retried with the same key (twice, at once) → exactly one order.
  let placed: any;
  for (let i = 0; i < 50 && !placed; i++) {
    const [a, b] = await Promise.all([shop.place(buyer.token, cart, key), shop.place(buyer.token, cart, key)]).then(
      (rs) => rs.map(seen),
    );
    if (a.data?.placeOrder && b.data?.placeOrder) {
      expect(a.data.placeOrder).toEqual(b.data.placeOrder);
      placed = a.data.placeOrder;
    } else await new Promise((r) => setTimeout(r, 200));
  }
  expect(placed?.status).toBe('PAID');
  expect(await orderDb(stack)(`SELECT id FROM orders WHERE user_id = ?`, [buyer.id])).toEqual([{ id: placed.id }]);
  const stock = (await stack.gql(`query($id: ID!) { product(id: $id) { stock } }`, { id: product })).data?.product
    .stock;
  expect(stock).toBe(48);
  const lost = 50 - 2 - stock;
  tally.print(lost, 'one checkout key tried while down and twice at once after: exactly 1 order; stock 50 → 48');
  expect(lost).toBe(0);
}, 180_000);
