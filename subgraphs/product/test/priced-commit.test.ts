import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@shop/kernel';
import { Stack } from '@shop/kernel/testing';
import type { ProductNotices } from '../src/events/commands';
import { createProduct, ok, onlyDeal, svc } from './helpers';
import { failure, inSeconds, stockCommands, stockDb, stockSuite } from './stock-commands';

/**
 * `product.commit` with the prices the order charged: the cart priced them from what it remembered, so the commit
 * sells only at the product's current price (read under its lock) and deal, and otherwise refuses with PRICE_CHANGED,
 * writes nothing and tells the carts (`product.prices` notice) to forget the product.
 */
let stack: Stack;
let admin: string;
let cmd: ReturnType<typeof stockCommands>;
let store: ReturnType<typeof stockDb>;
let deal: { id: string };
const notices: ProductNotices['product.prices'][] = [];

const suite = stockSuite('test-order');
beforeAll(async () => {
  ({ stack, cmd, store, admin } = suite);
  suite.bus.listen(['notice.product.prices'], (_name, data) => notices.push(data as ProductNotices['product.prices']));
  await suite.bus.nc.flush();
  // Created first and asked for: the deal list is this product alone (20 % off) for the rest of the file.
  deal = await createProduct(stack, admin, { price: 2000, stock: 50 });
  await onlyDeal(stack, deal.id);
});
beforeEach(() => void notices.splice(0));

