/**
 * Seeds the bench deployment once, through the subgraphs' own services started in this process: the catalog
 * (product seed), one image per product (media service: the same import and processing as an upload), users
 * (account service: registration with argon2 hashing) and their orders (the order service's placeOrder saga, with
 * the cart and stock-commit steps answered in-process because no real cart exists for a seeded order). A manifest in
 * bench/.data records what was seeded; a later run reuses it when the databases still hold it.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { connect } from 'nats';
import sharp from 'sharp';
import { Config, createLogger, createRedis, deletePrefix, Logger } from '@shop/kernel';
import productModule, { StartedProduct } from '../../subgraphs/product/src';
import { seedCatalog, seededRandom } from '../../subgraphs/product/src/seed';
import { createMediaSubgraph, StartedMedia } from '../../subgraphs/media/src';
import userModule, { StartedUser } from '../../subgraphs/user/src';
import orderModule, { StartedOrder } from '../../subgraphs/order/src';
import cartModule, { StartedCart } from '../../subgraphs/cart/src';
import { CheckoutLine, natsPorts, Ports } from '../../subgraphs/order/src/ports';
import { OrderService } from '../../subgraphs/order/src/service/order.service';
import { BuyerDirectory } from '../../subgraphs/order/src/service/buyers';
import { SimulatedPaymentProvider } from '../../subgraphs/order/src/service/payment';
import { benchConfig, benchKeys, benchSecrets, DATA_DIR, DB_PREFIX } from './env';

export interface SeedSpec {
  products: number;
  users: number;
  ordersPerUser: number;
}

export interface Manifest extends SeedSpec {
  version: number;
  seededAt: string;
  userIds: string[];
  /** Cart ids with their owners, when the cart subgraph exists. */
  carts: { id: string; userId: string }[];
}

const MANIFEST_VERSION = 1;
const MANIFEST = path.join(DATA_DIR, 'manifest.json');
export const BENCH_PASSWORD = 'bench-Pass-w0rd!';

function log(msg: string): void {
  console.log(`[seed] ${msg}`);
}

async function pgQuery<T>(config: Config, db: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const u = new URL(config.postgresUrl);
  u.pathname = `/${db}`;
  const client = new Client({ connectionString: u.toString() });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The manifest, when the databases still hold what it describes. */
async function existingSeed(config: Config, spec: SeedSpec): Promise<Manifest | null> {
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')) as Manifest;
  } catch {
    return null;
  }
  if (
    m.version !== MANIFEST_VERSION ||
    m.products !== spec.products ||
    m.users !== spec.users ||
    m.ordersPerUser !== spec.ordersPerUser
  )
    return null;
  try {
    const [p] = await pgQuery<{ n: number }>(config, `${DB_PREFIX}_product`, 'SELECT count(*)::int AS n FROM products');
    const [u] = await pgQuery<{ n: number }>(config, `${DB_PREFIX}_user`, 'SELECT count(*)::int AS n FROM users');
    const [o] = await pgQuery<{ n: number }>(config, `${DB_PREFIX}_order`, 'SELECT count(*)::int AS n FROM orders');
    if (p.n === spec.products && u.n === spec.users && o.n === spec.users * spec.ordersPerUser) return m;
  } catch {
    /* a database is missing */
  }
  return null;
}

