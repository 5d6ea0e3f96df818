import { Stack, startStack } from '@shop/kernel/testing';
import { Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { INTERNAL_TOKEN_HEADER, signInternalToken } from '@shop/kernel';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../../product/src';
import { createCartSubgraph } from '../src';
import { ADD, cartSvc, CREATE_CART, disposeClients, eventually, ok, product, userToken, wsClient } from './helpers';

/** cartTimer through the GATEWAY's WebSocket (graphql-ws), with product fields resolved from the product subgraph in each event. */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [productSubgraph, createCartSubgraph({ sweeperOptions: { intervalMs: 100 } })],
    gateway: startGateway,
    env: { CART_HOLD_SECONDS: '3', CART_TIMER_TICK_SECONDS: '1' },
  });
  // Fix the deals list (made from what is in stock when first asked for) before the products of these tests exist.
  await product(stack, { name: 'Filler deal', stock: 1 });
  ok(await stack.gql(`{ deals { product { id } } }`));
});
afterAll(async () => {
  await disposeClients();
  await stack?.stop();
});

const TIMER = `subscription Timer($id: ID!) {
  cartTimer(cartId: $id) {
    cartId status secondsRemaining expiresAt
    cart { ...Lines total { amount } }
  }
}
fragment Lines on Cart { items { quantity product { id name price { formatted } } } }`;

/** Collects events until the stream ends (or `stop` says so). */
async function collect(
  c: Client,
  query: string,
  variables: Record<string, unknown>,
  stop: (events: any[]) => boolean = () => false,
  onEvent?: (e: any, all: any[]) => void,
) {
  const events: any[] = [];
  try {
    for await (const r of c.iterate({ query, variables })) {
      events.push(r);
      onEvent?.(r, events);
      if (stop(events)) break;
    }
  } catch (err) {
    events.push({ thrown: err });
  }
  return events;
}

test('initial state, an event per change, ticks, and the final EXPIRED event — with product fields from the product subgraph', async () => {
  const speaker = await product(stack, { name: 'Timer Speaker', price: 4999, stock: 5 });
  const cable = await product(stack, { name: 'Timer Cable', price: 999, stock: 5 });
  const cartId = ok(await stack.gql(CREATE_CART)).createCart.id;
  ok(await stack.gql(ADD, { c: cartId, p: speaker.id, q: 1 }));

  let changed = false;
  const events = await collect(
    wsClient(stack),
    TIMER,
    { id: cartId },
    () => false,
    (_e, all) => {
      // After the first tick, change the cart from another client: the event must arrive without waiting for a tick.
      if (!changed && all.length === 2) {
        changed = true;
        void stack.gql(ADD, { c: cartId, p: cable.id, q: 2 });
      }
    },
  );
  expect(events.every((e) => !e.errors && !e.thrown)).toBe(true);
  const timer = events.map((e) => e.data.cartTimer);

  expect(timer[0]).toMatchObject({
    cartId,
    status: 'ACTIVE',
    cart: {
      items: [{ quantity: 1, product: { id: speaker.id, name: 'Timer Speaker', price: { formatted: '$49.99' } } }],
      total: { amount: 4999 },
    },
  });
  expect(timer[0].secondsRemaining).toBeGreaterThan(0);
  const withCable = timer.findIndex((t) => t.cart?.items.length === 2);
  expect(withCable).toBeGreaterThan(0);
  expect(timer[withCable].cart.items[1]).toEqual({
    quantity: 2,
    product: { id: cable.id, name: 'Timer Cable', price: { formatted: '$9.99' } },
  });
  expect(timer[withCable].cart.total).toEqual({ amount: 4999 + 2 * 999 });
  // The change moved the deadline.
  expect(new Date(timer[withCable].expiresAt).getTime()).toBeGreaterThan(new Date(timer[0].expiresAt).getTime());
  // Ticks: several events with the same state counting down, one per second of the countdown (each cart ticks when
  // its own displayed second changes, so no second is sent twice).
  const ticks = timer.slice(withCable + 1, -1);
  expect(ticks.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < ticks.length; i++) expect(ticks[i].secondsRemaining).toBeLessThan(ticks[i - 1].secondsRemaining);
  // The last event: EXPIRED and empty; then the stream ended by itself.
  expect(timer.at(-1)).toMatchObject({
    cartId,
    status: 'EXPIRED',
    secondsRemaining: 0,
    expiresAt: null,
    cart: { items: [], total: { amount: 0 } },
  });
  expect(timer.filter((t) => t.status === 'EXPIRED')).toHaveLength(1);
  await eventually('upstream closed', async () => cartSvc(stack).hub.size === 0);
});

