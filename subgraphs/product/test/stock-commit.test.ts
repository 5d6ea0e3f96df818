import { randomUUID } from 'node:crypto';
import { Stack } from '@shop/kernel/testing';
import { createProduct, ok } from './helpers';
import { failure, inSeconds, stockCommands, stockDb, stockSuite } from './stock-commands';

/**
 * Orders buying held stock: `product.commit` / `product.uncommit` over NATS as the order subgraph calls them, with the
 * results read from the database and from stockHistory through the gateway.
 */
let stack: Stack;
let admin: string;
let cmd: ReturnType<typeof stockCommands>;
let store: ReturnType<typeof stockDb>;

const suite = stockSuite('test-order');
beforeAll(() => void ({ stack, cmd, store, admin } = suite));

const HISTORY = `query($id: ID!) { stockHistory(productId: $id, first: 100) { edges { node { delta reason resultingStock actorId orderId } } } }`;
const history = async (id: string) =>
  ok(await stack.gql(HISTORY, { id }, admin)).stockHistory.edges.map((e: any) => e.node);
const product = (stock: number) => createProduct(stack, admin, { stock });
const orderRows = (orderId: string) =>
  store.sql(
    `SELECT product_id, quantity, cart_id, returned_at IS NOT NULL AS returned FROM stock_commit WHERE order_id = ? ORDER BY product_id`,
    [orderId],
  );
const saleEvents = (orderId: string) =>
  store.sql(
    `SELECT payload->'data' AS data FROM outbox WHERE subject = 'product.stock_adjusted' AND payload->'data'->>'orderId' = ?`,
    [orderId],
  );

test("commit turns the cart's holds into sold stock: on hand down, SALE movements with the order, holds reduced or gone", async () => {
  const p = await product(10);
  const q = await product(4);
  const cartId = `cart-${randomUUID()}`;
  const orderId = `order-${randomUUID()}`;
  await cmd.hold({ cartId, productId: p.id, quantity: 3, expiresAt: inSeconds(600) });
  await cmd.hold({ cartId, productId: q.id, quantity: 2, expiresAt: inSeconds(600) });

  expect(
    await cmd.commit({
      orderId,
      cartId,
      lines: [
        { productId: p.id, quantity: 2 },
        { productId: q.id, quantity: 2 },
      ],
    }),
  ).toEqual({ committed: true });
  expect(await store.level(p.id)).toEqual({ onHand: 8, held: 1, available: 7 });
  expect(await store.level(q.id)).toEqual({ onHand: 2, held: 0, available: 2 });
  expect((await store.cartHolds(cartId)).map((h) => [h.productId, h.quantity])).toEqual([[p.id, 1]]);
  expect(await orderRows(orderId)).toEqual(
    [
      { product_id: p.id, quantity: 2, cart_id: cartId, returned: false },
      { product_id: q.id, quantity: 2, cart_id: cartId, returned: false },
    ].sort((a, b) => a.product_id.localeCompare(b.product_id)),
  );
  expect((await history(p.id))[0]).toEqual({ delta: -2, reason: 'SALE', resultingStock: 8, actorId: null, orderId });
  expect((await history(q.id))[0]).toEqual({ delta: -2, reason: 'SALE', resultingStock: 2, actorId: null, orderId });
  expect(
    (await saleEvents(orderId)).map((e: any) => [e.data.productId, e.data.delta, e.data.reason, e.data.onHand]).sort(),
  ).toEqual(
    [
      [p.id, -2, 'SALE', 8],
      [q.id, -2, 'SALE', 2],
    ].sort(),
  );

  // A retry (the order service after a timeout) answers the same and sells nothing twice.
  expect(
    await cmd.commit({
      orderId,
      cartId,
      lines: [
        { productId: p.id, quantity: 2 },
        { productId: q.id, quantity: 2 },
      ],
    }),
  ).toEqual({ committed: true });
  expect(await store.level(p.id)).toEqual({ onHand: 8, held: 1, available: 7 });
  expect(await history(p.id)).toHaveLength(2);
});

