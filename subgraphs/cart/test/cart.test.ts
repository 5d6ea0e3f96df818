import { randomUUID } from 'node:crypto';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../../product/src';
import { createCartSubgraph } from '../src';
import { db as productDb } from '../../product/test/helpers';
import {
  ADD,
  adminToken,
  available,
  CART,
  cartSvc,
  codes,
  CREATE_CART,
  fields,
  holds,
  MERGE,
  MY_CART,
  ok,
  product,
  REMOVE,
  STOCK,
  UPDATE,
  userToken,
} from './helpers';

/** The cart subgraph through the gateway with the real product subgraph (holds live in its database). */
let stack: Stack;
let deal: Awaited<ReturnType<typeof product>>;
beforeAll(async () => {
  // These tests drive the per-line (99) and stock bounds with guest carts, all from one address: the anti-hoarding
  // bounds (20 units per guest cart, 60 per address by default) are raised here and tested in limits.test.ts.
  stack = await startStack({
    subgraphs: [productSubgraph, createCartSubgraph()],
    gateway: startGateway,
    env: { CART_MAX_UNITS_GUEST: '99', CART_MAX_UNITS_PER_ADDRESS: '100000' },
  });
  // The deals list is made from the products in stock when it is first asked for: this one, alone; products created
  // later are not on it (the list is kept for 24 h).
  deal = await product(stack, { price: 1999, stock: 50, name: 'Deal Speaker' });
  expect(ok(await stack.gql(`{ deals { product { id } discountPercent } }`)).deals).toEqual([
    { product: { id: deal.id }, discountPercent: 20 },
  ]);
});
afterAll(async () => {
  await stack?.stop();
});

async function guestCart(): Promise<string> {
  return ok(await stack.gql(CREATE_CART)).createCart.id;
}

test('50 carts race for 10 units: exactly 10 hold one, 40 get INSUFFICIENT_STOCK, the store never goes below zero', async () => {
  const p = await product(stack, { stock: 10 });
  const carts = await Promise.all(Array.from({ length: 50 }, guestCart));
  const results = await Promise.all(carts.map((c) => stack.gql(ADD, { c, p: p.id, q: 1 })));
  const succeeded = results.filter((r) => !r.errors);
  const refused = results.filter((r) => r.errors);
  expect(succeeded).toHaveLength(10);
  expect(refused).toHaveLength(40);
  for (const r of refused) {
    expect(codes(r)).toEqual(['INSUFFICIENT_STOCK']);
    expect(r.errors![0].extensions!.available).toBe(0);
  }
  // The database: 10 hold rows of 1 unit, each for a cart whose add succeeded; nothing left; never negative.
  const rows = await holds(stack, { productId: p.id });
  expect(rows).toHaveLength(10);
  expect(rows.reduce((s, r) => s + r.quantity, 0)).toBe(10);
  expect(new Set(rows.map((r) => r.cartId))).toEqual(new Set(succeeded.map((r) => r.data!.addToCart.id)));
  expect(await available(stack, p.id)).toEqual({ available: 0, onHand: 10, held: 10, balance: 0 });
  expect(ok(await stack.gql(STOCK, { id: p.id })).product).toEqual({ stock: 0, inStock: false });
  // A refused cart is unchanged: still empty, no deadline.
  const refusedCart = carts.find((c) => !rows.some((r) => r.cartId === c))!;
  expect(ok(await stack.gql(CART, { id: refusedCart })).cart).toMatchObject({
    items: [],
    expiresAt: null,
    secondsRemaining: 0,
  });
});

