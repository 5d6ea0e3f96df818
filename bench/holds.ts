/**
 * Stock hold contention benchmark (not part of npm test). An isolated environment on the local PostgreSQL / Redis /
 * NATS (like the tests), the product subgraph in this process, and a separate NATS client playing the carts: each
 * round, HOLDERS carts (default 200) each ask `product.hold` for 1 unit of ONE product with UNITS (default 50) on hand,
 * all at once, then the same number of new carts again on the now sold-out product. Prints a markdown table per
 * round: hold requests/s, p50 / p95 latency of a request as the cart sees it, granted and refused, the CPU per hold of
 * every PostgreSQL process and of this one (the subgraph and the carts' client) over that burst, the same for the
 * sold-out crowd, and the invariant read from the database afterwards (held = UNITS in UNITS rows, available = 0)
 * plus the lowest unclamped level (on hand − unexpired holds) a sampler saw while the round ran (never negative).
 *
 *   npm run bench:holds -- [--holders 200] [--units 50] [--rounds 5]
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { AppError, Bus, databaseName, ErrorCode } from '@shop/kernel';
import { createTestEnv } from '@shop/kernel/testing';
import productSubgraph from '../subgraphs/product/src';
import type { ProductCommands } from '../subgraphs/product/src/events/commands';
import { numberArg } from './lib/args';
import { cpuSeconds, pidsNamed } from './lib/procs';
import { percentile } from './lib/stats';

const HOLDERS = numberArg('holders', 200);
const UNITS = numberArg('units', 50);
const ROUNDS = numberArg('rounds', 5);

type Hold = ProductCommands['product.hold'];

async function main(): Promise<void> {
  const env = await createTestEnv();
  const product = await productSubgraph.start({
    config: env.config,
    keys: env.keys,
    logger: env.logger.child({ service: 'product' }),
    port: 0,
  });
  const carts = await Bus.connect(env.config, env.logger, 'bench-carts');
  // The sampler's own connection: it must not take one of the subgraph's pooled connections away from the holds.
  const url = new URL(env.config.postgresUrl);
  url.pathname = `/${databaseName(env.config, 'product')}`;
  const sampling = new Client({ connectionString: url.toString() });
  await sampling.connect();
  try {
    const sql = (text: string, params: unknown[] = []) =>
      product.orm.em.fork().getConnection().execute(text, params) as Promise<any[]>;
    await product.catalog.createCategory('bench', 'Bench');
    const p = await product.catalog.createProduct(
      {},
      { sku: 'BENCH-HOLDS', name: 'Contended product', description: '', category: 'bench', price: 1000, stock: UNITS },
    );

    const rows: string[] = [];
    let allOk = true;
    // Round 0 warms up connections and plans; it is not reported.
    for (let round = 0; round <= ROUNDS; round++) {
      await sql(`DELETE FROM stock_hold WHERE product_id = ?`, [p.id]);
      const deadline = new Date(Date.now() + 600_000).toISOString();

      let lowest = Infinity;
      let running = true;
      const sampler = (async () => {
        while (running) {
          const {
            rows: [r],
          } = await sampling.query(
            `SELECT p.on_hand - coalesce((SELECT sum(quantity) FROM stock_hold WHERE product_id = p.id AND expires_at > now()), 0) AS raw
            FROM products p WHERE p.id = $1`,
            [p.id],
          );
          lowest = Math.min(lowest, Number(r.raw));
          // A pause: each sample sums every hold of the product, and unpaused it was most of PostgreSQL's work.
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();

      const burst = async () => {
        const latencies: number[] = [];
        let granted = 0;
        let refused = 0;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: HOLDERS }, async () => {
            const t = performance.now();
            try {
              await carts.request<Hold['req'], Hold['res']>(
                'product.hold',
                { cartId: `bench-${randomUUID()}`, productId: p.id, quantity: 1, expiresAt: deadline },
                30_000,
              );
              granted++;
            } catch (err) {
              if (!(err instanceof AppError) || err.code !== ErrorCode.INSUFFICIENT_STOCK) throw err;
              refused++;
            }
            latencies.push(performance.now() - t);
          }),
        );
        return { latencies: latencies.sort((a, b) => a - b), granted, refused, elapsed: performance.now() - started };
      };
      const cpu = { pg: cpuSeconds(pidsNamed(['postgres'])), own: process.cpuUsage() };
      const { latencies, granted, refused, elapsed } = await burst();
      const pgMs = ((cpuSeconds(pidsNamed(['postgres'])) - cpu.pg) * 1000) / HOLDERS;
      const own = process.cpuUsage(cpu.own);
      const ownMs = (own.user + own.system) / 1000 / HOLDERS;
      // The same crowd again on the sold-out product: every request must be refused, and quickly.
      const after = await burst();
      running = false;
      await sampler;

      const [db] = await sql(
        `SELECT count(*)::int AS holds, coalesce(sum(h.quantity), 0)::int AS held,
          (SELECT product_available(p.on_hand, ph.held) FROM products p LEFT JOIN product_held ph ON ph.product_id = p.id WHERE p.id = ?) AS available
        FROM stock_hold h WHERE h.product_id = ?`,
        [p.id, p.id],
      );
      const ok =
        db.held === UNITS &&
        db.holds === UNITS &&
        Number(db.available) === 0 &&
        granted === UNITS &&
        after.granted === 0 &&
        lowest >= 0;
      allOk &&= ok;
      if (round === 0) continue;
      rows.push(
        `| ${round} | ${Math.round((HOLDERS / elapsed) * 1000)} | ${percentile(latencies, 50).toFixed(1)} | ${percentile(latencies, 95).toFixed(1)} | ${granted} | ${refused} ` +
          `| ${pgMs.toFixed(2)} | ${ownMs.toFixed(2)} ` +
          `| ${Math.round((HOLDERS / after.elapsed) * 1000)} | ${percentile(after.latencies, 95).toFixed(1)} | ${after.granted} ` +
          `| ${db.held} in ${db.holds} rows | ${db.available} | ${lowest} | ${ok ? 'yes' : 'NO'} |`,
      );
    }

    console.log(
      `\n${HOLDERS} concurrent carts × product.hold(1) over NATS on one product with ${UNITS} units; ${ROUNDS} rounds after a warm-up round\n`,
    );
    console.log(
      '| round | holds/s | p50 ms | p95 ms | granted | refused | PostgreSQL CPU ms per hold | this process CPU ms per hold | sold-out: requests/s | sold-out: p95 ms | sold-out: granted | held (db) | available (db) | lowest level seen | invariant |',
    );
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|');
    for (const r of rows) console.log(r);
    if (!allOk) throw new Error('invariant violated (see the table)');
  } finally {
    await sampling.end();
    await carts.close();
    await product.stop();
    await env.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