test('two identical commits at the same moment sell once', async () => {
  const p = await product(5);
  const cartId = `cart-${randomUUID()}`;
  const orderId = `order-${randomUUID()}`;
  await cmd.hold({ cartId, productId: p.id, quantity: 2, expiresAt: inSeconds(600) });
  const req = { orderId, cartId, lines: [{ productId: p.id, quantity: 2 }] };
  expect(await Promise.all([cmd.commit(req), cmd.commit(req), cmd.commit(req)])).toEqual([
    { committed: true },
    { committed: true },
    { committed: true },
  ]);
  expect(await store.level(p.id)).toEqual({ onHand: 3, held: 0, available: 3 });
  expect(await orderRows(orderId)).toHaveLength(1);
  expect((await history(p.id)).filter((m: any) => m.reason === 'SALE')).toHaveLength(1);
});

test('a line the cart no longer holds is sold only from stock no other cart holds; otherwise nothing at all changes', async () => {
  const p = await product(5);
  const r = await product(3);
  const cartId = `cart-${randomUUID()}`;
  await cmd.hold({ cartId, productId: p.id, quantity: 1, expiresAt: inSeconds(600) });
  await cmd.hold({ cartId, productId: r.id, quantity: 1, expiresAt: inSeconds(600) });
  await store.expireCart(cartId);
  // Another cart takes all of r while this cart's hold has lapsed.
  await cmd.hold({ cartId: `hog-${randomUUID()}`, productId: r.id, quantity: 3, expiresAt: inSeconds(600) });
  const before = { p: await store.level(p.id), r: await store.level(r.id), holds: await store.cartHolds(cartId) };

  const orderId = `order-${randomUUID()}`;
  const err = await failure(
    cmd.commit({
      orderId,
      cartId,
      lines: [
        { productId: p.id, quantity: 1 },
        { productId: r.id, quantity: 1 },
      ],
    }),
  );
  expect(err.extensions).toEqual({ code: 'INSUFFICIENT_STOCK', productId: r.id, available: 0 });
  expect(err.message).toMatch(/Only 0 of/);
  expect({ p: await store.level(p.id), r: await store.level(r.id), holds: await store.cartHolds(cartId) }).toEqual(
    before,
  );
  expect(await orderRows(orderId)).toEqual([]);
  expect(await saleEvents(orderId)).toEqual([]);
  expect(await history(p.id)).toHaveLength(1);

  // p alone is still free stock: sold although the hold lapsed; the lapsed hold row goes with it.
  expect(await cmd.commit({ orderId, cartId, lines: [{ productId: p.id, quantity: 1 }] })).toEqual({ committed: true });
  expect(await store.level(p.id)).toEqual({ onHand: 4, held: 0, available: 4 });
  expect((await store.cartHolds(cartId)).map((h) => h.productId)).toEqual([r.id]);
});

test('a hold covers its own units: buying more than held takes the rest from free stock, not from other carts', async () => {
  const p = await product(6);
  const cartId = `cart-${randomUUID()}`;
  await cmd.hold({ cartId, productId: p.id, quantity: 2, expiresAt: inSeconds(600) });
  await cmd.hold({ cartId: `other-${randomUUID()}`, productId: p.id, quantity: 3, expiresAt: inSeconds(600) });
  const err = await failure(
    cmd.commit({ orderId: `order-${randomUUID()}`, cartId, lines: [{ productId: p.id, quantity: 4 }] }),
  );
  expect(err.extensions).toEqual({ code: 'INSUFFICIENT_STOCK', productId: p.id, available: 3 });
  expect(
    await cmd.commit({ orderId: `order-${randomUUID()}`, cartId, lines: [{ productId: p.id, quantity: 3 }] }),
  ).toEqual({ committed: true });
  expect(await store.level(p.id)).toEqual({ onHand: 3, held: 3, available: 0 });
});