test('adding, updating and removing lines: the holds follow, and every change moves the deadline of all of them', async () => {
  const a = await product(stack, { stock: 5, price: 1000 });
  const b = await product(stack, { stock: 5, price: 250 });
  const c = await guestCart();
  const first = ok(await stack.gql(ADD, { c, p: a.id, q: 2 })).addToCart;
  expect(first.items).toHaveLength(1);
  expect(first.secondsRemaining).toBeGreaterThan(590);
  const [h1] = await holds(stack, { cartId: c });
  expect(h1).toMatchObject({ productId: a.id, quantity: 2 });
  expect(Math.abs(h1.expiresAt.getTime() - new Date(first.expiresAt).getTime())).toBeLessThan(1000);

  await new Promise((r) => setTimeout(r, 1100));
  const second = ok(await stack.gql(ADD, { c, p: b.id, q: 1 })).addToCart;
  expect(new Date(second.expiresAt).getTime()).toBeGreaterThan(new Date(first.expiresAt).getTime());
  const moved = await holds(stack, { cartId: c });
  expect(moved.map((h) => [h.productId, h.quantity]).sort()).toEqual(
    [
      [a.id, 2],
      [b.id, 1],
    ].sort(),
  );
  // Both holds now end at the new deadline.
  for (const h of moved)
    expect(Math.abs(h.expiresAt.getTime() - new Date(second.expiresAt).getTime())).toBeLessThan(1000);

  // Adding more of the same product adds to the line.
  expect(
    ok(await stack.gql(ADD, { c, p: a.id, q: 1 })).addToCart.items.find((i: any) => i.product.id === a.id).quantity,
  ).toBe(3);
  expect((await available(stack, a.id)).available).toBe(2);

  // Updating to 0 removes the line and releases its hold; removing the last line empties the cart (no deadline).
  const updated = ok(await stack.gql(UPDATE, { c, p: a.id, q: 0 })).updateCartItem;
  expect(updated.items.map((i: any) => i.product.id)).toEqual([b.id]);
  expect(await holds(stack, { cartId: c, productId: a.id })).toEqual([]);
  expect((await available(stack, a.id)).available).toBe(5);
  const emptied = ok(await stack.gql(REMOVE, { c, p: b.id })).removeFromCart;
  expect(emptied).toMatchObject({
    status: 'ACTIVE',
    items: [],
    expiresAt: null,
    secondsRemaining: 0,
    total: { amount: 0 },
  });
  expect(await holds(stack, { cartId: c })).toEqual([]);
});

test('a refused hold changes nothing: the cart keeps its lines and deadline, the store keeps its holds', async () => {
  const p = await product(stack, { stock: 3 });
  const c = await guestCart();
  const before = ok(await stack.gql(ADD, { c, p: p.id, q: 2 })).addToCart;
  const res = await stack.gql(ADD, { c, p: p.id, q: 2 });
  expect(codes(res)).toEqual(['INSUFFICIENT_STOCK']);
  expect(res.errors![0].extensions!.available).toBe(3);
  expect(res.errors![0].message).toMatch(/3/);
  const after = ok(await stack.gql(CART, { id: c })).cart;
  expect(after.items.map((i: any) => i.quantity)).toEqual([2]);
  expect(after.expiresAt).toBe(before.expiresAt);
  expect((await holds(stack, { cartId: c })).map((h) => h.quantity)).toEqual([2]);
});

test('prices: a deal line and a normal line, discount half up per unit, exact totals', async () => {
  const plain = await product(stack, { price: 333, stock: 50, name: 'Plain Cable' });
  const c = await guestCart();
  await stack.gql(ADD, { c, p: deal.id, q: 3 });
  const cart = ok(await stack.gql(ADD, { c, p: plain.id, q: 2 })).addToCart;
  const byId = new Map(cart.items.map((i: any) => [i.product.id, i]));
  // 1999 × 20 % = 399.8 → 400 off per unit → 1599; × 3 = 4797.
  expect(byId.get(deal.id)).toMatchObject({
    product: { name: 'Deal Speaker' },
    quantity: 3,
    unitPrice: { amount: 1999, currency: 'USD', formatted: '$19.99' },
    discountPercent: 20,
    lineTotal: { amount: 4797, formatted: '$47.97' },
  });
  expect(byId.get(plain.id)).toMatchObject({
    quantity: 2,
    unitPrice: { amount: 333 },
    discountPercent: 0,
    lineTotal: { amount: 666 },
  });
  expect(cart.subtotal).toEqual({ amount: 1999 * 3 + 666, currency: 'USD', formatted: '$66.63' });
  expect(cart.discountTotal).toEqual({ amount: 1200, currency: 'USD', formatted: '$12.00' });
  expect(cart.total).toEqual({ amount: 5463, currency: 'USD', formatted: '$54.63' });
});

