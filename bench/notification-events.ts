/**
 * Notification subgraph's CPU per checkout's events, alone (not part of npm test): the notification subgraph as its
 * own process (from dist/), fed N checkouts' worth of events straight on JetStream — `order.placed` (a confirmation
 * email), `payment.succeeded`, `product.stock_adjusted`, `cart.checked_out` (audited) — at `--rate` checkouts/s;
 * measured until every email is in the mailbox and every event audited. Prints its CPU ms per checkout.
 *
 *   node dist/bench/notification-events.js [--orders 300] [--rate 20]
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { Bus, makeEvent } from '@shop/kernel';
import { startProcessStack } from '@shop/kernel/testing';
import { numberArg } from './lib/args';
import { cpuSeconds } from './lib/procs';

const ORDERS = numberArg('orders', 300);
const RATE = numberArg('rate', 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const stack = await startProcessStack({
    subgraphs: ['notification'],
    gateway: false,
    env: {
      LOG_LEVEL: 'error',
      ...(process.env.PROF_DIR
        ? { NODE_OPTIONS: `--require ${__dirname}/lib/cpu-prof-preload.js`, CPU_PROF_DIR: process.env.PROF_DIR }
        : {}),
    },
  });
  const bus = await Bus.connect(stack.env.config);
  const url = new URL(stack.env.config.postgresUrl);
  url.pathname = `/${stack.env.id}_notification`;
  const db = new Pool({ connectionString: url.toString(), max: 1 });
  const pid = stack.processes.notification.child.pid!;
  try {
    await sleep(3000);
    const idle0 = cpuSeconds([pid]);
    await sleep(5000);
    const idleRate = (cpuSeconds([pid]) - idle0) / 5;
    const xacts = async () =>
      Number(
        (await db.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`)).rows[0]
          .xact_commit,
      );
    const x0 = await xacts();
    const start = cpuSeconds([pid]);
    const t0 = Date.now();
    for (let i = 0; i < ORDERS; i++) {
      const orderId = randomUUID();
      const email = `buyer-${i}-${orderId.slice(0, 6)}@example.test`;
      const common = { orderId, number: `SH-2026-${String(i).padStart(6, '0')}`, userId: randomUUID(), email };
      const placed = makeEvent('order.placed', {
        ...common,
        firstName: 'Ann',
        status: 'PAID',
        items: [
          {
            productId: randomUUID(),
            productName: 'Desk lamp',
            quantity: 1,
            unitPrice: 2599,
            discountPercent: 0,
            lineTotal: 2599,
          },
        ],
        subtotal: 2599,
        discountTotal: 0,
        total: 2599,
        currency: 'EUR',
        placedAt: new Date().toISOString(),
      });
      const paid = makeEvent('payment.succeeded', {
        ...common,
        firstName: 'Ann',
        provider: 'simulated',
        reference: `sim_${orderId}`,
        status: 'CAPTURED',
        amount: 2599,
        currency: 'EUR',
      });
      const stock = makeEvent('product.stock_adjusted', {
        productId: randomUUID(),
        movementId: randomUUID(),
        delta: -1,
        reason: 'SALE',
        onHand: 10,
        actorId: null,
        orderId,
      });
      const cart = makeEvent('cart.checked_out', { cartId: randomUUID(), userId: common.userId, orderId });
      await Promise.all([placed, paid, stock, cart].map((e) => bus.publish(e)));
      const due = t0 + ((i + 1) * 1000) / RATE;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    for (;;) {
      const [{ sent, audited }] = (
        await db.query(
          `SELECT (SELECT count(*) FROM emails WHERE status = 'SENT')::int AS sent, (SELECT count(*) FROM audit_events)::int AS audited`,
        )
      ).rows;
      if (sent >= ORDERS && audited >= 4 * ORDERS) break;
      await sleep(100);
    }
    const seconds = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds([pid]) - start;
    const net = cpu - idleRate * seconds;
    await sleep(1000);
    const statements = (await xacts()) - x0 - 1;
    console.log(
      `notification: ${ORDERS} checkouts' events in ${seconds.toFixed(1)} s; CPU ${((cpu * 1000) / ORDERS).toFixed(2)} ms per checkout, net of idle ${((net * 1000) / ORDERS).toFixed(2)} (idle ${(idleRate * 1000).toFixed(1)} ms/s); ${(statements / ORDERS).toFixed(2)} transactions per checkout (polls included)`,
    );
  } finally {
    await db.end();
    await bus.close();
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