test("a signed-in user watches their own cart; another user's cart is refused; anonymous callers too", async () => {
  const owner = userToken(stack);
  const cartId = ok(await stack.gql(CREATE_CART, {}, owner)).createCart.id;
  const mine = await collect(wsClient(stack, owner), TIMER, { id: cartId }, (all) => all.length >= 1);
  expect(mine[0].data.cartTimer).toMatchObject({
    cartId,
    status: 'ACTIVE',
    secondsRemaining: 0,
    expiresAt: null,
    cart: { items: [] },
  });

  for (const token of [userToken(stack), undefined]) {
    const refused = await collect(wsClient(stack, token), TIMER, { id: cartId }, (all) => all.length >= 1);
    expect(JSON.stringify(refused[0].errors ?? refused[0].thrown)).toContain('FORBIDDEN');
    expect(refused[0].data?.cartTimer ?? null).toBeNull();
  }
  await eventually('no subscription left open upstream', async () => cartSvc(stack).hub.size === 0);
});

test('a client that disconnects closes the upstream subscription (no leak)', async () => {
  const p = await product(stack, { stock: 5 });
  const cartId = ok(await stack.gql(CREATE_CART)).createCart.id;
  ok(await stack.gql(ADD, { c: cartId, p: p.id, q: 1 }));
  const clients = [wsClient(stack), wsClient(stack), wsClient(stack)];
  const first = await Promise.all(
    clients.map(async (c) => {
      const it = c.iterate({ query: TIMER, variables: { id: cartId } });
      const r = await it.next();
      return { it, r };
    }),
  );
  expect(first.every((f) => f.r.value?.data?.cartTimer.status === 'ACTIVE')).toBe(true);
  expect(cartSvc(stack).hub.size).toBe(3);
  await first[0].it.return?.();
  await eventually('one closed', async () => cartSvc(stack).hub.size === 2);
  // A dropped socket (not a polite complete) as well.
  await clients[1].dispose();
  await clients[2].dispose();
  await eventually('all closed', async () => cartSvc(stack).hub.size === 0);
});

test("the subgraph's own socket: two subscribers of one operation text are both served; an invalid text is refused each time", async () => {
  const url = stack.services.cart.url.replace(/^http/, 'ws');
  const token = signInternalToken(stack.env.keys, {}, 'cart');
  const direct = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: { [INTERNAL_TOKEN_HEADER]: token },
  });
  try {
    const cartId = ok(await stack.gql(CREATE_CART)).createCart.id;
    const q = `subscription($id: ID!) { cartTimer(cartId: $id) { cartId status } }`;
    const events = await Promise.all(
      [1, 2].map(async () => {
        const it = direct.iterate({
          query: q,
          variables: { id: cartId },
          extensions: { [INTERNAL_TOKEN_HEADER]: token },
        });
        const r = await it.next();
        await it.return?.();
        return r.value;
      }),
    );
    expect(events.map((e) => e?.data?.cartTimer)).toEqual([
      { cartId, status: 'ACTIVE' },
      { cartId, status: 'ACTIVE' },
    ]);
    for (let i = 0; i < 2; i++) {
      const it = direct.iterate({ query: `subscription { cartTimer(cartId: "x") { nope } }` });
      await expect(it.next()).rejects.toEqual([expect.objectContaining({ message: expect.stringMatching(/nope/) })]);
    }
  } finally {
    await direct.dispose();
  }
});