test('bad input gets coded errors and changes nothing', async () => {
  const p = await product(stack, { stock: 5 });
  const c = await guestCart();
  for (const q of [0, -1, 100]) {
    const res = await stack.gql(ADD, { c, p: p.id, q });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(fields(res)).toEqual(['quantity']);
  }
  expect(codes(await stack.gql(ADD, { c, p: p.id, q: 1.5 }))).toEqual(['BAD_USER_INPUT']);
  expect(fields(await stack.gql(ADD, { c: 'not-an-id', p: p.id, q: 1 }))).toEqual(['cartId']);
  expect(fields(await stack.gql(ADD, { c, p: 'nope', q: 1 }))).toEqual(['productId']);
  expect(codes(await stack.gql(ADD, { c: randomUUID(), p: p.id, q: 1 }))).toEqual(['NOT_FOUND']);
  expect(codes(await stack.gql(ADD, { c, p: randomUUID(), q: 1 }))).toEqual(['NOT_FOUND']);
  // Over the per-line bound across several adds.
  ok(await stack.gql(UPDATE, { c, p: p.id, q: 5 }));
  await stack.gql(
    `mutation($id: ID!) { adjustStock(productId: $id, delta: 200, reason: "restock") { id } }`,
    { id: p.id },
    adminToken(stack),
  );
  ok(await stack.gql(UPDATE, { c, p: p.id, q: 99 }));
  expect(fields(await stack.gql(ADD, { c, p: p.id, q: 1 }))).toEqual(['quantity']);
  expect((await holds(stack, { cartId: c })).map((h) => h.quantity)).toEqual([99]);
});

test('a product id is any UUID PostgreSQL stores, not only the version-4 ones this shop mints', async () => {
  // An imported product (ids kept from another system): version and variant nibbles 0, still a valid uuid.
  const p = await product(stack, { stock: 5 });
  const imported = `0123abcd-ef01-0${randomUUID().slice(15, 18)}-0${randomUUID().slice(20, 23)}-${randomUUID().slice(24)}`;
  await productDb(stack)(
    `INSERT INTO products (id, sku, name, description, category_slug, price_amount, currency, on_hand)
     SELECT ?, sku || '-IMPORTED', name || ' (imported)', description, category_slug, price_amount, currency, on_hand FROM products WHERE id = ?`,
    [imported, p.id],
  );
  expect(ok(await stack.gql(STOCK, { id: imported })).product).toEqual({ stock: 5, inStock: true });
  const c = await guestCart();
  const cart = ok(await stack.gql(ADD, { c, p: imported.toUpperCase(), q: 2 })).addToCart;
  expect(cart.items.map((i: { product: { id: string }; quantity: number }) => [i.product.id, i.quantity])).toEqual([
    [imported, 2],
  ]);
  expect(await holds(stack, { cartId: c })).toEqual([expect.objectContaining({ productId: imported, quantity: 2 })]);
});

test('archived products cannot be added', async () => {
  const p = await product(stack, { stock: 5 });
  ok(await stack.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: p.id }, adminToken(stack)));
  const c = await guestCart();
  expect(codes(await stack.gql(ADD, { c, p: p.id, q: 1 }))).toEqual(['NOT_FOUND']);
  expect(await holds(stack, { cartId: c })).toEqual([]);
});

test("a user's cart: createCart returns it again, myCart shows it, nobody else may read or change it, admins may read", async () => {
  const p = await product(stack, { stock: 5 });
  const ann = userToken(stack);
  const bob = userToken(stack);
  const cart = ok(await stack.gql(CREATE_CART, {}, ann)).createCart;
  expect(ok(await stack.gql(CREATE_CART, {}, ann)).createCart.id).toBe(cart.id);
  ok(await stack.gql(ADD, { c: cart.id, p: p.id, q: 1 }, ann));
  expect(ok(await stack.gql(MY_CART, {}, ann)).myCart).toMatchObject({ id: cart.id, items: [{ quantity: 1 }] });
  expect(codes(await stack.gql(MY_CART))).toEqual(['UNAUTHENTICATED']);
  expect(ok(await stack.gql(MY_CART, {}, bob)).myCart).toBeNull();
  for (const [q, v] of [
    [CART, { id: cart.id }],
    [ADD, { c: cart.id, p: p.id, q: 1 }],
    [REMOVE, { c: cart.id, p: p.id }],
  ] as const) {
    expect(codes(await stack.gql(q, v, bob))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(q, v))).toEqual(['FORBIDDEN']);
  }
  expect(ok(await stack.gql(CART, { id: cart.id }, adminToken(stack))).cart.items).toHaveLength(1);
  expect((await holds(stack, { cartId: cart.id })).map((h) => h.quantity)).toEqual([1]);
  // Unknown carts are null, not an error.
  expect(ok(await stack.gql(CART, { id: randomUUID() })).cart).toBeNull();
});

