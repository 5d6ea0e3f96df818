import { Bus } from '@shop/kernel';
import { PrivateNats, startPrivateNats } from '@shop/kernel/testing';
import { ALL, codes, eventually, Shop, startShop, Tally } from './helpers';
import { db as orderDb } from '../subgraphs/order/test/helpers';
import { randomUUID } from 'node:crypto';

/**
 * NATS restarted during a burst of checkouts: every committed order's `order.placed` and `payment.succeeded` arrive
 * exactly once — outbox rows = events on the streams = audit entries = confirmation emails, nothing duplicated, nothing lost. The
 * checkouts' timings prove the outage hit the burst (at least half of them in flight while NATS was down).
 */
let nats: PrivateNats;
let shop: Shop;
beforeAll(async () => {
  nats = await startPrivateNats();
  shop = await startShop([ALL.user, ALL.product, ALL.cart, ALL.order, ALL.notification], { NATS_URL: nats.url });
});
afterAll(async () => {
  await nats?.start();
  await shop?.stop();
  await nats?.dispose();
});

test('a burst of 40 checkouts with NATS restarted in the middle: one order.placed and one email per order', async () => {
  const { stack } = shop;
  const tally = new Tally('NATS restarted during 40 concurrent checkouts');
  const product = await shop.product(100, 1200);
  const buyers = await Promise.all(Array.from({ length: 40 }, () => shop.buyer()));
  const carts = await Promise.all(buyers.map((b) => shop.cartWith(b.token, [[product, 1]])));
  const keys = buyers.map(() => randomUUID());

  // Each checkout's time in flight, and the outage: from stop() returning (down for sure) to start() being called.
  const flights: { start: number; end: number }[] = [];
  const burst = Promise.all(
    buyers.map((b, i) => {
      const start = Date.now();
      return shop.place(b.token, carts[i], keys[i]).then((r) => {
        flights.push({ start, end: Date.now() });
        return tally.count(r);
      });
    }),
  );
  await new Promise((r) => setTimeout(r, 150));
  await nats.stop();
  const down = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  const up = Date.now();
  await nats.start();
  const first = await burst;
  // The outage hit the burst: checkouts were in flight while NATS was down (else this only tests a quiet restart).
  const overlapping = flights.filter((f) => f.start < up && f.end > down).length;
  expect(overlapping).toBeGreaterThanOrEqual(buyers.length / 2);

  // Clients retry what failed with the same idempotency key (what a storefront does on an error).
  const orderIds = new Map<number, string>();
  first.forEach((r, i) => r.data?.placeOrder && orderIds.set(i, r.data.placeOrder.id));
  const deadline = Date.now() + 60_000;
  while (orderIds.size < buyers.length && Date.now() < deadline) {
    for (let i = 0; i < buyers.length; i++) {
      if (orderIds.has(i)) continue;
      const r = tally.count(await shop.place(buyers[i].token, carts[i], keys[i]));
      if (r.data?.placeOrder) orderIds.set(i, r.data.placeOrder.id);
      else if (!['INTERNAL_SERVER_ERROR'].includes(String(codes(r)[0])))
        throw new Error(`retry of checkout ${i} refused: ${JSON.stringify(r.errors)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(orderIds.size).toBe(40);

  // The databases and the broker, not the answers.
  const orders = await orderDb(stack)(`SELECT id, number FROM orders`);
  expect(orders.length).toBe(40);
  expect(new Set(orders.map((o: any) => o.id))).toEqual(new Set(orderIds.values()));
  const outbox = await orderDb(stack)(
    `SELECT payload->'data'->>'orderId' AS id FROM outbox WHERE subject = 'order.placed'`,
  );
  expect(outbox.map((o: any) => o.id).sort()).toEqual(orders.map((o: any) => o.id).sort());
  const paidOutbox = await orderDb(stack)(
    `SELECT payload->'data'->>'orderId' AS id FROM outbox WHERE subject = 'payment.succeeded'`,
  );
  expect(paidOutbox.map((o: any) => o.id).sort()).toEqual(orders.map((o: any) => o.id).sort());
  await eventually(
    'outbox relayed',
    async () => (await orderDb(stack)(`SELECT 1 FROM outbox WHERE published_at IS NULL`)).length === 0,
    60_000,
  );

  // Delivered: the streams hold each order.placed and each payment.succeeded once (Nats-Msg-Id deduplication), the
  // audit log and the mailbox too.
  const bus = await Bus.connect(stack.env.config);
  const onStream: string[] = [];
  const paidOnStream: string[] = [];
  try {
    for (const [domain, type, into] of [
      ['order', 'order.placed', onStream],
      ['payment', 'payment.succeeded', paidOnStream],
    ] as const) {
      const stream = bus.streamName(domain);
      const info = await bus.jsm.streams.info(stream);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await bus.jsm.streams.getMessage(stream, { seq }).catch(() => null);
        if (m?.subject.endsWith(type)) into.push(m.json<any>().data.orderId);
      }
    }
  } finally {
    await bus.close();
  }
  expect(onStream.sort()).toEqual(orders.map((o: any) => o.id).sort());
  expect(paidOnStream.sort()).toEqual(orders.map((o: any) => o.id).sort());
  for (const o of orders) await stack.env.mail.waitFor((m) => m.subject.includes(o.number), 60_000);
  await new Promise((r) => setTimeout(r, 1500)); // a late duplicate would show up here
  const emails = orders.map((o: any) => stack.env.mail.messages.filter((m) => m.subject.includes(o.number)).length);
  expect(emails).toEqual(orders.map(() => 1));
  const lost = orders.length - emails.filter((n) => n === 1).length;
  tally.print(
    lost,
    `${overlapping} of 40 checkouts in flight during the outage; 40 orders = 40 outbox rows = ${onStream.length} order.placed + ${paidOnStream.length} payment.succeeded on the streams = ${emails.reduce((a, b) => a + b, 0)} emails; duplicates 0`,
  );
  expect(lost).toBe(0);
}, 180_000);