/** Drops everything of the bench deployment (databases, Redis keys, streams, files). */
export async function resetBench(config: Config): Promise<void> {
  const dbs = await pgQuery<{ datname: string }>(
    config,
    'postgres',
    `SELECT datname FROM pg_database WHERE datname LIKE $1`,
    [`${DB_PREFIX}\\_%`],
  );
  for (const { datname } of dbs) await pgQuery(config, 'postgres', `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  const redis = createRedis(config, { prefix: false });
  await deletePrefix(redis, config.redisPrefix).finally(() => redis.disconnect());
  const nc = await connect({ servers: config.natsUrl });
  try {
    const jsm = await nc.jetstreamManager();
    for await (const name of jsm.streams.names())
      if (name.startsWith(`${DB_PREFIX}_`)) await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
  fs.rmSync(config.mediaDir, { recursive: true, force: true });
  fs.rmSync(MANIFEST, { force: true });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/** A small distinct PNG per product (160×160, colour from its index): cheap to process, real variants. */
function tinyPng(i: number): Promise<Buffer> {
  const r = (i * 97) % 256,
    g = (i * 57) % 256,
    b = (i * 31) % 256;
  return sharp({ create: { width: 160, height: 160, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

async function waitForOutbox(config: Config, services: string[]): Promise<void> {
  // Let the relays publish what seeding wrote, so the benchmark does not pay for it later.
  for (const s of services) {
    for (let i = 0; i < 600; i++) {
      const rows = await pgQuery<{ n: number }>(
        config,
        `${DB_PREFIX}_${s}`,
        `SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`,
      ).catch(() => [{ n: 0 }]);
      if (!rows[0].n) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function ensureSeeded(spec: SeedSpec, opts: { force?: boolean } = {}): Promise<Manifest> {
  const config = benchConfig();
  if (!opts.force) {
    const m = await existingSeed(config, spec);
    if (m) {
      log(
        `reusing the seeded bench deployment (${spec.products} products, ${spec.users} users, ${spec.users * spec.ordersPerUser} orders)`,
      );
      return m;
    }
  }
  log('seeding the bench deployment from scratch (once; later runs reuse it)');
  await resetBench(config);
  const keys = benchKeys();
  const logger: Logger = createLogger('bench-seed', 'warn');
  const deps = { config, keys, logger, port: 0 };
  const started: { stop(): Promise<unknown> }[] = [];
  try {
    const product = (await productModule.start(deps)) as StartedProduct;
    started.push(product);
    const media = (await createMediaSubgraph({ signingSecret: benchSecrets().mediaSecret }).start(
      deps,
    )) as StartedMedia;
    started.push(media);
    const user = (await userModule.start(deps)) as StartedUser;
    started.push(user);
    const order = (await orderModule.start(deps)) as StartedOrder;
    started.push(order);

    let t = performance.now();
    await seedCatalog(product.orm, { products: spec.products });
    await product.orm.em.fork().getConnection().execute('VACUUM ANALYZE products');
    const products: { id: string; name: string; price_amount: number }[] = await product.orm.em
      .fork()
      .getConnection()
      .execute('SELECT id, name, price_amount FROM products ORDER BY created_at DESC, id');
    log(`${products.length} products in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    await pool(products, 4, async (p, i) => {
      const image = await media.media.importImage(await tinyPng(i), `${p.id}.png`);
      await media.media.attachProductImage(p.id, image.id, p.name.slice(0, 300));
      if ((i + 1) % 2000 === 0) log(`  ${i + 1} images`);
    });
    log(`${products.length} images in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    const userIds: string[] = new Array(spec.users);
    await pool(
      Array.from({ length: spec.users }, (_, i) => i),
      4,
      async (i) => {
        const u = await user.accounts.register({
          email: `bench.user.${String(i).padStart(5, '0')}@shop.bench`,
          password: BENCH_PASSWORD,
          firstName: `Bench ${letterName(i)}`,
          lastName: 'User',
        });
        userIds[i] = u.id;
      },
    );
    log(`${spec.users} users in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // Orders through the order service's own saga. A seeded order has no real cart behind it, so the cart
    // commands and the stock commit are answered here, with the prices and names read from the product database.
    t = performance.now();
    const rnd = seededRandom(7);
    const real = natsPorts(order.bus);
    const pending = new Map<string, CheckoutLine[]>();
    const ports: Ports = {
      cart: {
        beginCheckout: async ({ cartId }) => ({
          cartId,
          status: 'ACTIVE',
          currency: 'USD',
          expiresAt: new Date(Date.now() + 600_000).toISOString(),
          lines: pending.get(cartId)!,
        }),
        completeCheckout: async () => ({ ok: true }),
      },
      product: {
        commit: async () => ({ committed: true }),
        uncommit: async () => ({ returned: true }),
      },
      user: real.user,
    };
    const buyers = new BuyerDirectory(order.orm, ports.user, logger);
    const orders = new OrderService(order.orm, ports, buyers, new SimulatedPaymentProvider(), order.relay, logger, {
      sweepMs: 3_600_000,
    });
    const jobs: { userId: string; cartId: string }[] = [];
    for (const userId of userIds) {
      for (let k = 0; k < spec.ordersPerUser; k++) {
        const cartId = randomUUID();
        const n = 1 + Math.floor(rnd() * 4);
        const lines = Array.from({ length: n }, () => {
          const p = products[Math.floor(rnd() * products.length)];
          const discountPercent = rnd() < 0.2 ? 20 : 0;
          return {
            productId: p.id,
            quantity: 1 + Math.floor(rnd() * 3),
            unitPrice: p.price_amount,
            discountPercent,
            productName: p.name,
            archived: false,
          };
        }).filter((l, idx, all) => all.findIndex((x) => x.productId === l.productId) === idx);
        pending.set(cartId, lines);
        jobs.push({ userId, cartId });
      }
    }
    await pool(jobs, 4, async ({ userId, cartId }, i) => {
      await orders.placeOrder(
        { userId, role: 'USER' },
        {
          cartId,
          paymentToken: 'tok_visa',
          shippingAddress: {
            name: 'Bench User',
            line1: '1 Load Street',
            city: 'Testville',
            postalCode: '12345',
            country: 'US',
          },
        },
        `seed-${i}`,
      );
    });
    log(`${jobs.length} orders in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await waitForOutbox(config, ['product', 'media', 'user', 'order']);

    const manifest: Manifest = {
      ...spec,
      version: MANIFEST_VERSION,
      seededAt: new Date().toISOString(),
      userIds,
      carts: [],
    };
    fs.mkdirSync(DATA_DIR, { recursive: true });
    fs.writeFileSync(MANIFEST, JSON.stringify(manifest));
    return manifest;
  } finally {
    for (const s of started.reverse()) await s.stop().catch((err) => log(`stop failed: ${String(err)}`));
  }
}

/**
 * Makes sure the first `count` seeded users each have an ACTIVE cart with three in-stock products, through the
 * cart service (which holds the stock through the product subgraph's commands). Kept carts are reused.
 */
export async function ensureCarts(manifest: Manifest, count: number): Promise<Manifest> {
  const config = benchConfig();
  const keys = benchKeys();
  const logger: Logger = createLogger('bench-seed', 'warn');
  const deps = { config, keys, logger, port: 0 };
  const product = (await productModule.start(deps)) as StartedProduct;
  let cart: StartedCart | undefined;
  try {
    cart = (await cartModule.start(deps)) as StartedCart;
    const carts: Manifest['carts'] = [];
    const candidates: { id: string }[] = await product.orm.em
      .fork()
      .getConnection()
      .execute('SELECT id FROM products WHERE archived_at IS NULL AND on_hand >= 50 ORDER BY id LIMIT 3000');
    const rnd = seededRandom(11);
    let created = 0;
    const t = performance.now();
    await pool(manifest.userIds.slice(0, count), 4, async (userId) => {
      const identity = { userId, role: 'USER' as const };
      const existing = await cart!.carts.myCart(identity);
      if (existing && existing.status === 'ACTIVE' && existing.lines.length >= 3) {
        carts.push({ id: existing.id, userId });
        return;
      }
      const c = await cart!.carts.create(identity);
      for (let k = 0; k < 3; k++) {
        const p = candidates[Math.floor(rnd() * candidates.length)];
        await cart!.carts.addItem(identity, c.id, p.id, 1 + Math.floor(rnd() * 2));
      }
      carts.push({ id: c.id, userId });
      created++;
    });
    if (created)
      log(
        `${created} carts filled in ${((performance.now() - t) / 1000).toFixed(1)} s (${carts.length - created} reused)`,
      );
    const next = { ...manifest, carts };
    fs.writeFileSync(MANIFEST, JSON.stringify(next));
    return next;
  } finally {
    await cart?.stop().catch(() => undefined);
    await product.stop().catch(() => undefined);
  }
}

/** 0 → "a", 25 → "z", 26 → "ba": names hold letters only (the user subgraph refuses digits in names). */
function letterName(i: number): string {
  let s = '';
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26);
  } while (i > 0);
  return s;
}