test('mergeCart moves a guest cart into the user cart: quantities added, holds moved, capped by stock, guest cart gone', async () => {
  const scarce = await product(stack, { stock: 4 });
  const plenty = await product(stack, { stock: 20 });
  const other = await product(stack, { stock: 20 });
  const user = userToken(stack);
  const mine = ok(await stack.gql(CREATE_CART, {}, user)).createCart.id;
  ok(await stack.gql(ADD, { c: mine, p: scarce.id, q: 2 }, user));
  ok(await stack.gql(ADD, { c: mine, p: other.id, q: 1 }, user));
  const guest = await guestCart();
  ok(await stack.gql(ADD, { c: guest, p: scarce.id, q: 2 }));
  ok(await stack.gql(ADD, { c: guest, p: plenty.id, q: 3 }));
  // Someone else takes one unit of the scarce product: 4 on hand, 2 + 2 held by us, 0 free — so they must fail…
  const rival = await guestCart();
  expect(codes(await stack.gql(ADD, { c: rival, p: scarce.id, q: 1 }))).toEqual(['INSUFFICIENT_STOCK']);
  // …and after the guest releases one, the rival gets it, leaving the merge short by one.
  ok(await stack.gql(UPDATE, { c: guest, p: scarce.id, q: 1 }));
  ok(await stack.gql(ADD, { c: rival, p: scarce.id, q: 1 }));
  ok(await stack.gql(UPDATE, { c: guest, p: scarce.id, q: 1 }));

  const merged = ok(await stack.gql(MERGE, { c: guest }, user)).mergeCart;
  expect(merged.id).toBe(mine);
  const q = new Map(merged.items.map((i: any) => [i.product.id, i.quantity]));
  expect(Object.fromEntries(q)).toEqual({ [scarce.id]: 3, [other.id]: 1, [plenty.id]: 3 });
  expect(merged.adjustments).toEqual([]);
  expect(await holds(stack, { cartId: guest })).toEqual([]);
  const mineHolds = await holds(stack, { cartId: mine });
  expect(Object.fromEntries(mineHolds.map((h) => [h.productId, h.quantity]))).toEqual(Object.fromEntries(q));
  expect(await available(stack, scarce.id)).toMatchObject({ available: 0, balance: 0 });
  // The guest cart is gone.
  expect(ok(await stack.gql(CART, { id: guest })).cart).toBeNull();
  expect(codes(await stack.gql(MERGE, { c: guest }, user))).toEqual(['NOT_FOUND']);

  // A second guest cart would push a line over the per-product bound (99): capped, and the answer says so.
  const big = await product(stack, { stock: 200 });
  ok(await stack.gql(ADD, { c: mine, p: big.id, q: 60 }, user));
  const guest2 = await guestCart();
  ok(await stack.gql(ADD, { c: guest2, p: big.id, q: 60 }));
  const capped = ok(await stack.gql(MERGE, { c: guest2 }, user)).mergeCart;
  expect(capped.items.find((i: any) => i.product.id === big.id).quantity).toBe(99);
  expect(capped.adjustments).toEqual([{ product: { id: big.id }, requested: 120, quantity: 99 }]);
  expect((await holds(stack, { productId: big.id })).map((h) => [h.cartId, h.quantity])).toEqual([[mine, 99]]);
  expect((await available(stack, big.id)).available).toBe(101);
  // The next change clears the report.
  expect(ok(await stack.gql(ADD, { c: mine, p: other.id, q: 1 }, user)).addToCart.adjustments).toEqual([]);
});

