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
  eventually,
  expiredEvents,
  gqlFrom,
  holds,
  ok,
  product,
  UPDATE,
  userToken,
} from './helpers';

/**
 * The absolute hold lifetime, with small settings: every change holds for 2 s (CART_HOLD_SECONDS), but never longer
 * than 3 s after the cart's first hold for a guest (CART_HOLD_MAX_SECONDS) or 5 s for a signed-in user
 * (CART_HOLD_MAX_SECONDS_USER). A guest cart, and all guest carts of one address together, hold at most 4 units.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [productSubgraph, createCartSubgraph({ sweeperOptions: { intervalMs: 100 } })],
    gateway: startGateway,
    env: {
      CART_HOLD_SECONDS: '2',
      CART_HOLD_MAX_SECONDS: '3',
      CART_HOLD_MAX_SECONDS_USER: '5',
      CART_MAX_UNITS_GUEST: '4',
      CART_MAX_UNITS_PER_ADDRESS: '4',
    },
  });
});
afterAll(async () => {
  await closeAgents();
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Changes the cart every 400 ms until it answers CART_EXPIRED (or `untilMs` passes); returns every answer. */
async function keepTouching(cartId: string, productId: string, untilMs: number, token?: string) {
  const answers: { at: number; res: { data?: any; errors?: any[] } }[] = [];
  for (let i = 0; Date.now() < untilMs; i++) {
    await sleep(400);
    const at = Date.now();
    const res = await stack.gql(UPDATE, { c: cartId, p: productId, q: 1 + (i % 2) }, token);
    answers.push({ at, res });
    if (res.errors) break;
  }
  return answers;
}

test('touching a guest cart does not keep it past CART_HOLD_MAX_SECONDS: it expires, its holds are released, cart.expired', async () => {
  const p = await product(stack, { stock: 10 });
  const c = ok(await stack.gql(CREATE_CART)).createCart.id;
  const first = ok(await stack.gql(ADD, { c, p: p.id, q: 1 })).addToCart;
  const firstHeld = Date.now();
  const cap = firstHeld + 3000;
  const answers = await keepTouching(c, p.id, firstHeld + 6000);

  // Every answer while it lived showed the real deadline: never past the cap, and the countdown agreeing with it.
  const alive = answers.filter((a) => !a.res.errors).map((a) => ({ at: a.at, cart: a.res.data!.updateCartItem }));
  expect(alive.length).toBeGreaterThanOrEqual(3);
  for (const { at, cart } of [{ at: firstHeld, cart: first }, ...alive]) {
    expect(new Date(cart.expiresAt).getTime()).toBeLessThanOrEqual(cap);
    expect(cart.secondsRemaining).toBeLessThanOrEqual(Math.ceil((cap - at) / 1000) + 1);
  }
  // It ended within a second of the cap, although it changed every 400 ms.
  const last = answers[answers.length - 1];
  expect(codes(last.res)).toEqual(['CART_EXPIRED']);
  expect(last.at).toBeLessThan(cap + 1500);
  expect(ok(await stack.gql(CART, { id: c })).cart).toMatchObject({
    status: 'EXPIRED',
    items: [],
    expiresAt: null,
    secondsRemaining: 0,
  });
  expect(await holds(stack, { cartId: c })).toEqual([]);
  expect(await available(stack, p.id)).toMatchObject({ available: 10, held: 0 });
  expect(await expiredEvents(stack, c)).toHaveLength(1);
});

test('the product store never holds past the cap while the cart is touched', async () => {
  const p = await product(stack, { stock: 10 });
  const c = ok(await stack.gql(CREATE_CART)).createCart.id;
  ok(await stack.gql(ADD, { c, p: p.id, q: 1 }));
  const cap = Date.now() + 3000;
  await sleep(1500);
  // 1.5 s in, a change would hold until 3.5 s: it holds until the cap (3 s) instead.
  const touched = ok(await stack.gql(UPDATE, { c, p: p.id, q: 2 })).updateCartItem;
  expect(new Date(touched.expiresAt).getTime()).toBeLessThanOrEqual(cap);
  const [row] = await holds(stack, { cartId: c });
  expect(row.quantity).toBe(2);
  expect(row.expiresAt.getTime()).toBeLessThanOrEqual(cap);
  expect(row.expiresAt.getTime()).toBe(new Date(touched.expiresAt).getTime());
  await eventually('expired', async () => (await cartSvc(stack).store.get(c))?.status === 'EXPIRED', 5000);
  expect(await holds(stack, { cartId: c })).toEqual([]);
});

test('a signed-in cart has the longer CART_HOLD_MAX_SECONDS_USER, and it is absolute too', async () => {
  const p = await product(stack, { stock: 10 });
  const token = userToken(stack);
  const c = ok(await stack.gql(CREATE_CART, {}, token)).createCart.id;
  ok(await stack.gql(ADD, { c, p: p.id, q: 1 }, token));
  const firstHeld = Date.now();
  const answers = await keepTouching(c, p.id, firstHeld + 8000, token);
  const alive = answers.filter((a) => !a.res.errors);
  // Alive past the guest cap (3 s), never past its own (5 s).
  expect(Math.max(...alive.map((a) => a.at))).toBeGreaterThan(firstHeld + 3500);
  for (const a of alive)
    expect(new Date(a.res.data!.updateCartItem.expiresAt).getTime()).toBeLessThanOrEqual(firstHeld + 5000);
  expect(codes(answers[answers.length - 1].res)).toEqual(['CART_EXPIRED']);
  expect(answers[answers.length - 1].at).toBeLessThan(firstHeld + 6500);
  expect(await holds(stack, { cartId: c })).toEqual([]);
});

test('an expired cart gives its units back to the address budget', async () => {
  const address = '127.0.0.21';
  const p = await product(stack, { stock: 10 });
  const full = ok(await gqlFrom(stack, address, CREATE_CART)).createCart.id;
  const next = ok(await gqlFrom(stack, address, CREATE_CART)).createCart.id;
  ok(await gqlFrom(stack, address, ADD, { c: full, p: p.id, q: 4 }));
  const refused = await gqlFrom(stack, address, ADD, { c: next, p: p.id, q: 1 });
  expect(refused.errors?.map((e) => e.extensions.limit)).toEqual(['addressUnits']);
  await eventually('expired', async () => (await cartSvc(stack).store.get(full))?.status === 'EXPIRED', 5000);
  expect(ok(await gqlFrom(stack, address, ADD, { c: next, p: p.id, q: 4 })).addToCart.items[0].quantity).toBe(4);
});