test('unknown and archived products are NOT_FOUND and sell nothing', async () => {
  const p = await product(5);
  const gone = await product(5);
  const cartId = `cart-${randomUUID()}`;
  await cmd.hold({ cartId, productId: gone.id, quantity: 1, expiresAt: inSeconds(600) });
  ok(await stack.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: gone.id }, admin));
  const unknown = randomUUID();
  for (const id of [unknown, gone.id]) {
    const err = await failure(
      cmd.commit({
        orderId: `order-${randomUUID()}`,
        cartId,
        lines: [
          { productId: p.id, quantity: 1 },
          { productId: id, quantity: 1 },
        ],
      }),
    );
    expect(err.extensions).toEqual({ code: 'NOT_FOUND', productId: id });
  }
  expect(await store.level(p.id)).toEqual({ onHand: 5, held: 0, available: 5 });
});

test("uncommit returns the order's units once (RETURN movements); unknown orders are a no-op; a returned order is never sold again", async () => {
  const p = await product(5);
  const cartId = `cart-${randomUUID()}`;
  const orderId = `order-${randomUUID()}`;
  await cmd.hold({ cartId, productId: p.id, quantity: 4, expiresAt: inSeconds(600) });
  await cmd.commit({ orderId, cartId, lines: [{ productId: p.id, quantity: 4 }] });
  expect(await store.level(p.id)).toEqual({ onHand: 1, held: 0, available: 1 });

  expect(await Promise.all([cmd.uncommit({ orderId }), cmd.uncommit({ orderId })])).toEqual([
    { returned: true },
    { returned: true },
  ]);
  expect(await cmd.uncommit({ orderId })).toEqual({ returned: true });
  expect(await store.level(p.id)).toEqual({ onHand: 5, held: 0, available: 5 });
  expect(await orderRows(orderId)).toEqual([{ product_id: p.id, quantity: 4, cart_id: cartId, returned: true }]);
  expect((await history(p.id)).slice(0, 2)).toEqual([
    { delta: 4, reason: 'RETURN', resultingStock: 5, actorId: null, orderId },
    { delta: -4, reason: 'SALE', resultingStock: 1, actorId: null, orderId },
  ]);
  expect(await cmd.uncommit({ orderId: `never-${randomUUID()}` })).toEqual({ returned: true });

  // A late retry of the original commit must not sell the returned units again.
  expect(await cmd.commit({ orderId, cartId, lines: [{ productId: p.id, quantity: 4 }] })).toEqual({ committed: true });
  expect(await store.level(p.id)).toEqual({ onHand: 5, held: 0, available: 5 });
});

test('20 buyers with their own holds and 10 without compete for 20 units: exactly the 20 held ones are sold, stock never negative', async () => {
  const p = await product(20);
  const holders = Array.from({ length: 20 }, () => `cart-${randomUUID()}`);
  for (const cartId of holders) await cmd.hold({ cartId, productId: p.id, quantity: 1, expiresAt: inSeconds(600) });
  const latecomers = Array.from({ length: 10 }, () => `late-${randomUUID()}`);
  const results = await Promise.allSettled(
    [...holders, ...latecomers].map((cartId) =>
      cmd.commit({ orderId: `order-${cartId}`, cartId, lines: [{ productId: p.id, quantity: 1 }] }),
    ),
  );
  const sold = results.flatMap((r, i) => (r.status === 'fulfilled' ? [[...holders, ...latecomers][i]] : []));
  expect(sold.sort()).toEqual([...holders].sort());
  for (const r of results.slice(20))
    expect(r.status === 'rejected' && r.reason.extensions).toEqual({
      code: 'INSUFFICIENT_STOCK',
      productId: p.id,
      available: 0,
    });
  expect(await store.level(p.id)).toEqual({ onHand: 0, held: 0, available: 0 });
  const [{ n, min }] = await store.sql(
    `SELECT count(*)::int AS n, min(resulting_on_hand) AS min FROM stock_movements WHERE product_id = ? AND reason = 'SALE'`,
    [p.id],
  );
  expect({ n, min }).toEqual({ n: 20, min: 0 });
});
