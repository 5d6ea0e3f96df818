/**
 * Checkout benchmark (not part of npm test): concurrent placeOrder through the gateway on ONE contended product,
 * every real subgraph involved (user, product, cart, order) in this process on an isolated environment.
 * Phase 1 (setup, untimed): B buyers each get a cart holding 1 unit of a product with S units (B ≤ S so all can buy).
 * Phase 2 (timed): all B checkouts are fired with at most C in flight; orders/s and latency percentiles.
 * Then the invariant is read from the databases (orders = units sold = S − on hand, no holds, never negative), and
 * beside it, in the same run and database, the ceiling: the raw `UPDATE … SET on_hand = on_hand − 1 WHERE on_hand >= 1`
 * rate at the same concurrency.
 *
 * Every service runs in this one process (one event loop): orders/s is bounded by one core here; the CPU per order printed
 * below is the figure to compare between runs on a noisy machine.
 *
 *   npm run bench:checkout -- [--buyers 400] [--concurrency 32]
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../gateway/src';
import cartSubgraph from '../subgraphs/cart/src';
import orderSubgraph, { StartedOrder } from '../subgraphs/order/src';
import productSubgraph, { StartedProduct } from '../subgraphs/product/src';
import userSubgraph, { StartedUser } from '../subgraphs/user/src';
import { numberArg } from './lib/args';
import { percentile, pool } from './lib/stats';

const BUYERS = numberArg('buyers', 400);
const CONCURRENCY = numberArg('concurrency', 32);

function must(res: { data?: any; errors?: unknown[] }, what: string): any {
  if (res.errors?.length || !res.data) throw new Error(`${what}: ${JSON.stringify(res.errors)}`);
  return res.data;
}

async function main(): Promise<void> {
  const stack: Stack = await startStack({
    subgraphs: [userSubgraph, productSubgraph, cartSubgraph, orderSubgraph],
    gateway: startGateway,
    env: { LOG_LEVEL: 'error' },
  });
  try {
    const admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
    must(await stack.gql(`mutation { createCategory(slug: "bench", name: "Bench") { slug } }`, {}, admin), 'category');
    const stock = BUYERS;
    const product = must(
      await stack.gql(
        `mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }`,
        {
          i: {
            sku: `BENCH-${Date.now()}`,
            name: 'Contended item',
            description: 'Benchmark',
            category: 'bench',
            price: 1999,
            stock,
          },
        },
        admin,
      ),
      'product',
    ).createProduct.id as string;

    const users = stack.services.user as StartedUser;
    const buyers = Array.from({ length: BUYERS }, () => ({ id: randomUUID(), cartId: '', token: '' }));
    for (const b of buyers) {
      await users.orm.em
        .fork()
        .getConnection()
        .execute(
          `INSERT INTO users (id, email, password_hash, first_name, role, email_verified_at) VALUES (?, ?, 'x', 'B', 'USER', now())`,
          [b.id, `b.${b.id}@bench.test`],
        );
      b.token = signAccessToken(stack.env.keys, { sub: b.id, role: 'USER' });
    }
    let t = performance.now();
    await pool(buyers, CONCURRENCY, async (b) => {
      b.cartId = must(await stack.gql(`mutation { createCart { id } }`, {}, b.token), 'cart').createCart.id;
      must(
        await stack.gql(
          `mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { id } }`,
          { c: b.cartId, p: product },
          b.token,
        ),
        'add',
      );
    });
    const holdSeconds = (performance.now() - t) / 1000;

    const latencies: number[] = [];
    let failed = 0;
    const place = `mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id status } }`;
    const address = { name: 'Bench Buyer', line1: '1 Loop', city: 'Benchtown', postalCode: '1000', country: 'US' };
    t = performance.now();
    const cpu0 = process.cpuUsage();
    await pool(buyers, CONCURRENCY, async (b) => {
      const s = performance.now();
      const res = await stack.gql(
        place,
        { i: { cartId: b.cartId, shippingAddress: address, paymentToken: 'tok_visa' }, k: randomUUID() },
        b.token,
      );
      latencies.push(performance.now() - s);
      if (res.errors?.length || res.data?.placeOrder?.status !== 'PAID') failed++;
    });
    const checkoutSeconds = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuMsPerOrder = (cpu.user + cpu.system) / 1000 / BUYERS;
    latencies.sort((a, b) => a - b);

    // The invariant, from the databases.
    const productDb = (stack.services.product as StartedProduct).orm.em.fork().getConnection();
    const orderDb = (stack.services.order as StartedOrder).orm.em.fork().getConnection();
    const [{ on_hand: onHand }] = await productDb.execute(`SELECT on_hand FROM products WHERE id = ?`, [product]);
    const [{ n: held }] = await productDb.execute(`SELECT count(*)::int AS n FROM stock_hold WHERE product_id = ?`, [
      product,
    ]);
    const [{ low }] = await productDb.execute(
      `SELECT coalesce(min(resulting_on_hand), 0)::int AS low FROM stock_movements WHERE product_id = ?`,
      [product],
    );
    const [{ n: orders, units }] = await orderDb.execute(
      `SELECT count(DISTINCT order_id)::int AS n, coalesce(sum(quantity), 0)::int AS units FROM order_items WHERE product_id = ?`,
      [product],
    );
    const invariant = orders === BUYERS - failed && units === stock - onHand && onHand >= 0 && low >= 0 && held === 0;

    // The ceiling: the bare conditional decrement at the same concurrency, same database, same count.
    const url = new URL(stack.env.config.postgresUrl);
    url.pathname = `/${stack.env.id}_product`;
    const pg = new Pool({ connectionString: url.toString(), max: CONCURRENCY });
    await pg.query(`CREATE TABLE bench_ceiling (id int PRIMARY KEY, stock int NOT NULL CHECK (stock >= 0))`);
    await pg.query(`INSERT INTO bench_ceiling VALUES (1, $1)`, [BUYERS]);
    const raw: number[] = [];
    t = performance.now();
    await pool(buyers, CONCURRENCY, async () => {
      const s = performance.now();
      await pg.query(`UPDATE bench_ceiling SET stock = stock - 1 WHERE id = 1 AND stock >= 1`);
      raw.push(performance.now() - s);
    });
    const rawSeconds = (performance.now() - t) / 1000;
    raw.sort((a, b) => a - b);
    const [{ stock: rawLeft }] = (await pg.query(`SELECT stock FROM bench_ceiling`)).rows;
    await pg.end();

    const f = (n: number) => n.toFixed(1);
    console.log(
      `\nCheckout benchmark: ${BUYERS} buyers, 1 unit each of one product (${stock} units), ${CONCURRENCY} in flight; holds set up in ${f(holdSeconds)} s\n`,
    );
    console.log('| measure | ops | ops/s | p50 ms | p95 ms | p99 ms | failed |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    console.log(
      `| placeOrder through the gateway | ${BUYERS} | ${f(BUYERS / checkoutSeconds)} | ${f(percentile(latencies, 50))} | ${f(percentile(latencies, 95))} | ${f(percentile(latencies, 99))} | ${failed} |`,
    );
    console.log(
      `| ceiling: UPDATE … WHERE stock >= 1 | ${BUYERS} | ${f(BUYERS / rawSeconds)} | ${f(percentile(raw, 50))} | ${f(percentile(raw, 95))} | ${f(percentile(raw, 99))} | ${rawLeft} left |`,
    );
    console.log(
      `\nNode CPU per order (gateway + user, product, cart, order subgraphs, all in THIS process — one event loop, so one core): ${f(cpuMsPerOrder)} ms; PostgreSQL's and NATS's own CPU not included.`,
    );
    console.log(
      `\nInvariant (from the databases): orders ${orders}, units sold ${units}, on hand ${onHand}, lowest on hand ${low}, holds left ${held} → ${invariant ? 'OK' : 'VIOLATED'}`,
    );
    if (!invariant) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
