import { randomUUID } from 'node:crypto';
import { ScaleStack, startScaleStack } from '@shop/kernel/testing';
import type { ServiceName } from '@shop/kernel';
import { raceReadersAgainstPriceChanges } from '../gateway/test/fixtures/price-race';
import {
  ADDRESS,
  cacheHits,
  countdown,
  Countdown,
  establishedOn,
  graphqlRequests,
  ok,
  shopOf,
  sleep,
  streamEvents,
  until,
} from './helpers';

/**
 * Scale-out (issue 16): two instances of every subgraph and two gateways, each its own process from dist/, behind
 * a real HAProxy (round-robin, health checks on /ready, retries on another server). One stack for the whole file, in
 * this order: tests that need other settings (short cart holds, the catalog caches) restart processes last.
 */
const SUBGRAPHS: ServiceName[] = ['user', 'product', 'cart', 'order', 'media', 'notification'];
let stack: ScaleStack;
let shop: ReturnType<typeof shopOf>;
const open: Countdown[] = [];
/** Longest wait for restarted processes to be ready and back in rotation. */
const RESTART_MS = 120_000;

beforeAll(async () => {
  stack = await startScaleStack({ instances: 2, gateways: 2, readyTimeoutMs: RESTART_MS });
  shop = shopOf(stack);
  await shop.category();
}, 240_000);
afterAll(async () => {
  for (const c of open) await c.stop().catch(() => undefined);
  // What went wrong inside the processes, if anything did (error-level log lines), before they go away.
  if (stack) {
    const errors = [...stack.gateways, ...Object.values(stack.instances).flat()].flatMap((p) =>
      p
        .output()
        .split('\n')
        .filter((l) => l.includes('"level":50'))
        .slice(-5)
        .map((l) => `${p.name}: ${l.slice(0, 1500)}`),
    );
    if (errors.length) console.log(`error lines logged by the processes:\n${errors.join('\n')}`);
  }
  await stack?.stop();
});

const CART_WITH = `mutation($c: ID!, $p: ID!, $q: Int!) { updateCartItem(cartId: $c, productId: $p, quantity: $q) { id items { quantity } } }`;
const PLACE = `mutation Place($input: PlaceOrderInput!, $key: String!) { placeOrder(input: $input, idempotencyKey: $key) { id number status } }`;

async function requestsPerInstance(): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const name of SUBGRAPHS)
    out[name] = await Promise.all(stack.instances[name].map((p) => graphqlRequests(p.origin)));
  return out;
}