const UPDATE = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id } }`;
const product = (price: number, stock = 20) => createProduct(stack, admin, { price, stock });

/** A cart holding `quantity` of each product, and a fresh order id. */
async function heldCart(products: { id: string }[], quantity = 2) {
  const cartId = `cart-${randomUUID()}`;
  for (const p of products) await cmd.hold({ cartId, productId: p.id, quantity, expiresAt: inSeconds(600) });
  return { cartId, orderId: `order-${randomUUID()}` };
}

/** Everything a commit writes, for one product and cart: to compare before and after a refusal. */
const written = async (productId: string, cartId: string) => ({
  level: await store.level(productId),
  holds: await store.cartHolds(cartId),
  commits: await store.sql(`SELECT count(*)::int AS n FROM stock_commit WHERE product_id = ?`, [productId]),
  outbox: await store.sql(`SELECT count(*)::int AS n FROM outbox WHERE payload->'data'->>'productId' = ?`, [productId]),
});

/** Waits for the notices the product sent before answering (same connection, so they arrive first; a flush to be sure). */
const noticesNow = async () => {
  await suite.bus.nc.flush();
  await new Promise((r) => setTimeout(r, 50));
  return notices.map((n) => n.productIds);
};

test('lines charged at the current price and deal sell; the deal product at its 20 % and the other at 0', async () => {
  const plain = await product(700);
  const { cartId, orderId } = await heldCart([deal, plain]);
  expect(
    await cmd.commit({
      orderId,
      cartId,
      lines: [
        { productId: deal.id, quantity: 2, unitPrice: 2000, discountPercent: 20 },
        { productId: plain.id, quantity: 2, unitPrice: 700, discountPercent: 0 },
      ],
    }),
  ).toEqual({ committed: true });
  expect((await store.level(plain.id)).onHand).toBe(18);
  expect(await noticesNow()).toEqual([]);
});

test('a line charged at a price the product no longer has: PRICE_CHANGED naming it, nothing written, the carts told', async () => {
  const p = await product(1500);
  const { cartId, orderId } = await heldCart([p]);
  ok(await stack.gql(UPDATE, { id: p.id, input: { price: 1700 } }, admin));
  const before = await written(p.id, cartId);

  const err = await failure(
    cmd.commit({ orderId, cartId, lines: [{ productId: p.id, quantity: 2, unitPrice: 1500, discountPercent: 0 }] }),
  );
  expect(err.code).toBe(ErrorCode.PRICE_CHANGED);
  expect(err.extensions.productId).toBe(p.id);
  expect(await written(p.id, cartId)).toEqual(before);
  expect(await noticesNow()).toEqual([[p.id]]);

  // Repriced, the same order sells.
  expect(
    await cmd.commit({
      orderId,
      cartId,
      lines: [{ productId: p.id, quantity: 2, unitPrice: 1700, discountPercent: 0 }],
    }),
  ).toEqual({ committed: true });
  expect((await store.level(p.id)).onHand).toBe(18);
});

test('a deal charged that the product is not on, or a deal product charged without it: PRICE_CHANGED, nothing sold', async () => {
  const plain = await product(900);
  const { cartId, orderId } = await heldCart([deal, plain]);
  const before = [await written(deal.id, cartId), await written(plain.id, cartId)];
  // Each line 2 units at its list price, with the given deals.
  const charging = (dealPercent: number, plainPercent: number) =>
    failure(
      cmd.commit({
        orderId,
        cartId,
        lines: [
          { productId: deal.id, quantity: 2, unitPrice: 2000, discountPercent: dealPercent },
          { productId: plain.id, quantity: 2, unitPrice: 900, discountPercent: plainPercent },
        ],
      }),
    );
  const off = await charging(20, 20);
  expect([off.code, off.extensions.productId]).toEqual([ErrorCode.PRICE_CHANGED, plain.id]);
  const missed = await charging(0, 0);
  expect([missed.code, missed.extensions.productId]).toEqual([ErrorCode.PRICE_CHANGED, deal.id]);
  expect([await written(deal.id, cartId), await written(plain.id, cartId)]).toEqual(before);
  expect(await noticesNow()).toEqual([[plain.id], [deal.id]]);
});

test('stock short and price changed: INSUFFICIENT_STOCK, which a retry cannot cure, comes first', async () => {
  const p = await product(400, 3);
  const { cartId, orderId } = await heldCart([p], 1);
  await heldCart([p], 2);
  ok(await stack.gql(UPDATE, { id: p.id, input: { price: 450 } }, admin));
  const err = await failure(
    cmd.commit({ orderId, cartId, lines: [{ productId: p.id, quantity: 3, unitPrice: 400, discountPercent: 0 }] }),
  );
  expect(err.code).toBe(ErrorCode.INSUFFICIENT_STOCK);
});

test('a retry of a sold order answers committed even after the price changed (idempotent), and sells nothing twice', async () => {
  const p = await product(1200);
  const { cartId, orderId } = await heldCart([p]);
  const lines = [{ productId: p.id, quantity: 2, unitPrice: 1200, discountPercent: 0 }];
  await cmd.commit({ orderId, cartId, lines });
  ok(await stack.gql(UPDATE, { id: p.id, input: { price: 1300 } }, admin));
  // Both the price and the deal it names are now wrong: the order was sold before, so the answer stands.
  expect(await cmd.commit({ orderId, cartId, lines: [{ ...lines[0], discountPercent: 20 }] })).toEqual({
    committed: true,
  });
  expect((await store.level(p.id)).onHand).toBe(18);
  expect(await noticesNow()).toEqual([]);
});

test('malformed prices are BAD_USER_INPUT naming the line: on some lines only, negative, a discount over 100', async () => {
  const p = await product(100);
  const q = await product(100);
  const { cartId, orderId } = await heldCart([p, q]);
  const cases: [unknown[], string][] = [
    [
      [
        { productId: p.id, quantity: 1, unitPrice: 100, discountPercent: 0 },
        { productId: q.id, quantity: 1 },
      ],
      'lines[1].unitPrice',
    ],
    [[{ productId: p.id, quantity: 1, unitPrice: -1, discountPercent: 0 }], 'lines[0].unitPrice'],
    [[{ productId: p.id, quantity: 1, unitPrice: 1.5, discountPercent: 0 }], 'lines[0].unitPrice'],
    [[{ productId: p.id, quantity: 1, unitPrice: 100, discountPercent: 101 }], 'lines[0].discountPercent'],
    [[{ productId: p.id, quantity: 1, unitPrice: 100 }], 'lines[0].discountPercent'],
  ];
  for (const [lines, field] of cases) {
    const err = await failure(cmd.raw('product.commit', { orderId, cartId, lines }));
    expect([err.code, err.extensions.field]).toEqual([ErrorCode.BAD_USER_INPUT, field]);
  }
  expect((await store.level(p.id)).onHand).toBe(20);
});

test('a new deal list tells the carts to forget every price (a notice without productIds)', async () => {
  await svc(stack).redis.del('deals:current');
  await stack.gql(`{ deals { product { id } } }`);
  expect(await noticesNow()).toEqual([undefined]);
});
