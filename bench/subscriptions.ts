/**
 * Subscription benchmark (not part of npm test): N concurrent `cartTimer` subscriptions through ONE gateway process.
 * The product and cart subgraphs run in this process; the gateway runs as a child process (built JS, production mode),
 * so its RSS and CPU are its own. Each subscriber has its own WebSocket and its own cart (one held item, so it ticks).
 * Reports, over a measuring window: tick delivery lag (receipt − the cart hub's tick time, same clock) p50/p99,
 * ticks received vs expected, gateway RSS per subscription, gateway CPU.
 *
 *   npm run bench:subscriptions -- [--subs 2000] [--seconds 10] [--full]
 * Default selection: the countdown fields; `--full` adds `cart { items { quantity product { name } } }`, so every event
 * also costs the gateway an entity fetch to the product subgraph.
 */
import { fork, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient, Client } from 'graphql-ws';
import WebSocket from 'ws';
import { composeModules, signAccessToken, StartedService } from '@shop/kernel';
import { createTestEnv, freePort, graphql } from '@shop/kernel/testing';
import cartSubgraph, { StartedCart } from '../subgraphs/cart/src';
import productSubgraph from '../subgraphs/product/src';
import { numberArg } from './lib/args';
import { cpuSeconds } from './lib/procs';
import { percentile, pool } from './lib/stats';

const SUBS = numberArg('subs', 2000);
const SECONDS = numberArg('seconds', 10);
/** `countdown`: the timer fields only (the cart subgraph alone); `full`: plus the lines with product names (cart + product per event). */
const SELECT = process.argv.includes('--full') ? 'full' : 'countdown';
const SETUP_CONCURRENCY = 32;

function procStats(pid: number): { rssMb: number; cpuSeconds: number } {
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { rssMb: rssKb / 1024, cpuSeconds: cpuSeconds([pid]) };
}