test('the whole purchase flow through alternating gateways, each subgraph request on alternating instances', async () => {
  const before = await requestsPerInstance();
  const product = await shop.product(10, 2500, shop.gatewayUrl(0));
  const buyer = await shop.buyer();
  let step = 0;
  // Each request to the other gateway than the one before.
  const via = () => ({ token: buyer.token, url: shop.gatewayUrl(step++ % 2) });
  const cartId = ok(await stack.gql(`mutation { createCart { id } }`, {}, via())).createCart.id as string;
  ok(await stack.gql(CART_WITH, { c: cartId, p: product, q: 2 }, via()));
  const cart = ok(
    await stack.gql(
      `query($id: ID!) { cart(id: $id) { items { quantity product { name price { amount } } } total { amount } } }`,
      { id: cartId },
      via(),
    ),
  ).cart;
  expect(cart.items).toEqual([{ quantity: 2, product: { name: expect.any(String), price: { amount: 2500 } } }]);
  const placed = ok(
    await stack.gql(
      PLACE,
      { input: { cartId, shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, key: randomUUID() },
      via(),
    ),
  ).placeOrder;
  expect(placed.status).toEqual(expect.any(String));
  let status = '';
  await until(
    async () => {
      const o = ok(await stack.gql(`query($id: ID!) { order(id: $id) { status } }`, { id: placed.id }, via())).order;
      status = o.status;
      return status === 'PAID' || status === 'CONFIRMED';
    },
    20_000,
    'the order paid',
  );
  const orders = ok(await stack.gql(`{ me { id } }`, {}, via())).me;
  expect(orders.id).toBe(buyer.id);
  await until(() => stack.env.mail.messages.some((m) => m.to.includes(buyer.email)), 20_000, 'the confirmation');
  expect(await shop.stock(product)).toBe(8);

  // Round-robin per subgraph: the gateways' `/graphql` fetches alternate between its two instances.
  const after = await requestsPerInstance();
  const served: Record<string, number[]> = {};
  for (const name of SUBGRAPHS) {
    served[name] = after[name].map((n, i) => n - before[name][i]);
    const [a, b] = served[name];
    if (a + b >= 2) {
      expect(a).toBeGreaterThan(0);
      expect(b).toBeGreaterThan(0);
      expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
    }
  }
  console.log(
    `purchase flow (${step} requests, alternating gateways): /graphql served per instance ${JSON.stringify(served)}`,
  );
  expect(served.cart[0] + served.cart[1]).toBeGreaterThanOrEqual(3);
  expect(served.product[0] + served.product[1]).toBeGreaterThanOrEqual(2);
});

test('a cartTimer subscribed through gateway A sees the changes made through gateway B, ticking without gaps or duplicates', async () => {
  const product = await shop.product(10);
  const cartId = ok(await stack.gql(`mutation { createCart { id } }`, {}, { url: shop.gatewayUrl(1) })).createCart.id;
  ok(await stack.gql(CART_WITH, { c: cartId, p: product, q: 1 }, { url: shop.gatewayUrl(1) }));
  const c = countdown(shop.gatewayUrl(0), cartId);
  open.push(c);
  const quantity = (e: { payload: any }) => e.payload.data?.cartTimer.cart.items[0]?.quantity;
  await until(() => c.events.length >= 3, 10_000, 'the first events');
  for (const q of [2, 3, 4]) {
    ok(await stack.gql(CART_WITH, { c: cartId, p: product, q }, { url: shop.gatewayUrl(1) }));
    await until(() => c.events.some((e) => quantity(e) === q), 10_000, `the change to ${q} through gateway B`);
    await until(() => c.events.filter((e) => quantity(e) === q).length >= 4, 10_000, 'ticks after it');
  }
  await c.stop();
  expect(c.errors()).toEqual([]);
  // Each change exactly once and in order. Within one cart state the countdown never goes up, and its ticks (every
  // event after the change's own) come one tick apart: none twice (two at once), none missing (two ticks' time).
  const seen = c.events.map(quantity);
  expect(seen.filter((q, i) => q !== seen[i - 1])).toEqual([1, 2, 3, 4]);
  const intervals: number[] = [];
  for (let i = 1; i < c.events.length; i++) {
    if (quantity(c.events[i]) !== quantity(c.events[i - 1])) continue;
    const [prev, cur] = [c.events[i - 1], c.events[i]].map((e) => e.payload.data.cartTimer.secondsRemaining);
    expect(cur).toBeLessThanOrEqual(prev);
    expect(prev - cur).toBeLessThanOrEqual(2);
    if (i >= 2 && quantity(c.events[i - 2]) === quantity(c.events[i]))
      intervals.push(c.events[i].at - c.events[i - 1].at);
  }
  console.log(
    `cartTimer through gateway A, changes through B: tick intervals ${Math.min(...intervals)}–${Math.max(...intervals)} ms`,
  );
  expect(intervals.length).toBeGreaterThanOrEqual(6);
  expect(Math.min(...intervals)).toBeGreaterThanOrEqual(300);
  expect(Math.max(...intervals)).toBeLessThan(1800);
});

test("both order instances' outbox relays: every order's order.placed exactly once on the stream, one email each", async () => {
  const N = 10;
  const product = await shop.product(N * 2);
  const buyers = await Promise.all(Array.from({ length: N }, () => shop.buyer()));
  const carts = await Promise.all(
    buyers.map(async (b) => {
      const id = ok(await stack.gql(`mutation { createCart { id } }`, {}, { token: b.token })).createCart.id as string;
      ok(await stack.gql(CART_WITH, { c: id, p: product, q: 1 }, { token: b.token }));
      return id;
    }),
  );
  const before = await Promise.all(stack.instances.order.map((p) => graphqlRequests(p.origin)));
  // All at once, through the load balancer: both gateways, both order instances.
  const placed = await Promise.all(
    buyers.map(
      async (b, i) =>
        ok(
          await stack.gql(
            PLACE,
            { input: { cartId: carts[i], shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, key: randomUUID() },
            { token: b.token },
          ),
        ).placeOrder.id as string,
    ),
  );
  const after = await Promise.all(stack.instances.order.map((p) => graphqlRequests(p.origin)));
  expect(after[0] - before[0]).toBeGreaterThan(0);
  expect(after[1] - before[1]).toBeGreaterThan(0);
  const mailTo = (email: string) => stack.env.mail.messages.filter((m) => m.to.includes(email)).length;
  await until(() => buyers.every((b) => mailTo(b.email) >= 1), 30_000, 'an email to every buyer');
  let events: any[] = [];
  await until(
    async () => {
      events = (await streamEvents(stack, 'order.placed')).filter((e) =>
        placed.includes((e.data ?? e.payload ?? e).orderId),
      );
      return events.length >= N;
    },
    20_000,
    'every order.placed',
  );
  // Both relays kept polling meanwhile: nothing more is published or sent.
  await sleep(2000);
  events = (await streamEvents(stack, 'order.placed')).filter((e) =>
    placed.includes((e.data ?? e.payload ?? e).orderId),
  );
  const ids = events.map((e) => (e.data ?? e.payload ?? e).orderId);
  expect([...ids].sort()).toEqual([...placed].sort());
  expect(buyers.map((b) => mailTo(b.email))).toEqual(buyers.map(() => 1));
});

/** Queries and writes through the load balancer, `workers` at a time, until stopped; failures are kept. */
function steadyLoad(workers: number, product: string, carts: string[]) {
  let running = true;
  const figures = { requests: 0, errors: 0, failures: [] as string[] };
  const loops = Array.from({ length: workers }, async (_, w) => {
    let q = 1;
    while (running) {
      const res =
        w % 2 === 0
          ? await stack.gql(
              `query($id: ID!, $c: ID!) { product(id: $id) { id name stock } cart(id: $c) { items { quantity product { name } } } }`,
              { id: product, c: carts[w] },
            )
          : await stack.gql(CART_WITH, { c: carts[w], p: product, q: (q = (q % 3) + 1) });
      figures.requests++;
      await sleep(20); // a steady load, not a flood: the machine has two cores for all 15 processes
      if (res.status !== 200 || res.errors?.length) {
        figures.errors++;
        if (figures.failures.length < 10) figures.failures.push(`${res.status} ${JSON.stringify(res.errors)}`);
      }
    }
  });
  return {
    figures,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function cartsWithOneLine(n: number, product: string): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const id = ok(await stack.gql(`mutation { createCart { id } }`)).createCart.id as string;
      ok(await stack.gql(CART_WITH, { c: id, p: product, q: 1 }));
      return id;
    }),
  );
}

