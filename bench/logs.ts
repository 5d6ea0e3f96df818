/**
 * Central-logs benchmark (not part of npm test): what a log flood does to request latency. An isolated environment on
 * the local PostgreSQL / Redis / NATS runs the product and notification subgraphs and the gateway in this process,
 * shipping every log line to the central store (LOG_SHIPPING=on, LOG_LEVEL=info: the gateway's access log is shipped
 * too). A catalog query is timed through the gateway (for `--seconds` per mode, `--concurrency` at once) in four modes:
 *
 * - quiet: only the requests' own lines;
 * - flooded in process, shipped: a loop in this (service) process logs as fast as it can (a chunk of `--chunk` lines
 *   per turn of the event loop), while the requests run;
 * - flooded in process, not shipped: the same loop through a logger without a shipper (what pino itself costs);
 * - flooded by another process: a second process logs as fast as it can through its own shipper (broker, store and
 *   the two cores are shared, the request path is not).
 *
 * Prints p50 / p99 per mode and the lines logged, shipped and dropped (`shop_log_lines_*`) during each.
 *
 *   npm run bench:logs [-- --seconds 10 --concurrency 4 --chunk 500]
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { createLogger, LogShipper, registry, signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { randomUUID } from 'node:crypto';
import { startGateway } from '../gateway/src';
import productSubgraph from '../subgraphs/product/src';
import notificationSubgraph, { StartedNotification } from '../subgraphs/notification/src';
import { numberArg } from './lib/args';
import { percentile } from './lib/stats';

const SECONDS = numberArg('seconds', 10);
const CONCURRENCY = numberArg('concurrency', 4);
const CHUNK = numberArg('chunk', 500);

const CATALOG = `query Catalog { products(first: 20) { edges { node { id name price { amount formatted } stock } } } }`;

async function metric(name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  return m ? (await m.get()).values.reduce((sum, v) => sum + v.value, 0) : 0;
}

/** The flood process: logs as fast as it can through its own shipper until told to stop, then reports. */
async function floodChild(): Promise<void> {
  const env = JSON.parse(process.env.BENCH_LOGS_CONFIG!) as { natsUrl: string; natsPrefix: string };
  const shipper = new LogShipper({ service: 'flood' });
  await shipper.connect(env);
  const log = createLogger('flood', 'info', new Writable({ write: (_c, _e, done) => done() }), { ship: shipper });
  let logged = 0;
  let stop = false;
  process.on('message', () => (stop = true));
  process.send!({ ready: true });
  while (!stop) {
    for (let i = 0; i < CHUNK; i++)
      log.info({ i, orderId: 'o-1', durationMs: 12.5 }, 'flood line from another process');
    logged += CHUNK;
    await new Promise((r) => setImmediate(r));
  }
  await shipper.drain(10_000);
  process.send!({ logged, ...shipper.stats });
  await shipper.close();
  process.exit(0);
}

interface Row {
  mode: string;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  logged: number;
  shipped: number;
  dropped: number;
}

async function measure(stack: Stack): Promise<{ requests: number; p50: number; p99: number; max: number }> {
  const times: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const res = await stack.gql(CATALOG);
        times.push(performance.now() - t);
        if (res.errors) throw new Error(JSON.stringify(res.errors));
      }
    }),
  );
  times.sort((a, b) => a - b);
  return {
    requests: times.length,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    max: times[times.length - 1],
  };
}

/** A loop logging `CHUNK` lines per turn of the event loop through `log` until stopped. */
function floodLoop(log: ReturnType<typeof createLogger>): { stop(): Promise<number> } {
  let stop = false;
  let logged = 0;
  const loop = (async () => {
    while (!stop) {
      for (let i = 0; i < CHUNK; i++) log.info({ i, orderId: 'o-1', durationMs: 12.5 }, 'flood line');
      logged += CHUNK;
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    async stop() {
      stop = true;
      await loop;
      return logged;
    },
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--flood-child')) return floodChild();
  const stack = await startStack({
    subgraphs: [productSubgraph, notificationSubgraph],
    gateway: startGateway,
    env: { LOG_SHIPPING: 'on', LOG_LEVEL: 'info' },
  });
  const rows: Row[] = [];
  try {
    const admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
    await stack.gql(`mutation { createCategory(slug: "lamps", name: "Lamps") { slug } }`, {}, admin);
    for (let i = 0; i < 20; i++) {
      await stack.gql(
        `mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`,
        {
          input: {
            sku: `LOG-${i}-${randomUUID().slice(0, 6)}`,
            name: `Lamp ${i}`,
            description: 'A lamp.',
            category: 'lamps',
            price: 1000 + i,
            stock: 10,
          },
        },
        admin,
      );
    }
    // Warm-up (plans, connections, JIT).
    for (let i = 0; i < 200; i++) await stack.gql(CATALOG);

    const counters = async () => ({
      shipped: await metric('shop_log_lines_shipped_total'),
      dropped: await metric('shop_log_lines_dropped_total'),
    });
    const run = async (mode: string, during: () => { stop(): Promise<number> }) => {
      console.error(`${mode}: ${SECONDS} s …`);
      const before = await counters();
      const load = during();
      const r = await measure(stack);
      const logged = await load.stop();
      await stack.env.shipper!.drain(10_000);
      const after = await counters();
      rows.push({
        mode,
        ...r,
        logged,
        shipped: after.shipped - before.shipped,
        dropped: after.dropped - before.dropped,
      });
    };

    await run('quiet', () => ({ stop: async () => 0 }));

    await run('flooded in process, shipped', () => floodLoop(stack.env.logger.child({ service: 'product' })));
    await run('flooded in process, not shipped', () =>
      floodLoop(createLogger('product', 'info', new Writable({ write: (_c, _e, done) => done() }))),
    );

    const child = fork(__filename, ['--flood-child', '--chunk', String(CHUNK)], {
      env: {
        ...process.env,
        BENCH_LOGS_CONFIG: JSON.stringify({
          natsUrl: stack.env.config.natsUrl,
          natsPrefix: stack.env.config.natsPrefix,
        }),
      },
    });
    await new Promise((resolve) => child.once('message', resolve));
    let childReport: { logged: number; shipped: number; dropped: number } | undefined;
    await run('flooded by another process', () => ({
      async stop() {
        const report = new Promise<typeof childReport>((resolve) => child.once('message', resolve as never));
        child.send('stop');
        childReport = await report;
        return childReport!.logged;
      },
    }));
    // The child's own counters (the metrics above are this process's).
    const last = rows[rows.length - 1];
    last.shipped = childReport!.shipped;
    last.dropped = childReport!.dropped;

    const svc = stack.services.notification as StartedNotification;
    const stored = await svc.stores.logs.count({});
    console.log(
      `\ncatalog query through the gateway, ${SECONDS} s per mode, ${CONCURRENCY} at a time, flood chunk ${CHUNK} lines\n`,
    );
    console.log('| mode | requests | p50 ms | p99 ms | max ms | lines logged by the flood | shipped | dropped |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows)
      console.log(
        `| ${r.mode} | ${r.requests} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.logged.toLocaleString('en')} | ${r.shipped.toLocaleString('en')} | ${r.dropped.toLocaleString('en')} |`,
      );
    console.log(`\nlines in the central store at the end: ${stored.toLocaleString('en')}`);
  } finally {
    await stack.stop();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
