import { registry } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../../product/src';
import { createCartSubgraph, StartedCart } from '../src';
import {
  ADD,
  available,
  CART,
  cartSvc,
  codes,
  CREATE_CART,
  eventually,
  expiredEvents,
  holds,
  ok,
  product,
  STOCK,
} from './helpers';

/** CART_HOLD_SECONDS=2, and a second cart instance: two sweepers compete for every due cart. */
let stack: Stack;
let second: StartedCart;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [productSubgraph, createCartSubgraph({ sweeperOptions: { intervalMs: 100 } })],
    gateway: startGateway,
    env: { CART_HOLD_SECONDS: '2' },
  });
  second = await createCartSubgraph({ sweeperOptions: { intervalMs: 100 } }).start({
    config: stack.env.config,
    keys: stack.env.keys,
    logger: stack.env.logger.child({ service: 'cart-2' }),
    port: 0,
  });
});
afterAll(async () => {
  await second?.stop();
  await stack?.stop();
});

/** A metric's value in this process's registry (what /metrics serves; scrape-time gauges are read now). */
async function metric(name: string): Promise<number> {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

const newCart = async () => ok(await stack.gql(CREATE_CART)).createCart.id as string;

test('carts expire within a second of their deadline: holds released, stock back, cart.expired exactly once with two sweepers', async () => {
  const p = await product(stack, { stock: 10 });
  const expiredBefore = await metric('shop_carts_expired_total');
  const carts = await Promise.all(Array.from({ length: 8 }, newCart));
  const added = await Promise.all(carts.map((c) => stack.gql(ADD, { c, p: p.id, q: 1 }).then((r) => ok(r).addToCart)));
  expect((await available(stack, p.id)).available).toBe(2);
  expect(await metric('shop_stock_holds_active')).toBe(8);
  expect(await metric('shop_stock_held_units')).toBe(8);

  for (const [i, c] of carts.entries()) {
    const stored = await eventually(
      `cart ${c} expired`,
      async () => {
        const s = await cartSvc(stack).store.get(c);
        return s?.status === 'EXPIRED' ? s : null;
      },
      10_000,
    );
    const deadline = new Date(added[i].expiresAt).getTime();
    // Handled after the deadline and within a second of it.
    expect(new Date(stored.updatedAt).getTime()).toBeGreaterThanOrEqual(deadline);
    expect(new Date(stored.updatedAt).getTime() - deadline).toBeLessThan(1000);
    expect(stored.lines).toEqual([]);
  }
  expect(await holds(stack, { productId: p.id })).toEqual([]);
  // The metrics: each expiry counted once (by whichever sweeper did it), no hold left.
  expect((await metric('shop_carts_expired_total')) - expiredBefore).toBe(8);
  expect(await metric('shop_stock_holds_active')).toBe(0);
  expect(await available(stack, p.id)).toMatchObject({ available: 10, held: 0 });
  expect(ok(await stack.gql(STOCK, { id: p.id })).product.stock).toBe(10);

  // Exactly one cart.expired per cart, although two sweepers were running; it lists what was released.
  const events = await expiredEvents(stack);
  for (const c of carts) {
    const mine = events.filter((e) => e.data.cartId === c);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      v: 1,
      type: 'cart.expired',
      data: { cartId: c, userId: null, lines: [{ productId: p.id, quantity: 1 }] },
    });
  }
  // Both instances did part of the work or one did all; either way nothing twice.
  expect(events.filter((e) => carts.includes(e.data.cartId))).toHaveLength(carts.length);

  // An expired cart refuses changes and reads as EXPIRED.
  expect(codes(await stack.gql(ADD, { c: carts[0], p: p.id, q: 1 }))).toEqual(['CART_EXPIRED']);
  expect(ok(await stack.gql(CART, { id: carts[0] })).cart).toMatchObject({
    status: 'EXPIRED',
    items: [],
    expiresAt: null,
    secondsRemaining: 0,
  });
});

test('every change restarts the countdown: a cart changed before its deadline does not expire then', async () => {
  const p = await product(stack, { stock: 5 });
  const c = await newCart();
  ok(await stack.gql(ADD, { c, p: p.id, q: 1 }));
  await new Promise((r) => setTimeout(r, 1500));
  const again = ok(await stack.gql(ADD, { c, p: p.id, q: 1 })).addToCart;
  await new Promise((r) => setTimeout(r, 1000));
  // 2.5 s after the first add: past the first deadline, before the second.
  expect(ok(await stack.gql(CART, { id: c })).cart).toMatchObject({ status: 'ACTIVE', items: [{ quantity: 2 }] });
  expect((await holds(stack, { cartId: c })).map((h) => h.quantity)).toEqual([2]);
  await eventually('expired', async () => (await cartSvc(stack).store.get(c))?.status === 'EXPIRED');
  expect(Date.now()).toBeGreaterThanOrEqual(new Date(again.expiresAt).getTime());
});

test('lazy expiry: with every sweeper stopped, a hold past its deadline no longer counts, and the cart answers CART_EXPIRED', async () => {
  await cartSvc(stack).sweeper.stop();
  await second.sweeper.stop();
  try {
    const p = await product(stack, { stock: 3 });
    const c = await newCart();
    ok(await stack.gql(ADD, { c, p: p.id, q: 3 }));
    expect(ok(await stack.gql(STOCK, { id: p.id })).product).toEqual({ stock: 0, inStock: false });
    await new Promise((r) => setTimeout(r, 2200));
    // Nobody cleaned up: the hold row is still there, but it is past its deadline…
    const [row] = await holds(stack, { cartId: c });
    expect(row.quantity).toBe(3);
    expect(row.expiresAt.getTime()).toBeLessThan(Date.now());
    // …so it does not reduce the stock, and another cart can hold those units.
    expect(ok(await stack.gql(STOCK, { id: p.id })).product).toEqual({ stock: 3, inStock: true });
    const other = await newCart();
    ok(await stack.gql(ADD, { c: other, p: p.id, q: 3 }));
    expect(ok(await stack.gql(CART, { id: c })).cart).toMatchObject({ status: 'EXPIRED', items: [] });
    expect(codes(await stack.gql(ADD, { c, p: p.id, q: 1 }))).toEqual(['CART_EXPIRED']);
    // Touching it expired it on the spot: its row is gone and the event went out.
    expect(await holds(stack, { cartId: c })).toEqual([]);
    expect(await expiredEvents(stack, c)).toHaveLength(1);
    expect((await holds(stack, { cartId: other })).map((h) => h.quantity)).toEqual([3]);
  } finally {
    cartSvc(stack).sweeper.start();
    second.sweeper.start();
  }
});
