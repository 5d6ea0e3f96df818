import { randomUUID } from 'node:crypto';
import { registry, signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import cartSubgraph from '../../cart/src';
import { ADD, CREATE_CART, holds } from '../../cart/test/helpers';
import productSubgraph from '../../product/src';
import { createProduct, ensureCategory } from '../../product/test/helpers';
import userSubgraph, { StartedUser } from '../../user/src';
import orderSubgraph from '../src';
import type { Charge, SimulatedPaymentProvider } from '../src/service/payment';
import { ADDRESS, db, eventually, ok, PLACE_ORDER, svc } from './helpers';

/**
 * The checkout line (CHECKOUT_MAX_CONCURRENCY / CHECKOUT_MAX_WAITING): one checkout at a time and one waiting, through
 * the gateway with the real user, product, cart and order subgraphs. A checkout held in its charge step keeps the slot.
 */
let stack: Stack;
let admin: string;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [userSubgraph, productSubgraph, cartSubgraph, orderSubgraph],
    gateway: startGateway,
    env: { CHECKOUT_MAX_CONCURRENCY: '1', CHECKOUT_MAX_WAITING: '1', CHECKOUT_MAX_WAIT_MS: '20000' },
  });
  admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  await ensureCategory(stack, admin, 'audio');
});
afterAll(async () => {
  await stack?.stop();
});

async function buyer() {
  const id = randomUUID();
  await (stack.services.user as StartedUser).orm.em
    .fork()
    .getConnection()
    .execute(
      `INSERT INTO users (id, email, password_hash, first_name, role, email_verified_at) VALUES (?, ?, 'x', 'Ann', 'USER', now())`,
      [id, `line.${id.slice(0, 8)}@example.test`],
    );
  return signAccessToken(stack.env.keys, { sub: id, role: 'USER' });
}

async function cartOf(token: string, productId: string): Promise<string> {
  const id = ok(await stack.gql(CREATE_CART, {}, token)).createCart.id;
  ok(await stack.gql(ADD, { c: id, p: productId, q: 1 }, token));
  return id;
}

const place = (token: string, cartId: string, key: string) =>
  stack.gql(PLACE_ORDER, { input: { cartId, shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, key }, token);

async function lineMetric(state: string): Promise<number> {
  const m = registry.getSingleMetric('shop_checkout_line');
  return (await m!.get()).values.find((v) => v.labels.state === state)?.value ?? -1;
}

test('one checkout at a time, one waiting; a third is refused (RATE_LIMITED, nothing touched) and goes through on retry', async () => {
  const p = await createProduct(stack, admin, { name: 'Line Lamp', price: 1200, stock: 5 });
  const [a, b, c] = [await buyer(), await buyer(), await buyer()];
  const carts = [await cartOf(a, p.id), await cartOf(b, p.id), await cartOf(c, p.id)];
  const keys = [randomUUID(), randomUUID(), randomUUID()];

  // A's charge waits for a signal: A keeps the only slot meanwhile.
  const payments = svc(stack).payments as SimulatedPaymentProvider;
  const charge = payments.charge.bind(payments);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let charging!: () => void;
  const inCharge = new Promise<void>((r) => (charging = r));
  const spy = jest.spyOn(payments, 'charge').mockImplementationOnce(async (...args): Promise<Charge> => {
    charging();
    await released;
    return charge(...args);
  });
  try {
    const first = place(a, carts[0], keys[0]);
    await inCharge;
    const second = place(b, carts[1], keys[1]);
    const line = svc(stack).orders.checkoutLine;
    await eventually('B waiting in line', async () => line.waiting === 1);
    expect(await lineMetric('running')).toBe(1);
    expect(await lineMetric('waiting')).toBe(1);

    // The line is full: C is refused at once, before anything of its checkout happened.
    const refused = await place(c, carts[2], keys[2]);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 1 });
    expect(await db(stack)(`SELECT 1 FROM idempotency_keys WHERE key = ?`, [keys[2]])).toEqual([]);
    expect((await holds(stack, { cartId: carts[2] })).map((h) => h.quantity)).toEqual([1]);
    // B has not started either: its charge was never asked for.
    expect(spy).toHaveBeenCalledTimes(1);

    release();
    const [ra, rb] = await Promise.all([first, second]);
    expect(ok(ra).placeOrder.status).toBe('PAID');
    expect(ok(rb).placeOrder.status).toBe('PAID');
  } finally {
    release();
    spy.mockRestore();
  }
  // C again, with the same key: its turn now.
  expect(ok(await place(c, carts[2], keys[2])).placeOrder.status).toBe('PAID');
  const orders = await db(stack)(`SELECT count(*)::int AS n FROM order_items WHERE product_id = ?`, [p.id]);
  expect(orders).toEqual([{ n: 3 }]);
  expect([svc(stack).orders.checkoutLine.active, svc(stack).orders.checkoutLine.waiting]).toEqual([0, 0]);
}, 60_000);
