import { randomUUID } from 'node:crypto';
import { Bus, Domain, EventEnvelope, signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import notification from '../../notification/src';
import productSubgraph from '../../product/src';
import { createProduct, ensureCategory, onlyDeal } from '../../product/test/helpers';
import userSubgraph, { StartedUser } from '../../user/src';
import orderSubgraph from '../src';
import { FakeCartCommands } from './fakes';
import { ADDRESS, CANCEL, eventually, ok, outboxPublished, PLACE_ORDER, UPDATE_STATUS } from './helpers';

/**
 * The order subgraph's events as JetStream holds them (read back from the ORDER and PAYMENT streams, not the
 * outbox): a checkout publishes exactly one `order.placed` (the design's "order created") and one
 * `payment.succeeded`; every status change exactly one `order.status_changed` ("order updated") with the right
 * previous/new pair; a cancelled paid order one `payment.refunded`. The notification subgraph audits them all.
 */
let stack: Stack;
let cart: FakeCartCommands;
let bus: Bus;
let adminToken: string;
let product: { id: string };

beforeAll(async () => {
  stack = await startStack({
    subgraphs: [userSubgraph, productSubgraph, orderSubgraph, notification],
    gateway: startGateway,
  });
  cart = await FakeCartCommands.start(stack.env);
  bus = await Bus.connect(stack.env.config);
  adminToken = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  await ensureCategory(stack, adminToken, 'audio');
  // The deal list is made when first asked for, from the products in stock then: another one, so that the speaker
  // sells at its list price (the commit checks the deal the fake cart charged with).
  await onlyDeal(stack, (await createProduct(stack, adminToken, { name: 'Deal Lamp', price: 900, stock: 5 })).id);
  product = await createProduct(stack, adminToken, { name: 'Speaker', price: 2500, stock: 100 });
});

afterAll(async () => {
  await bus?.close();
  await cart?.close();
  await stack?.stop();
});

async function paidOrder(): Promise<{ id: string; number: string; token: string }> {
  const userId = randomUUID();
  await (stack.services.user as StartedUser).orm.em
    .fork()
    .getConnection()
    .execute(
      `INSERT INTO users (id, email, password_hash, first_name, role, email_verified_at) VALUES (?, ?, 'x', 'Ann', 'USER', now())`,
      [userId, `events.${userId.slice(0, 8)}@example.test`],
    );
  const token = signAccessToken(stack.env.keys, { sub: userId, role: 'USER' });
  const c = cart.addCart({
    id: randomUUID(),
    userId,
    lines: [{ productId: product.id, quantity: 2, unitPrice: 2500, discountPercent: 0 }],
  });
  const res = await stack.gql(
    PLACE_ORDER,
    { input: { cartId: c.id, shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, key: randomUUID() },
    token,
  );
  const order = ok(res).placeOrder;
  expect(order.status).toBe('PAID');
  return { id: order.id, number: order.number, token };
}

/** Every event of one order on a domain's stream, in stream order. */
async function onStream(domain: Domain, orderId: string): Promise<EventEnvelope<any>[]> {
  const stream = bus.streamName(domain);
  const info = await bus.jsm.streams.info(stream);
  const out: EventEnvelope<any>[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await bus.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    const e = m?.json<EventEnvelope<any>>();
    if (e?.data?.orderId === orderId) out.push(e);
  }
  return out;
}

const describeEvent = (e: EventEnvelope<any>) =>
  e.type === 'order.status_changed' ? `${e.type} ${e.data.previousStatus}→${e.data.status}` : e.type;

test('one checkout: exactly one order.placed and one payment.succeeded on the streams', async () => {
  const order = await paidOrder();
  await outboxPublished(stack, order.id);
  const orders = await onStream('order', order.id);
  const payments = await onStream('payment', order.id);
  expect(orders.map(describeEvent)).toEqual(['order.placed']);
  expect(payments.map(describeEvent)).toEqual(['payment.succeeded']);
  expect(payments[0]).toMatchObject({
    v: 1,
    type: 'payment.succeeded',
    data: {
      orderId: order.id,
      number: order.number,
      provider: 'simulated',
      status: 'CAPTURED',
      amount: 5000,
      currency: 'USD',
      reference: expect.stringMatching(/^sim_ch_/),
    },
  });
});

test('explicit status changes: one order.status_changed per change (previous → new); a cancellation one payment.refunded', async () => {
  const shipped = await paidOrder();
  const cancelled = await paidOrder();
  for (const status of ['SHIPPED', 'DELIVERED'])
    expect(ok(await stack.gql(UPDATE_STATUS, { id: shipped.id, status }, adminToken)).updateOrderStatus.status).toBe(
      status,
    );
  expect(ok(await stack.gql(CANCEL, { id: cancelled.id }, cancelled.token)).cancelOrder).toMatchObject({
    status: 'CANCELLED',
    payment: { status: 'REFUNDED' },
  });
  // Repeats change nothing: an illegal transition, a second cancellation.
  await stack.gql(UPDATE_STATUS, { id: shipped.id, status: 'DELIVERED' }, adminToken);
  await stack.gql(CANCEL, { id: cancelled.id }, cancelled.token);
  await outboxPublished(stack, shipped.id);
  await outboxPublished(stack, cancelled.id);

  expect((await onStream('order', shipped.id)).map(describeEvent)).toEqual([
    'order.placed',
    'order.status_changed PAID→SHIPPED',
    'order.status_changed SHIPPED→DELIVERED',
  ]);
  expect((await onStream('payment', shipped.id)).map(describeEvent)).toEqual(['payment.succeeded']);
  expect((await onStream('order', cancelled.id)).map(describeEvent).sort()).toEqual([
    'order.cancelled',
    'order.placed',
    'order.status_changed PAID→CANCELLED',
  ]);
  const payments = await onStream('payment', cancelled.id);
  expect(payments.map(describeEvent)).toEqual(['payment.succeeded', 'payment.refunded']);
  expect(payments[1].data).toMatchObject({ status: 'REFUNDED', refundAmount: 5000, refundedTotal: 5000 });

  // The notification subgraph audits every one of them.
  const audited = await eventually('the payment events audited', async () => {
    const edges = ok(
      await stack.gql(`{ auditEvents(first: 100) { edges { node { type subject } } } }`, {}, adminToken),
    ).auditEvents.edges.map((e: any) => e.node);
    const mine = edges.filter((n: any) => n.subject === cancelled.id).map((n: any) => n.type);
    return mine.length === 5 ? mine : undefined;
  });
  expect(audited.sort()).toEqual([
    'order.cancelled',
    'order.placed',
    'order.status_changed',
    'payment.refunded',
    'payment.succeeded',
  ]);
});