test('under steady load, SIGTERM one instance of each subgraph and one gateway, then start them again: zero failed requests', async () => {
  const product = await shop.product(1000);
  const carts = await cartsWithOneLine(8, product);
  // Countdowns through the load balancer: half of them end up on the gateway that is stopped.
  const clocks = carts.slice(4).map((id) => countdown(stack.url, id));
  open.push(...clocks);
  await until(() => clocks.every((c) => c.events.length >= 2), 15_000, 'countdowns running');
  const load = steadyLoad(4, product, carts);
  const stopped = [...SUBGRAPHS.map((n) => stack.instances[n][0]), stack.gateways[0]];
  let stoppedAt = 0;
  let allStoppedAt = 0;
  let restartedAt = 0;
  let codes: (number | null)[] = [];
  try {
    await sleep(1000);
    stoppedAt = Date.now();
    codes = await Promise.all(stopped.map((p) => p.stop('SIGTERM')));
    allStoppedAt = Date.now();
    await sleep(1000);
    // Seven processes starting at once on a shared machine: give them time.
    await Promise.all(stopped.map((p) => p.restart(RESTART_MS)));
    restartedAt = Date.now();
    await stack.inRotation(RESTART_MS);
    await sleep(1000); // and serving again
  } finally {
    await load.stop();
  }
  const ticksAfter = Date.now();
  await until(() => clocks.every((c) => c.events.some((e) => e.at > ticksAfter)), 10_000, 'countdowns ticking');
  const reconnects = clocks.reduce((n, c) => n + c.reconnects, 0);
  const maxGap = Math.max(...clocks.map((c) => c.maxGap(stoppedAt)));
  const table = {
    requests: load.figures.requests,
    errors: load.figures.errors,
    'subscription reconnects': reconnects,
    'subscription errors': clocks.reduce((n, c) => n + c.errors().length, 0),
    'longest countdown gap (ms; time to resume)': maxGap,
    'stop (ms, drain included)': allStoppedAt - stoppedAt,
    'restart (ms)': restartedAt - allStoppedAt - 1000,
  };
  console.log('SIGTERM one instance of each subgraph and one gateway under load');
  console.table(table);
  expect(codes).toEqual(stopped.map(() => 0));
  expect(load.figures.failures).toEqual([]);
  expect(load.figures.errors).toBe(0);
  expect(load.figures.requests).toBeGreaterThan(20);
  for (const c of clocks) {
    expect(c.errors()).toEqual([]);
    expect(c.ended).toBeUndefined();
  }
  // The subscriptions on the stopped gateway came back through the load balancer on the other one.
  expect(reconnects).toBeGreaterThan(0);
  for (const c of clocks) await c.stop();
});

