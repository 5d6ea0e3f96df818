import { randomUUID } from 'node:crypto';
import { AppError, Bus } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../src';
import type { ProductCommands } from '../src/events/commands';
import { SEED_CATEGORIES, seedCatalog, seededRandom } from '../src/seed';
import { adminToken, createProduct, db, ensureCategory, ok, svc } from './helpers';

let stack: Stack;
let bus: Bus;
let sql: ReturnType<typeof db>;

beforeAll(async () => {
  stack = await startStack({ subgraphs: [productSubgraph], gateway: startGateway });
  // A client of its own, as the media or cart subgraph would have.
  bus = await Bus.connect(stack.env.config, stack.env.logger, 'test-client');
  sql = db(stack);
});
afterAll(async () => {
  await bus?.close();
  await stack?.stop();
});

const exists = (ids: unknown) =>
  bus.request<unknown, ProductCommands['product.exists']['res']>('product.exists', { ids });
const get = (ids: unknown) => bus.request<unknown, ProductCommands['product.get']['res']>('product.get', { ids });

describe('internal commands over NATS', () => {
  let live: { id: string; sku: string };
  let archived: { id: string };

  beforeAll(async () => {
    const admin = adminToken(stack);
    await ensureCategory(stack, admin, 'audio');
    live = await createProduct(stack, admin, { name: 'Commanded', price: 2599, stock: 4, currency: 'EUR' });
    archived = await createProduct(stack, admin, { name: 'Gone', price: 100, stock: 1 });
    ok(await stack.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: archived.id }, admin));
  });

  test('product.exists: existing ids, archived included; unknown and malformed ids left out', async () => {
    const unknown = randomUUID();
    const res = await exists([
      live.id,
      unknown,
      archived.id,
      'garbage',
      live.id.toUpperCase(),
      "'; DROP TABLE products; --",
    ]);
    expect(res.existing.sort()).toEqual([live.id, archived.id].sort());
    expect(await exists([])).toEqual({ existing: [] });
  });

  test('product.get: price, currency, availability now, the archived flag and the deal percent, in the order asked', async () => {
    // The SKU compared below must be a real one (undefined would match a missing field).
    expect(live.sku).toMatch(/^SKU-/);
    const res = await get([archived.id, randomUUID(), live.id]);
    // Fewer in-stock products than DEALS_COUNT: every one of them is on the deal list (20 % off); archived ones never.
    expect(res).toEqual([
      {
        id: archived.id,
        sku: expect.any(String),
        name: 'Gone',
        priceAmount: 100,
        currency: 'USD',
        available: 1,
        archived: true,
        discountPercent: 0,
      },
      {
        id: live.id,
        sku: live.sku,
        name: 'Commanded',
        priceAmount: 2599,
        currency: 'EUR',
        available: 4,
        archived: false,
        discountPercent: 20,
      },
    ]);
  });

  test('bad requests come back as coded errors, not timeouts', async () => {
    await expect(exists('not-an-array')).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      extensions: { field: 'ids' },
    });
    await expect(get(Array.from({ length: 1001 }, () => randomUUID()))).rejects.toBeInstanceOf(AppError);
  });
});

describe('seedCatalog', () => {
  test('seeds categories and realistic products in batches, deterministically; skips a non-empty catalog', async () => {
    // A catalog of its own: the commands above already created products in this database.
    await sql(`TRUNCATE stock_movements, products CASCADE`);
    const orm = svc(stack).orm;
    const result = await seedCatalog(orm, { products: 1234, batchSize: 500, random: seededRandom(7) });
    expect(result).toEqual({ skipped: false, categories: SEED_CATEGORIES.length, products: 1234 });

    const [stats] =
      await sql(`SELECT count(*)::int AS n, count(DISTINCT sku)::int AS skus, count(*) FILTER (WHERE on_hand = 0)::int AS sold_out,
      min(price_amount) AS min_price, max(price_amount) AS max_price, count(DISTINCT category_slug)::int AS cats FROM products`);
    expect(stats).toMatchObject({ n: 1234, skus: 1234, cats: 6 });
    expect(stats.sold_out).toBeGreaterThan(50);
    expect(stats.sold_out).toBeLessThan(250);
    expect(stats.min_price).toBeGreaterThan(0);
    const [{ movements }] = await sql(
      `SELECT count(*)::int AS movements FROM stock_movements m JOIN products p ON p.id = m.product_id AND m.resulting_on_hand = p.on_hand`,
    );
    expect(movements).toBe(1234);

    // Searchable like any product: "head" finds headphones.
    const res = ok(
      await stack.gql(
        `{ products(first: 5, filter: { search: "head", category: "audio" }) { edges { node { name description } } totalCount } }`,
      ),
    ).products;
    expect(res.totalCount).toBeGreaterThan(0);
    for (const e of res.edges) expect(`${e.node.name} ${e.node.description}`).toMatch(/head/i);
    expect(
      ok(await stack.gql(`{ categories { slug productCount } }`))
        .categories.map((c: any) => c.slug)
        .sort(),
    ).toEqual(SEED_CATEGORIES.map((c) => c.slug).sort());

    // Deterministic for a given random source. The product compared must exist (undefined would equal undefined).
    const [first] = await sql(`SELECT name, price_amount FROM products WHERE sku = 'AUD-0000001'`);
    expect(first).toEqual({ name: expect.any(String), price_amount: expect.any(Number) });
    expect(first.price_amount).toBeGreaterThan(0);
    await sql(`TRUNCATE stock_movements, products CASCADE`);
    await seedCatalog(orm, { products: 10, random: seededRandom(7) });
    const again = await sql(`SELECT name, price_amount FROM products WHERE sku = 'AUD-0000001'`);
    expect(again).toEqual([first]);

    expect(await seedCatalog(orm, { products: 50 })).toEqual({ skipped: true, categories: 0, products: 0 });
    expect((await sql(`SELECT count(*)::int AS n FROM products`))[0].n).toBe(10);
  });
});
