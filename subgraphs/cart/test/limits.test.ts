import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../../product/src';
import { createCartSubgraph } from '../src';
import {
  ADD,
  available,
  CART,
  cartSvc,
  closeAgents,
  codes,
  CREATE_CART,
  gqlFrom,
  holds,
  MERGE,
  ok,
  product,
  REMOVE,
  UPDATE,
  userToken,
} from './helpers';

/**
 * Anti-hoarding bounds, through the gateway, with small values: a guest cart holds at most 5 units, the guest carts of
 * one client address at most 8 together, a signed-in cart at most 12. Each test speaks from its own loopback address
 * (127.0.0.x), which the gateway sees as the client's address.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [productSubgraph, createCartSubgraph()],
    gateway: startGateway,
    env: { CART_MAX_UNITS_GUEST: '5', CART_MAX_UNITS_PER_ADDRESS: '8', CART_MAX_UNITS_USER: '12' },
  });
});
afterAll(async () => {
  await closeAgents();
  await stack?.stop();
});

const from = (address: string) => ({
  gql: (query: string, variables: Record<string, unknown> = {}, token?: string) =>
    gqlFrom(stack, address, query, variables, token),
  cart: async (token?: string) => ok(await gqlFrom(stack, address, CREATE_CART, {}, token)).createCart.id as string,
});
const limitOf = (res: { errors?: any[] }) =>
  (res.errors ?? []).map((e) => ({ code: e.extensions?.code, limit: e.extensions?.limit, max: e.extensions?.max }));
const heldBy = async (cartIds: string[]) =>
  (await holds(stack)).filter((h) => cartIds.includes(h.cartId)).reduce((n, h) => n + h.quantity, 0);

test('a guest cart holds at most CART_MAX_UNITS_GUEST units: beyond it BAD_USER_INPUT (limit cartUnits), nothing held, the cart unchanged', async () => {
  const me = from('127.0.0.11');
  const a = await product(stack, { stock: 50 });
  const b = await product(stack, { stock: 50 });
  const c = await me.cart();
  const first = ok(await me.gql(ADD, { c, p: a.id, q: 3 })).addToCart;
  // Over the bound with one line, with a second line, and by updating a line.
  for (const [query, vars] of [
    [ADD, { c, p: a.id, q: 3 }],
    [ADD, { c, p: b.id, q: 3 }],
    [UPDATE, { c, p: a.id, q: 6 }],
  ] as const) {
    const res = await me.gql(query, vars);
    expect(limitOf(res)).toEqual([{ code: 'BAD_USER_INPUT', limit: 'cartUnits', max: 5 }]);
  }
  // Nothing changed: the cart, its deadline, its holds, the stock.
  expect(ok(await me.gql(CART, { id: c })).cart).toMatchObject({
    items: [{ product: { id: a.id }, quantity: 3 }],
    expiresAt: first.expiresAt,
  });
  expect((await holds(stack, { cartId: c })).map((h) => [h.productId, h.quantity])).toEqual([[a.id, 3]]);
  expect((await available(stack, b.id)).available).toBe(50);
  // Up to the bound is fine, and going down always is.
  expect(ok(await me.gql(ADD, { c, p: b.id, q: 2 })).addToCart.items).toHaveLength(2);
  ok(await me.gql(UPDATE, { c, p: a.id, q: 1 }));
  expect(await heldBy([c])).toBe(3);
});

test('the guest carts of one client address share CART_MAX_UNITS_PER_ADDRESS (limit addressUnits); another address is not affected', async () => {
  const me = from('127.0.0.12');
  const other = from('127.0.0.13');
  const p = await product(stack, { stock: 50 });
  const [c1, c2, c3] = [await me.cart(), await me.cart(), await me.cart()];
  // A hold the product store refuses does not use up budget (the charge is given back).
  const scarce = await product(stack, { stock: 2 });
  expect(codes(await me.gql(ADD, { c: c1, p: scarce.id, q: 3 }))).toEqual(['INSUFFICIENT_STOCK']);
  ok(await me.gql(ADD, { c: c1, p: p.id, q: 5 }));
  ok(await me.gql(ADD, { c: c2, p: p.id, q: 3 }));
  const refused = await me.gql(ADD, { c: c3, p: p.id, q: 1 });
  expect(limitOf(refused)).toEqual([{ code: 'BAD_USER_INPUT', limit: 'addressUnits', max: 8 }]);
  // The refused add left no hold and no deadline.
  expect(await holds(stack, { cartId: c3 })).toEqual([]);
  expect(ok(await me.gql(CART, { id: c3 })).cart).toMatchObject({ items: [], expiresAt: null, secondsRemaining: 0 });
  expect(await heldBy([c1, c2, c3])).toBe(8);
  // A full cart cannot grow either, but it can be changed downwards.
  expect(limitOf(await me.gql(ADD, { c: c2, p: p.id, q: 1 }))[0]).toMatchObject({ limit: 'addressUnits' });
  // Another address has its own budget.
  const theirs = await other.cart();
  expect(ok(await other.gql(ADD, { c: theirs, p: p.id, q: 5 })).addToCart.items[0].quantity).toBe(5);
  // A cart's units count against the address that filled it, whoever changes it later: the other address adding to
  // one of my carts is charged to my budget (and refused).
  expect(limitOf(await other.gql(ADD, { c: c2, p: p.id, q: 1 }))[0]).toMatchObject({ limit: 'addressUnits' });

  // IPv6 clients count per /64 (kernel clientAddressKey): two addresses of one /64 share a budget, another /64 does not.
  const carts = cartSvc(stack).carts;
  const v6a = { ip: '2001:db8:1:2::1' };
  const v6b = { ip: '2001:db8:1:2:ffff:ffff:ffff:fffe' };
  const x = await carts.create(v6a);
  const y = await carts.create(v6b);
  const z = await carts.create({ ip: '2001:db8:1:3::1' });
  await carts.addItem(v6a, x.id, p.id, 5);
  await expect(carts.addItem(v6b, y.id, p.id, 4)).rejects.toMatchObject({
    extensions: { code: 'BAD_USER_INPUT', limit: 'addressUnits' },
  });
  await carts.addItem({ ip: '2001:db8:1:3::1' }, z.id, p.id, 5);
  expect(await heldBy([x.id, y.id, z.id])).toBe(10);
});

test('concurrent adds from one address cannot overrun its budget: of six carts adding 3 units at once, exactly two succeed', async () => {
  const me = from('127.0.0.14');
  const p = await product(stack, { stock: 100 });
  const carts = await Promise.all(Array.from({ length: 6 }, () => me.cart()));
  const results = await Promise.all(carts.map((c) => me.gql(ADD, { c, p: p.id, q: 3 })));
  const succeeded = results.filter((r) => !r.errors);
  const refused = results.filter((r) => r.errors);
  expect(succeeded).toHaveLength(2);
  for (const r of refused) expect(limitOf(r)).toEqual([{ code: 'BAD_USER_INPUT', limit: 'addressUnits', max: 8 }]);
  // The product store agrees: 6 units held, by the two carts that were answered yes.
  const rows = (await holds(stack, { productId: p.id })).filter((h) => carts.includes(h.cartId));
  expect(rows.reduce((n, h) => n + h.quantity, 0)).toBe(6);
  expect(new Set(rows.map((h) => h.cartId))).toEqual(new Set(succeeded.map((r) => r.data.addToCart.id)));

  // Two adds racing within the remaining 2 units: one of them (2 units) fits, both cannot.
  const [l1, l2] = carts.filter((c) => !rows.some((h) => h.cartId === c));
  const race = await Promise.all([me.gql(ADD, { c: l1, p: p.id, q: 2 }), me.gql(ADD, { c: l2, p: p.id, q: 2 })]);
  expect(race.filter((r) => !r.errors)).toHaveLength(1);
  expect(await heldBy(carts)).toBe(8);
});

test('freeing units gives the budget back: removing, updating down, merging into a user cart', async () => {
  const me = from('127.0.0.15');
  const p = await product(stack, { stock: 100 });
  const q = await product(stack, { stock: 100 });
  const [c1, c2, c3] = [await me.cart(), await me.cart(), await me.cart()];
  ok(await me.gql(ADD, { c: c1, p: p.id, q: 5 }));
  ok(await me.gql(ADD, { c: c2, p: p.id, q: 3 }));
  expect(limitOf(await me.gql(ADD, { c: c3, p: p.id, q: 1 }))[0]).toMatchObject({ limit: 'addressUnits' });

  // Removing a line.
  ok(await me.gql(REMOVE, { c: c1, p: p.id }));
  ok(await me.gql(ADD, { c: c3, p: p.id, q: 4 }));
  ok(await me.gql(ADD, { c: c3, p: q.id, q: 1 }));
  expect(limitOf(await me.gql(ADD, { c: c1, p: p.id, q: 1 }))[0]).toMatchObject({ limit: 'addressUnits' });
  // Updating a line down (to 0 too).
  ok(await me.gql(UPDATE, { c: c2, p: p.id, q: 1 }));
  ok(await me.gql(ADD, { c: c1, p: p.id, q: 2 }));
  ok(await me.gql(UPDATE, { c: c1, p: p.id, q: 0 }));
  ok(await me.gql(ADD, { c: c1, p: q.id, q: 2 }));
  expect(await heldBy([c1, c2, c3])).toBe(8);
  // Merging a guest cart into a signed-in cart: its units leave the address's budget (the user cart has its own bound).
  const user = userToken(stack);
  const merged = ok(await me.gql(MERGE, { c: c3 }, user)).mergeCart;
  expect(merged.items.map((i: any) => i.quantity).sort()).toEqual([1, 4]);
  const c4 = await me.cart();
  ok(await me.gql(ADD, { c: c4, p: p.id, q: 5 }));
  expect(limitOf(await me.gql(ADD, { c: c1, p: p.id, q: 1 }))[0]).toMatchObject({ limit: 'addressUnits' });
  expect(await heldBy([c1, c2, c4])).toBe(8);
});

test('a signed-in cart has the larger CART_MAX_UNITS_USER and does not count against the address; a merge stays within it', async () => {
  const me = from('127.0.0.16');
  const p = await product(stack, { stock: 100 });
  const q = await product(stack, { stock: 100 });
  // The address's guest budget is full…
  const [g1, g2] = [await me.cart(), await me.cart()];
  ok(await me.gql(ADD, { c: g1, p: p.id, q: 5 }));
  ok(await me.gql(ADD, { c: g2, p: p.id, q: 3 }));
  // …a signed-in user at the same address still gets up to 12 units.
  const token = userToken(stack);
  const mine = await me.cart(token);
  ok(await me.gql(ADD, { c: mine, p: q.id, q: 7 }, token));
  ok(await me.gql(ADD, { c: mine, p: p.id, q: 3 }, token));
  expect(limitOf(await me.gql(ADD, { c: mine, p: p.id, q: 3 }, token))).toEqual([
    { code: 'BAD_USER_INPUT', limit: 'cartUnits', max: 12 },
  ]);
  expect(await heldBy([mine])).toBe(10);
  // Merging a 5-unit guest cart into it: only 2 fit, the answer says what was left out, the rest is released.
  const merged = ok(await me.gql(MERGE, { c: g1 }, token)).mergeCart;
  expect(merged.items.reduce((n: number, i: any) => n + i.quantity, 0)).toBe(12);
  expect(merged.adjustments).toEqual([{ product: { id: p.id }, requested: 8, quantity: 5 }]);
  expect(await heldBy([mine, g1])).toBe(12);
  expect((await holds(stack, { cartId: mine })).map((h) => h.quantity).sort()).toEqual([5, 7]);
});