test('SIGKILL the cart instance carrying live countdowns: resumed within 2 s on the other, no error event', async () => {
  const product = await shop.product(100);
  const carts = await cartsWithOneLine(4, product);
  const clocks = carts.map((id) => countdown(stack.url, id));
  open.push(...clocks);
  await until(() => clocks.every((c) => c.events.length >= 2), 15_000, 'countdowns running');
  // The gateways' upstream sockets (one per gateway) are the long-lived connections to a cart instance.
  const [a, b] = stack.instances.cart.map((p) => establishedOn(p.port));
  const victim = stack.instances.cart[a >= b ? 0 : 1];
  expect(Math.max(a, b)).toBeGreaterThan(0);
  const killedAt = Date.now();
  await victim.stop('SIGKILL');
  await sleep(4000);
  const resumeMs = clocks.map((c) => (c.events.find((e) => e.at > killedAt)?.at ?? Infinity) - killedAt);
  const maxGap = Math.max(...clocks.map((c) => c.maxGap(killedAt - 1500)));
  console.log('SIGKILL the cart instance carrying the countdowns');
  console.table({
    countdowns: clocks.length,
    'error events': clocks.reduce((n, c) => n + c.errors().length, 0),
    'client reconnects': clocks.reduce((n, c) => n + c.reconnects, 0),
    'first event after the kill (ms, slowest)': Math.max(...resumeMs),
    'longest gap (ms)': maxGap,
  });
  for (const c of clocks) {
    expect(c.errors()).toEqual([]);
    expect(c.ended).toBeUndefined();
    expect(c.reconnects).toBe(0);
  }
  expect(maxGap).toBeLessThanOrEqual(2000);

  // With no cart instance left: SERVICE_UNAVAILABLE naming the service, the operations stay open; then they resume.
  const other = stack.instances.cart.find((p) => p !== victim)!;
  await other.stop('SIGKILL');
  await until(() => clocks.every((c) => c.errors().length >= 1), 10_000, 'SERVICE_UNAVAILABLE to every client');
  for (const c of clocks) {
    expect(c.errors()[0]).toEqual([
      expect.objectContaining({
        message: 'The cart service is unavailable; retrying',
        extensions: expect.objectContaining({ code: 'SERVICE_UNAVAILABLE', service: 'cart' }),
      }),
    ]);
    expect(JSON.stringify(c.errors())).not.toMatch(/127\.0\.0\.1|ECONN|ws:\/\/|http:\/\//);
  }
  const backAt = Date.now();
  await Promise.all([victim.restart(RESTART_MS), other.restart(RESTART_MS)]);
  await stack.inRotation(RESTART_MS);
  await until(
    () => clocks.every((c) => c.events.some((e) => e.at > backAt && e.payload.data?.cartTimer.status === 'ACTIVE')),
    15_000,
    'countdowns resumed',
  );
  for (const c of clocks) {
    expect(c.ended).toBeUndefined();
    expect(c.errors()).toHaveLength(1);
    await c.stop();
  }
  console.log(`no cart instance: resumed ${Date.now() - backAt} ms after both were started again (startup included)`);
});

test('20 carts with a short hold expire across the two cart instances: each cart.expired exactly once, stock whole again', async () => {
  // Both cart instances again, now with a 2 s hold.
  for (const p of stack.instances.cart) {
    await p.restart(RESTART_MS, { CART_HOLD_SECONDS: '2' });
    await stack.inRotation(RESTART_MS);
  }
  const product = await shop.product(20);
  const carts = await cartsWithOneLine(20, product);
  // (Each addToCart above held its unit: it answered without INSUFFICIENT_STOCK.)
  let expired: any[] = [];
  await until(
    async () => {
      expired = (await streamEvents(stack, 'cart.expired')).filter((e) =>
        carts.includes((e.data ?? e.payload ?? e).cartId),
      );
      return expired.length >= 20;
    },
    30_000,
    'every cart.expired',
  );
  await until(async () => (await shop.stock(product)) === 20, 10_000, 'the stock whole again');
  await sleep(1500); // both sweepers keep running: nothing expires twice
  expired = (await streamEvents(stack, 'cart.expired')).filter((e) =>
    carts.includes((e.data ?? e.payload ?? e).cartId),
  );
  expect(expired.map((e) => (e.data ?? e.payload ?? e).cartId).sort()).toEqual([...carts].sort());
  expect(await shop.stock(product)).toBe(20);
  const swept = await Promise.all(
    stack.instances.cart.map(async (p) => {
      const text = await fetch(`${p.origin}/metrics`).then((r) => r.text());
      return Number(/^shop_carts_expired_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    }),
  );
  console.log(`20 carts expired; by sweeper instance: ${JSON.stringify(swept)}`);
});

test('caches on in both gateways: an admin price change through gateway A is never served stale by gateway B', async () => {
  // Production settings for the catalog caches (response + entity), both gateways.
  for (const g of stack.gateways) {
    await g.restart(RESTART_MS, { GATEWAY_RESPONSE_CACHE: 'on', GATEWAY_ENTITY_CACHE: 'on' });
    await stack.inRotation(RESTART_MS);
  }
  const product = await shop.product(5, 1000);
  const PRICE = `query Price($id: ID!) { product(id: $id) { id name price { amount } } }`;
  const b = stack.gateways[1];
  const hitsBefore = await cacheHits(b.metricsPort);
  const { stale, reads } = await raceReadersAgainstPriceChanges({
    readers: 4,
    startPrice: 1000,
    prices: Array.from({ length: 8 }, (_, i) => 1100 + i * 100),
    read: async () => ok(await stack.gql(PRICE, { id: product }, { url: shop.gatewayUrl(1) })).product.price.amount,
    update: async (next) => {
      const res = ok(
        await stack.gql(
          `mutation($id: ID!, $p: Int!) { updateProduct(id: $id, input: { price: $p }) { price { amount } } }`,
          { id: product, p: next },
          { token: shop.admin, url: shop.gatewayUrl(0) },
        ),
      );
      expect(res.updateProduct.price.amount).toBe(next);
    },
  });
  const hits = (await cacheHits(b.metricsPort)) - hitsBefore;
  console.log(
    `price changes through gateway A, readers on gateway B: ${reads} reads, ${stale.length} stale, ${hits} cache hits on B`,
  );
  expect(stale).toEqual([]);
  // Gateway B really served from its caches between the changes (otherwise this proves nothing).
  expect(hits).toBeGreaterThan(10);
});
