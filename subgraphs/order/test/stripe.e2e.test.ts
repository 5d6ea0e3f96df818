import { randomUUID } from 'node:crypto';
import { signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import notification from '../../notification/src';
import productSubgraph from '../../product/src';
import { createProduct, db as productDb, ensureCategory, onlyDeal } from '../../product/test/helpers';
import userSubgraph from '../../user/src';
import orderSubgraph from '../src';
import type { FakeLine } from './fakes';
import { FakeStripe } from './fake-stripe';
import { FakeCartCommands } from './fakes';
import {
  ADDRESS,
  CANCEL,
  codes,
  db,
  directAccount,
  fields,
  ok,
  ORDER,
  outboxPublished,
  PLACE_ORDER,
  settledEmailsTo,
  svc,
} from './helpers';

/**
 * PAYMENT_PROVIDER=stripe end to end: the REAL `stripe` SDK in the order subgraph, pointed (STRIPE_API_BASE) at a
 * local fake of the few Stripe endpoints it calls (test/fake-stripe.ts); webhooks signed as Stripe signs them and
 * sent to the GATEWAY's `/webhooks/payments`, which proxies them to the order subgraph. The real user, product and
 * notification subgraphs; the cart's checkout commands from the in-test fake (test/fakes.ts), as in order.e2e.
 */
let stack: Stack;
let stripe: FakeStripe;
let cart: FakeCartCommands;
let adminToken: string;
let deal: { id: string; name: string };
let plain: { id: string; name: string };

beforeAll(async () => {
  stripe = await FakeStripe.start();
  stack = await startStack({
    subgraphs: [userSubgraph, productSubgraph, orderSubgraph, notification],
    gateway: startGateway,
    env: {
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_SECRET_KEY: 'sk_test_fakeKeyForTheLocalFake',
      STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
      STRIPE_API_BASE: stripe.url,
    },
  });
  cart = await FakeCartCommands.start(stack.env);
  adminToken = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  await ensureCategory(stack, adminToken, 'audio');
  deal = await createProduct(stack, adminToken, { name: 'Deal Headphones', price: 1999, stock: 1000 });
  // The commit checks the deal the fake cart's lines were charged with: this product is the one on the list.
  await onlyDeal(stack, deal.id);
  plain = await createProduct(stack, adminToken, { name: 'Plain Cable', price: 500, stock: 1000 });
});

afterAll(async () => {
  await cart?.close();
  await stack?.stop();
  await stripe?.close();
});

/** A deal line (1999 at 20% × 2) and a normal line (500 × 3): total 4698. */
const lines = (): FakeLine[] => [
  { productId: deal.id, quantity: 2, unitPrice: 1999, discountPercent: 20 },
  { productId: plain.id, quantity: 3, unitPrice: 500, discountPercent: 0 },
];

const buyer = () => directAccount(stack, { emailPrefix: 'stripe' });

const PAYMENT = `payment { provider status reference clientSecret nextAction refunded { amount currency } }`;
const PLACE = PLACE_ORDER.replace(/payment \{ provider status reference \}/, PAYMENT);
const READ = ORDER.replace(/payment \{ provider status reference \}/, PAYMENT);

async function place(b: { id: string; token: string }, paymentToken: string, key = randomUUID()) {
  const c = cart.addCart({ id: randomUUID(), userId: b.id, lines: lines() });
  return stack.gql(PLACE, { input: { cartId: c.id, shippingAddress: ADDRESS, paymentToken }, key }, b.token);
}

/** POSTs a webhook to the gateway's origin, as Stripe does. */
async function webhook(e: { body: string; signature: string }, path = '/webhooks/payments') {
  const res = await fetch(new URL(path, stack.gatewayUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': e.signature },
    body: e.body,
  });
  return { status: res.status, body: await res.text() };
}

/** This order's outbox subjects (with previous → new for status changes), sorted (one transaction's rows share a time). */
async function eventsOf(orderId: string) {
  const rows = await db(stack)(
    `SELECT subject, payload->'data'->>'previousStatus' AS prev, payload->'data'->>'status' AS status FROM outbox
     WHERE payload->'data'->>'orderId' = ? ORDER BY created_at, subject`,
    [orderId],
  );
  return rows
    .map((r) => (r.subject === 'order.status_changed' ? `${r.subject} ${r.prev}→${r.status}` : r.subject))
    .sort();
}

async function movementsOf(orderId: string) {
  const rows = await productDb(stack)(`SELECT product_id, delta, reason FROM stock_movements WHERE order_id = ?`, [
    orderId,
  ]);
  return rows.map((r) => [r.product_id, r.delta, r.reason]).sort();
}

test('success: one PaymentIntent with the server’s amount and currency, the order’s key, confirmed with the pm_', async () => {
  const b = await buyer();
  const key = randomUUID();
  const c = cart.addCart({ id: randomUUID(), userId: b.id, lines: lines() });
  const input = { cartId: c.id, shippingAddress: ADDRESS, paymentToken: 'pm_card_visa' };
  const order = ok(await stack.gql(PLACE, { input, key }, b.token)).placeOrder;
  expect(order.status).toBe('PAID');
  expect(order.total.amount).toBe(4698);
  expect(order.payment).toEqual({
    provider: 'stripe',
    status: 'CAPTURED',
    reference: expect.stringMatching(/^pi_/),
    clientSecret: null,
    nextAction: null,
    refunded: null,
  });
  const created = stripe.requests.filter(
    (r) => r.path === '/v1/payment_intents' && r.body.get('metadata[orderId]') === order.id,
  );
  expect(created).toHaveLength(1);
  expect(Object.fromEntries(created[0].body)).toMatchObject({
    amount: '4698',
    currency: 'usd',
    payment_method: 'pm_card_visa',
    confirm: 'true',
    'metadata[orderId]': order.id,
  });
  expect(created[0].idempotencyKey).toBe(`order:${order.id}`);
  // The same key again: the same order, no second PaymentIntent.
  expect(ok(await stack.gql(PLACE, { input, key }, b.token)).placeOrder.id).toBe(order.id);
  expect(stripe.requests.filter((r) => r.body.get('metadata[orderId]') === order.id)).toHaveLength(1);
  expect(await eventsOf(order.id)).toEqual(['order.placed', 'payment.succeeded']);
  await outboxPublished(stack, order.id);
  expect((await settledEmailsTo(stack, b.email)).map((e) => e.template)).toEqual(['order-placed']);
});

test('decline: PAYMENT_DECLINED, nothing written, the stock untouched; an unknown PaymentMethod is BAD_USER_INPUT', async () => {
  const b = await buyer();
  const before = await db(stack)(`SELECT count(*)::int AS n FROM orders`);
  const movements = async () => (await productDb(stack)(`SELECT count(*)::int AS n FROM stock_movements`))[0].n;
  const movementsBefore = await movements();
  const declined = await place(b, 'pm_card_chargeDeclined');
  expect(codes(declined)).toEqual(['PAYMENT_DECLINED']);
  expect(fields(declined)).toEqual(['paymentToken']);
  const unknown = await place(b, 'pm_nonexistent');
  expect([codes(unknown), fields(unknown)]).toEqual([['BAD_USER_INPUT'], ['paymentToken']]);
  expect(await db(stack)(`SELECT count(*)::int AS n FROM orders`)).toEqual(before);
  // Stripe also announces the declined intent: it names an order that was never written, so it is acknowledged
  // (200 ignored), not retried for days.
  const declinedIntent = [...stripe.intents.values()].find(
    (i) => i.payment_method === 'pm_card_chargeDeclined' && i.metadata.orderId,
  )!;
  expect(await webhook(stripe.event('payment_intent.payment_failed', declinedIntent))).toEqual({
    status: 200,
    body: expect.stringContaining('"ignored"'),
  });
  expect(await movements()).toBe(movementsBefore);
  expect(await db(stack)(`SELECT count(*)::int AS n FROM idempotency_keys WHERE user_id = ?`, [b.id])).toEqual([
    { n: 0 },
  ]);
});

test('requires action: PENDING with the client secret; the signed webhook makes it PAID, once even when sent twice', async () => {
  const b = await buyer();
  const order = ok(await place(b, 'pm_card_threeDSecure2Required')).placeOrder;
  expect(order.status).toBe('PENDING');
  const intent = stripe.intents.get(order.payment.reference)!;
  expect(order.payment).toEqual({
    provider: 'stripe',
    status: 'PENDING',
    reference: intent.id,
    clientSecret: intent.client_secret,
    nextAction: 'use_stripe_sdk',
    refunded: null,
  });
  // The stock is sold to the pending order (it is released if the payment fails).
  expect((await movementsOf(order.id)).map((m) => m[2])).toEqual(['SALE', 'SALE']);
  expect(await eventsOf(order.id)).toEqual(['order.placed']);

  // A webhook signed with another secret: 401, nothing changes, its id is not recorded.
  const forged = stripe.event('payment_intent.succeeded', stripe.completeAction(intent.id), 'whsec_notthesecret');
  expect((await webhook(forged)).status).toBe(401);
  const tampered = stripe.event('payment_intent.succeeded', intent);
  expect((await webhook({ body: tampered.body.replace('4698', '1'), signature: tampered.signature })).status).toBe(401);
  expect((await webhook({ body: tampered.body, signature: '' })).status).toBe(401);
  expect(ok(await stack.gql(READ, { id: order.id }, b.token)).order.status).toBe('PENDING');
  expect(await db(stack)(`SELECT id FROM payment_webhook_events WHERE id IN (?, ?)`, [forged.id, tampered.id])).toEqual(
    [],
  );

  // The real one, delivered twice (Stripe redelivers): one effect.
  const succeeded = stripe.event('payment_intent.succeeded', intent);
  expect(await webhook(succeeded)).toEqual({ status: 200, body: expect.stringContaining('"processed"') });
  expect(await webhook(succeeded)).toEqual({ status: 200, body: expect.stringContaining('"duplicate"') });
  const paid = ok(await stack.gql(READ, { id: order.id }, b.token)).order;
  expect(paid.status).toBe('PAID');
  expect(paid.payment).toMatchObject({ status: 'CAPTURED', clientSecret: null, nextAction: null });
  expect(await eventsOf(order.id)).toEqual(['order.placed', 'order.status_changed PENDING→PAID', 'payment.succeeded']);
  await outboxPublished(stack, order.id);
  expect((await settledEmailsTo(stack, b.email)).map((e) => e.template).sort()).toEqual([
    'order-placed',
    'order-status-changed',
  ]);
});

test('the same webhook delivered 10 times at once, and a second event for the same payment: one effect', async () => {
  const b = await buyer();
  const order = ok(await place(b, 'pm_card_threeDSecure2Required')).placeOrder;
  const intent = stripe.completeAction(order.payment.reference);
  const once = stripe.event('payment_intent.succeeded', intent);
  const again = stripe.event('payment_intent.succeeded', intent); // another id, same news (Stripe may resend)
  const answers = await Promise.all([...Array.from({ length: 10 }, () => webhook(once)), webhook(again)]);
  expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
  expect(answers.filter((a) => a.body.includes('"duplicate"'))).toHaveLength(9);
  expect(await eventsOf(order.id)).toEqual(['order.placed', 'order.status_changed PENDING→PAID', 'payment.succeeded']);
  expect(
    await db(stack)(`SELECT count(*)::int AS n FROM payment_webhook_events WHERE id IN (?, ?)`, [once.id, again.id]),
  ).toEqual([{ n: 2 }]);
});

test('requires action, then payment_failed: PAYMENT_FAILED, the stock returned once, payment.failed and its email', async () => {
  const b = await buyer();
  const order = ok(await place(b, 'pm_card_threeDSecure2Required')).placeOrder;
  const failed = stripe.event('payment_intent.payment_failed', stripe.failAction(order.payment.reference));
  expect((await webhook(failed)).status).toBe(200);
  expect((await webhook(failed)).status).toBe(200);
  const after = ok(await stack.gql(READ, { id: order.id }, b.token)).order;
  expect(after.status).toBe('PAYMENT_FAILED');
  expect(after.payment).toMatchObject({ status: 'FAILED', clientSecret: null });
  expect((await movementsOf(order.id)).map((m) => m[2]).sort()).toEqual(['RETURN', 'RETURN', 'SALE', 'SALE']);
  expect(await eventsOf(order.id)).toEqual([
    'order.placed',
    'order.status_changed PENDING→PAYMENT_FAILED',
    'payment.failed',
  ]);
  const [evt] = await db(stack)(
    `SELECT payload FROM outbox WHERE subject = 'payment.failed' AND payload->'data'->>'orderId' = ?`,
    [order.id],
  );
  expect(evt.payload.data).toMatchObject({
    orderId: order.id,
    provider: 'stripe',
    reference: order.payment.reference,
    status: 'FAILED',
    amount: 4698,
    currency: 'USD',
    reason: 'We are unable to authenticate your payment method.',
  });
  await outboxPublished(stack, order.id);
  const mail = await stack.env.mail.waitFor(
    (m) => m.to.includes(b.email) && m.subject === `The payment for your order ${order.number} failed`,
  );
  expect(mail.text).toContain('$46.98');
  expect((await settledEmailsTo(stack, b.email)).map((e) => e.template).sort()).toEqual([
    'order-placed',
    'order-status-changed',
    'payment-failed',
  ]);
});

test('cancel a paid order: refunded through Stripe once; the charge.refunded webhook records nothing more', async () => {
  const b = await buyer();
  const order = ok(await place(b, 'pm_card_visa')).placeOrder;
  const res = ok(await stack.gql(CANCEL, { id: order.id }, b.token)).cancelOrder;
  expect(res).toEqual({ id: order.id, status: 'CANCELLED', payment: { status: 'REFUNDED' } });
  const refunds = stripe.refunds.filter((r) => r.payment_intent === order.payment.reference);
  expect(refunds).toEqual([expect.objectContaining({ amount: 4698 })]);
  expect(ok(await stack.gql(READ, { id: order.id }, b.token)).order.payment.refunded).toEqual({
    amount: 4698,
    currency: 'USD',
  });
  // Stripe's own notice of the same refund, twice.
  const notice = stripe.chargeRefunded(order.payment.reference);
  expect((await webhook(notice)).status).toBe(200);
  expect((await webhook(notice)).status).toBe(200);
  expect(await eventsOf(order.id)).toEqual([
    'order.cancelled',
    'order.placed',
    'order.status_changed PAID→CANCELLED',
    'payment.refunded',
    'payment.succeeded',
  ]);
  const [row] = await db(stack)(`SELECT status, refunded_amount, refund_reference FROM payments WHERE order_id = ?`, [
    order.id,
  ]);
  expect(row).toEqual({ status: 'REFUNDED', refunded_amount: 4698, refund_reference: refunds[0].id });
  await outboxPublished(stack, order.id);
  const mail = await stack.env.mail.waitFor(
    (m) => m.to.includes(b.email) && m.subject === `Your refund for order ${order.number}`,
  );
  expect(mail.text).toContain('We refunded $46.98');
  // Cancelling again refunds nothing more.
  await stack.gql(CANCEL, { id: order.id }, b.token);
  expect(stripe.refunds.filter((r) => r.payment_intent === order.payment.reference)).toHaveLength(1);
});

test('a refund made in the Stripe Dashboard (charge.refunded) is recorded: payment REFUNDED, one payment.refunded', async () => {
  const b = await buyer();
  const order = ok(await place(b, 'pm_card_visa')).placeOrder;
  stripe.refunds.push({ id: 're_dashboard1', payment_intent: order.payment.reference, amount: 4698 });
  const notice = stripe.chargeRefunded(order.payment.reference);
  expect((await webhook(notice)).status).toBe(200);
  const [row] = await db(stack)(`SELECT status, refunded_amount, refund_reference FROM payments WHERE order_id = ?`, [
    order.id,
  ]);
  expect(row).toEqual({ status: 'REFUNDED', refunded_amount: 4698, refund_reference: 're_dashboard1' });
  expect((await eventsOf(order.id)).filter((e) => e === 'payment.refunded')).toHaveLength(1);
});

test('cancel a pending order: its PaymentIntent is cancelled at Stripe, the payment VOIDED, no refund', async () => {
  const b = await buyer();
  const order = ok(await place(b, 'pm_card_threeDSecure2Required')).placeOrder;
  const res = ok(await stack.gql(CANCEL, { id: order.id }, b.token)).cancelOrder;
  expect(res).toEqual({ id: order.id, status: 'CANCELLED', payment: { status: 'VOIDED' } });
  expect(stripe.intents.get(order.payment.reference)!.status).toBe('canceled');
  expect(stripe.refunds.filter((r) => r.payment_intent === order.payment.reference)).toEqual([]);
});

test('a payment the buyer never completes: past PAYMENT_ACTION_TIMEOUT_SECONDS the intent is cancelled, the order PAYMENT_FAILED, the stock back, once', async () => {
  const b = await buyer();
  const order = ok(await place(b, 'pm_card_threeDSecure2Required')).placeOrder;
  expect(order.status).toBe('PENDING');
  // Younger than the timeout: the sweep leaves it waiting for the buyer.
  await svc(stack).orders.sweep(0, 60_000);
  expect(ok(await stack.gql(READ, { id: order.id }, b.token)).order.status).toBe('PENDING');
  expect(stripe.intents.get(order.payment.reference)!.status).toBe('requires_action');

  await svc(stack).orders.sweep(0, 0);
  await svc(stack).orders.sweep(0, 0); // a second pass (or another instance's) changes nothing more
  const after = ok(await stack.gql(READ, { id: order.id }, b.token)).order;
  expect(after.status).toBe('PAYMENT_FAILED');
  expect(after.payment).toMatchObject({ status: 'FAILED', clientSecret: null, nextAction: null });
  expect(stripe.intents.get(order.payment.reference)!.status).toBe('canceled');
  expect(stripe.refunds.filter((r) => r.payment_intent === order.payment.reference)).toEqual([]);
  expect((await movementsOf(order.id)).map((m) => m[2]).sort()).toEqual(['RETURN', 'RETURN', 'SALE', 'SALE']);
  expect(await eventsOf(order.id)).toEqual([
    'order.placed',
    'order.status_changed PENDING→PAYMENT_FAILED',
    'payment.failed',
  ]);
  const [evt] = await db(stack)(
    `SELECT payload FROM outbox WHERE subject = 'payment.failed' AND payload->'data'->>'orderId' = ?`,
    [order.id],
  );
  expect(evt.payload.data).toMatchObject({ status: 'FAILED', reason: 'The payment was not completed in time' });
  // The buyer's late 3-D Secure answer: the intent is cancelled, so Stripe reports nothing to settle; were it to
  // report success anyway, the closed order's follow-ups would refund it.
});

test('webhooks that are not ours or not handled are acknowledged and change nothing', async () => {
  const other = stripe.event('payment_intent.succeeded', {
    id: 'pi_someoneelse',
    object: 'payment_intent',
    metadata: {},
    amount: 100,
    currency: 'usd',
  });
  expect((await webhook(other)).body).toContain('"ignored"');
  const unhandled = stripe.event('customer.created', { id: 'cus_1', object: 'customer' });
  expect((await webhook(unhandled)).body).toContain('"ignored"');
  // The gateway passes the body on byte for byte: indentation and non-ASCII text keep the signature valid.
  const body = JSON.stringify(
    { id: 'evt_pretty1', object: 'event', type: 'customer.created', data: { object: { id: 'cus_3', name: 'Zoë ✓' } } },
    null,
    2,
  );
  expect(await webhook({ body, signature: stripe.sign(body) })).toEqual({
    status: 200,
    body: expect.stringContaining('"ignored"'),
  });
});

test('a webhook for a checkout still running (its key IN_PROGRESS, nothing written yet): 503, not recorded, so Stripe retries', async () => {
  const orderId = randomUUID();
  await db(stack)(
    `INSERT INTO idempotency_keys (user_id, key, request_hash, order_id, status, expires_at)
     VALUES (?, ?, 'h', ?, 'IN_PROGRESS', now() + interval '25 hours')`,
    [randomUUID(), randomUUID(), orderId],
  );
  const early = stripe.event('payment_intent.succeeded', {
    id: 'pi_notwrittenyet',
    object: 'payment_intent',
    metadata: { orderId },
    amount: 100,
    currency: 'usd',
  });
  expect((await webhook(early)).status).toBe(503);
  expect(await db(stack)(`SELECT id FROM payment_webhook_events WHERE id = ?`, [early.id])).toEqual([]);
});

test('the gateway proxies the exact path only, POST only, with a body size limit', async () => {
  const e = stripe.event('customer.created', { id: 'cus_2', object: 'customer' });
  for (const path of ['/webhooks/payments/', '/webhooks/Payments', '/webhooks/payments?x=1', '/webhooks/other'])
    expect({ path, status: (await webhook(e, path)).status }).toEqual({ path, status: 404 });
  const get = await fetch(new URL('/webhooks/payments', stack.gatewayUrl));
  expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
  const big = await webhook({ body: 'x'.repeat(300 * 1024), signature: e.signature });
  expect(big.status).toBe(413);
});
