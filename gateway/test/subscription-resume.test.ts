import { randomUUID } from 'node:crypto';
import { createClient, Client } from 'graphql-ws';
import WebSocket from 'ws';
import { signAccessToken } from '@shop/kernel';
import { ProcessStack, startProcessStack } from '@shop/kernel/testing';

/**
 * The gateway's upstream subscriptions survive their subgraph: the cart process is killed (SIGKILL, no drain) under a
 * live `cartTimer` and started again. Meanwhile the client hears SERVICE_UNAVAILABLE naming the service (a `next`
 * with errors, never an address) and keeps its operation; once the cart is back the countdown resumes by itself.
 * Real processes from dist/ (`npm run build` first), one instance each, no load balancer (the scale suite has those).
 */
let stack: ProcessStack;
let admin: string;
const clients: Client[] = [];
beforeAll(async () => {
  stack = await startProcessStack({ subgraphs: ['user', 'product', 'cart'] });
  admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
}, 120_000);
afterAll(async () => {
  for (const c of clients) await c.dispose();
  await stack?.stop();
});

function ok(r: { data?: Record<string, any> | null; errors?: unknown[] }): Record<string, any> {
  if (r.errors?.length || !r.data) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

async function cartWithOneLine(): Promise<string> {
  await stack.gql(`mutation { createCategory(slug: "audio", name: "Audio") { slug } }`, {}, { token: admin });
  const sku = `SKU-${randomUUID().slice(0, 8)}`;
  const product = ok(
    await stack.gql(
      `mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`,
      { input: { sku, name: 'Speaker', description: 'A speaker.', category: 'audio', price: 1000, stock: 5 } },
      { token: admin },
    ),
  ).createProduct.id as string;
  const cartId = ok(await stack.gql(`mutation { createCart { id } }`)).createCart.id as string;
  ok(
    await stack.gql(`mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { id } }`, {
      c: cartId,
      p: product,
    }),
  );
  return cartId;
}

interface Seen {
  at: number;
  payload: any;
}

async function until(pred: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const TIMER = `subscription($id: ID!) { cartTimer(cartId: $id) { status secondsRemaining cart { items { quantity product { name } } } } }`;

test('cart killed and restarted: SERVICE_UNAVAILABLE while down, the operation stays open, the countdown resumes', async () => {
  const cartId = await cartWithOneLine();
  const client = createClient({
    url: stack.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
  });
  clients.push(client);
  const seen: Seen[] = [];
  let ended: 'complete' | 'error' | undefined;
  const unsubscribe = client.subscribe(
    { query: TIMER, variables: { id: cartId } },
    {
      next: (payload) => seen.push({ at: Date.now(), payload }),
      error: () => (ended = 'error'),
      complete: () => (ended = 'complete'),
    },
  );
  await until(() => seen.filter((s) => s.payload.data).length >= 2, 10_000, 'two countdown events');

  const cart = stack.processes.cart;
  await cart.stop('SIGKILL');
  const killedAt = Date.now();
  await until(() => seen.some((s) => s.payload.errors), 10_000, 'SERVICE_UNAVAILABLE');
  const down = seen.filter((s) => s.at >= killedAt);
  // Exactly one error event for the outage (not one per retry), and it names the service, never an address.
  await new Promise((r) => setTimeout(r, 1500));
  const errorsWhileDown = seen.filter((s) => s.payload.errors);
  expect(errorsWhileDown).toHaveLength(1);
  expect(errorsWhileDown[0].payload.errors).toEqual([
    expect.objectContaining({
      message: 'The cart service is unavailable; retrying',
      extensions: expect.objectContaining({ code: 'SERVICE_UNAVAILABLE', service: 'cart' }),
    }),
  ]);
  expect(JSON.stringify(down.map((s) => s.payload))).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|ws:\/\//);
  expect(ended).toBeUndefined();

  const restartedAt = Date.now();
  await cart.restart();
  const readyAt = Date.now();
  await until(() => seen.some((s) => s.at > readyAt && s.payload.data), 10_000, 'an event after the restart');
  const resumed = seen.find((s) => s.at > restartedAt && s.payload.data)!;
  expect(resumed.payload.data.cartTimer).toEqual({
    status: 'ACTIVE',
    secondsRemaining: expect.any(Number),
    cart: { items: [{ quantity: 1, product: { name: 'Speaker' } }] },
  });
  // Ticks continue, counting down, with no further error.
  const count = seen.length;
  await until(() => seen.length >= count + 2, 10_000, 'two more ticks');
  const after = seen.filter((s) => s.at >= resumed.at);
  expect(after.every((s) => !s.payload.errors)).toBe(true);
  const remaining = after.map((s) => s.payload.data.cartTimer.secondsRemaining);
  expect([...remaining].sort((a, b) => b - a)).toEqual(remaining);
  expect(ended).toBeUndefined();
  console.log(
    `cart SIGKILL: SERVICE_UNAVAILABLE after ${errorsWhileDown[0].at - killedAt} ms; resumed ${resumed.at - readyAt} ms after the cart was ready again`,
  );
  unsubscribe();
  await until(() => ended === 'complete', 5000, 'complete after unsubscribe');
}, 120_000);

test('a client leaving while the service is down ends the retries (no subscription left behind upstream)', async () => {
  const cartId = await cartWithOneLine();
  const client = createClient({
    url: stack.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
  });
  clients.push(client);
  const seen: any[] = [];
  const unsubscribe = client.subscribe(
    { query: TIMER, variables: { id: cartId } },
    { next: (p) => seen.push(p), error: () => undefined, complete: () => undefined },
  );
  await until(() => seen.some((p) => p.data), 10_000, 'a countdown event');
  await stack.processes.cart.stop('SIGKILL');
  await until(() => seen.some((p) => p.errors), 10_000, 'SERVICE_UNAVAILABLE');
  unsubscribe();
  await client.dispose();
  await stack.processes.cart.restart();
  // The gateway forwards nothing for the departed client (its retry loop ended with the operation).
  let active = -1;
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    const text = await fetch(`http://127.0.0.1:${stack.processes.gateway.metricsPort}/metrics`).then((r) => r.text());
    active = Number(/^shop_gateway_subscriptions_active(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1]);
    if (active === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(active).toBe(0);
}, 120_000);