test("mergeCart refuses anonymous callers and other users' carts", async () => {
  const ann = userToken(stack);
  const bobCart = ok(await stack.gql(CREATE_CART, {}, userToken(stack))).createCart.id;
  expect(codes(await stack.gql(MERGE, { c: await guestCart() }))).toEqual(['UNAUTHENTICATED']);
  expect(codes(await stack.gql(MERGE, { c: bobCart }, ann))).toEqual(['FORBIDDEN']);
});

test('checkout commands: begin refuses foreign, guest, empty carts; complete empties the cart once and releases leftovers', async () => {
  const p = await product(stack, { stock: 5, price: 1000, name: 'Checkout Lamp' });
  const userId = randomUUID();
  const token = userToken(stack, userId);
  const carts = cartSvc(stack).carts;
  const cartId = ok(await stack.gql(CREATE_CART, {}, token)).createCart.id;
  await expect(carts.beginCheckout({ cartId, userId })).rejects.toMatchObject({ extensions: { code: 'CART_EMPTY' } });
  ok(await stack.gql(ADD, { c: cartId, p: p.id, q: 2 }, token));
  const begun = await carts.beginCheckout({ cartId, userId });
  expect(begun).toMatchObject({
    cartId,
    status: 'ACTIVE',
    currency: 'USD',
    // The name and archived flag come from the lookup that priced the line: the order snapshots them as they are.
    lines: [
      {
        productId: p.id,
        quantity: 2,
        unitPrice: 1000,
        discountPercent: 0,
        productName: 'Checkout Lamp',
        archived: false,
      },
    ],
  });
  await expect(carts.beginCheckout({ cartId, userId: randomUUID() })).rejects.toMatchObject({
    extensions: { code: 'FORBIDDEN' },
  });
  const guest = await guestCart();
  ok(await stack.gql(ADD, { c: guest, p: p.id, q: 1 }));
  await expect(carts.beginCheckout({ cartId: guest, userId })).rejects.toMatchObject({
    extensions: { code: 'FORBIDDEN' },
  });
  await expect(carts.beginCheckout({ cartId: randomUUID(), userId })).rejects.toMatchObject({
    extensions: { code: 'NOT_FOUND' },
  });

  const orderId = randomUUID();
  await Promise.all([carts.completeCheckout({ cartId, orderId }), carts.completeCheckout({ cartId, orderId })]);
  expect(ok(await stack.gql(CART, { id: cartId }, token)).cart).toMatchObject({
    status: 'CHECKED_OUT',
    items: [],
    expiresAt: null,
  });
  // No order converted the holds here, so complete released them.
  expect(await holds(stack, { cartId })).toEqual([]);
  await expect(carts.beginCheckout({ cartId, userId })).rejects.toMatchObject({ extensions: { code: 'CART_EMPTY' } });
  expect(fields(await stack.gql(ADD, { c: cartId, p: p.id, q: 1 }, token))).toEqual(['cartId']);
  // The user's next createCart is a new cart.
  expect(ok(await stack.gql(CREATE_CART, {}, token)).createCart.id).not.toBe(cartId);
});

test('checkout complete with the lines sold: releases holds unless the sale was exactly the cart (the commit consumed them)', async () => {
  const p = await product(stack, { stock: 5, price: 1000 });
  const carts = cartSvc(stack).carts;
  const cartOf = async () => {
    const token = userToken(stack, randomUUID());
    const cartId = ok(await stack.gql(CREATE_CART, {}, token)).createCart.id as string;
    ok(await stack.gql(ADD, { c: cartId, p: p.id, q: 2 }, token));
    return cartId;
  };
  // A sale of part of the cart (a line changed after checkout began): the rest goes back now.
  const partly = await cartOf();
  await carts.completeCheckout({ cartId: partly, orderId: randomUUID(), sold: [{ productId: p.id, quantity: 1 }] });
  expect(await holds(stack, { cartId: partly })).toEqual([]);
  // Exactly the cart's lines: no release is asked for (no commit ran in this test, so the hold is still there).
  const exactly = await cartOf();
  await carts.completeCheckout({ cartId: exactly, orderId: randomUUID(), sold: [{ productId: p.id, quantity: 2 }] });
  expect(await holds(stack, { cartId: exactly })).toHaveLength(1);
});