async function main(): Promise<void> {
  // Thousands of guest carts from one client address, ticking for up to an hour: the anti-hoarding bounds (units per
  // address, absolute hold lifetime) are for the public shop, not this run.
  const env = await createTestEnv({
    CART_HOLD_SECONDS: '3600',
    CART_TIMER_TICK_SECONDS: '1',
    LOG_LEVEL: 'error',
    CART_HOLD_MAX_SECONDS: '3600',
    CART_HOLD_MAX_SECONDS_USER: '3600',
    CART_MAX_UNITS_PER_ADDRESS: '10000000',
  });
  const services: StartedService[] = [];
  let gateway: ReturnType<typeof spawn> | undefined;
  try {
    const product = await productSubgraph.start({ config: env.config, keys: env.keys, logger: env.logger, port: 0 });
    services.push(product);
    const cart = (await cartSubgraph.start({
      config: env.config,
      keys: env.keys,
      logger: env.logger,
      port: 0,
    })) as StartedCart;
    services.push(cart);
    const { supergraphSdl } = await composeModules([productSubgraph, cartSubgraph], {
      product: product.url,
      cart: cart.url,
    });
    const file = join(tmpdir(), `bench-supergraph-${env.id}.graphql`);
    writeFileSync(file, supergraphSdl);

    const port = await freePort();
    const t0 = Date.now();
    gateway = spawn(process.execPath, [resolve(__dirname, '../gateway/src/main.js')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        GATEWAY_PORT: String(port),
        SUPERGRAPH_FILE: file,
        PRODUCT_SUBGRAPH_URL: product.url,
        CART_SUBGRAPH_URL: cart.url,
        POSTGRES_URL: env.config.postgresUrl,
        REDIS_URL: env.config.redisUrl,
        REDIS_PREFIX: env.config.redisPrefix,
        NATS_URL: env.config.natsUrl,
        NATS_PREFIX: env.config.natsPrefix,
        PUBLIC_URL: 'http://localhost',
        JWT_PUBLIC_KEY: env.keys.access.publicKey,
        JWT_PRIVATE_KEY: env.keys.access.privateKey,
        INTERNAL_JWT_PUBLIC_KEY: env.keys.internal.publicKey,
        INTERNAL_JWT_PRIVATE_KEY: env.keys.internal.privateKey,
        // Production refuses its development defaults: a local SMTP target (this run sends no mail), simulated payments
        // allowed explicitly, a random media secret.
        SMTP_HOST: '127.0.0.1',
        MEDIA_SIGNING_SECRET: randomBytes(32).toString('hex'),
        ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'true',
        // One client address opens thousands of sockets here: the per-IP budget is for the public edge, not this run.
        RATE_LIMIT_PER_IP: '0',
        RATE_LIMIT_PER_USER: '0',
        RATE_LIMIT_AUTH_PER_IP: '0',
        WS_MAX_CONNECTIONS_PER_IP: '0',
        WS_CONNECT_RATE_PER_IP: '0',
        WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '0',
      },
    });
    const url = `http://127.0.0.1:${port}/graphql`;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() - t0 > 30_000) throw new Error('gateway did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    const base = procStats(gateway.pid!);

    // One product, SUBS carts holding one unit each.
    const admin = signAccessToken(env.keys, { sub: randomUUID(), role: 'ADMIN' });
    await graphql(
      url,
      `
        mutation {
          createCategory(slug: "bench", name: "Bench") {
            slug
          }
        }
      `,
      {},
      { token: admin },
    );
    const created = await graphql(
      url,
      `
        mutation ($i: CreateProductInput!) {
          createProduct(input: $i) {
            id
          }
        }
      `,
      {
        i: {
          sku: `SUB-${Date.now()}`,
          name: 'Ticking item',
          description: 'Benchmark',
          category: 'bench',
          price: 1000,
          stock: SUBS + 10,
        },
      },
      { token: admin },
    );
    const productId = created.data!.createProduct.id as string;
    const carts: string[] = new Array(SUBS);
    await pool(carts, SETUP_CONCURRENCY, async (_c, i) => {
      const c = await graphql(
        url,
        `
          mutation {
            createCart {
              id
            }
          }
        `,
      );
      carts[i] = c.data!.createCart.id;
      const add = await graphql(
        url,
        `
          mutation ($c: ID!, $p: ID!) {
            addToCart(cartId: $c, productId: $p, quantity: 1) {
              id
            }
          }
        `,
        { c: carts[i], p: productId },
      );
      if (add.errors) throw new Error(JSON.stringify(add.errors));
    });

    // Subscribe everyone; each event's selection includes a product field, resolved through the query plan.
    const query =
      SELECT === 'full'
        ? `subscription($id: ID!) { cartTimer(cartId: $id) { status secondsRemaining cart { items { quantity product { name } } } } }`
        : `subscription($id: ID!) { cartTimer(cartId: $id) { status secondsRemaining expiresAt } }`;
    // The subscribers run in a child process (their own core's worth of event loop), so the figures are the system's,
    // not the cost of 2,000 clients sharing a loop with the cart subgraph. The hub's tick times reach it over IPC.
    const worker = fork(__filename, ['--client-worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ask = <T>(msg: Record<string, unknown>, reply: string) =>
      new Promise<T>((res, rej) => {
        const on = (m: { type: string; error?: string }) => {
          if (m.type === 'error') {
            worker.off('message', on);
            rej(new Error(m.error));
          }
          if (m.type === reply) {
            worker.off('message', on);
            res(m as T);
          }
        };
        worker.on('message', on);
        worker.send(msg);
      });
    // Sent when the tick starts, before any of its events is written, so no event can overtake its tick's timestamp.
    cart.hub.onTick = (at) => worker.send({ type: 'tick', at });
    const opened = await ask<{ firstEvents: number }>(
      { type: 'subscribe', wsUrl: url.replace(/^http/, 'ws'), carts, query, concurrency: SETUP_CONCURRENCY },
      'subscribed',
    );
    const afterSubscribe = procStats(gateway.pid!);
    console.log(
      `${SUBS} subscriptions open (${opened.firstEvents} initial events); upstream at the cart subgraph: ${cart.hub.size}`,
    );

    worker.send({ type: 'measure', on: true });
    const cpuStart = procStats(gateway.pid!).cpuSeconds;
    const wallStart = Date.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const result = await ask<{ lags: number[]; ticks: number; errors: number }>(
      { type: 'measure', on: false },
      'result',
    );
    cart.hub.onTick = undefined;
    await ask({ type: 'close' }, 'closed');
    worker.kill();
    const { lags, ticks, errors } = result;
    const wall = (Date.now() - wallStart) / 1000;
    const end = procStats(gateway.pid!);
    lags.sort((a, b) => a - b);

    const f = (n: number, d = 1) => n.toFixed(d);
    console.log(
      `\nSubscription benchmark: ${SUBS} cartTimer subscriptions through one gateway process, ${SECONDS} s window, tick every 1 s, selection: ${SELECT}\n`,
    );
    console.log(
      '| subscriptions | ticks received | expected | lag p50 ms | lag p99 ms | gateway RSS MB (idle → subscribed) | KB per subscription | gateway CPU % | errors |',
    );
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    console.log(
      `| ${SUBS} | ${ticks} | ~${Math.round(SUBS * wall)} | ${f(percentile(lags, 50))} | ${f(percentile(lags, 99))} | ${f(base.rssMb)} → ${f(afterSubscribe.rssMb)} | ${f(((end.rssMb - base.rssMb) * 1024) / SUBS)} | ${f(((end.cpuSeconds - cpuStart) / wall) * 100)} | ${errors} |`,
    );
  } finally {
    gateway?.kill('SIGTERM');
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    await env.cleanup();
  }
}

/** The subscribers: one graphql-ws client (own WebSocket) per cart; lag = receipt − the hub's last tick (same clock). */
function clientWorker(): void {
  const clients: Client[] = [];
  const lags: number[] = [];
  let ticks = 0;
  let errors = 0;
  let measuring = false;
  let lastTick = 0;
  process.on('message', async (m: { type: string; [k: string]: unknown }) => {
    try {
      if (m.type === 'tick') lastTick = m.at as number;
      if (m.type === 'measure') {
        measuring = m.on as boolean;
        if (!measuring) process.send!({ type: 'result', lags: lags.sort((a, b) => a - b), ticks, errors });
      }
      if (m.type === 'close') {
        for (const c of clients) await Promise.resolve(c.dispose()).catch(() => undefined);
        process.send!({ type: 'closed' });
      }
      if (m.type !== 'subscribe') return;
      let firstEvents = 0;
      await pool(m.carts as string[], m.concurrency as number, async (cartId) => {
        const client = createClient({ url: m.wsUrl as string, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
        clients.push(client);
        await new Promise<void>((resolveFirst, reject) => {
          let first = true;
          client.subscribe(
            { query: m.query as string, variables: { id: cartId } },
            {
              next: (r) => {
                if (r.errors) errors++;
                if (first) {
                  first = false;
                  firstEvents++;
                  resolveFirst();
                  return;
                }
                if (!measuring) return;
                ticks++;
                lags.push(Date.now() - lastTick);
              },
              error: (e) => {
                errors++;
                reject(
                  e instanceof Error
                    ? e
                    : new Error(
                        `subscription failed: code=${(e as { code?: number }).code} reason=${(e as { reason?: string }).reason}`,
                      ),
                );
              },
              complete: () => undefined,
            },
          );
        });
      });
      process.send!({ type: 'subscribed', firstEvents });
    } catch (err) {
      process.send!({ type: 'error', error: String(err) });
    }
  });
}

if (process.argv.includes('--client-worker')) {
  clientWorker();
} else {
  main()
    .then(() => process.exit(0))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
