import { createRedis, Redis } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import { createProductSubgraph } from '../src';
import { DealsService } from '../src/service/deals.service';
import { ADJUST, adminToken, createProduct, db, ensureCategory, ok, svc } from './helpers';

let stack: Stack;
let admin: string;
let sql: ReturnType<typeof db>;
const TTL_SECONDS = 86400;

// Prices chosen for rounding: 20 % of 1999 is 399.8 → 400 off; of 2 is 0.4 → 0; of 13 is 2.6 → 3; of 12 is 2.4 → 2.
const IN_STOCK_PRICES = [1999, 2, 1, 5, 12, 13, 1998, 2497, 2498, 100_000_000];
const DEALS = `{ deals { product { id name stock inStock price { amount } deal { discountPercent } } discountPercent price { amount currency formatted } expiresAt } }`;
/** Half up, written independently of the kernel: amount − round_half_up(amount × 20 / 100). */
const expected20 = (amount: number) => amount - Math.floor((amount * 20 + 50) / 100);

const ids = (res: any): string[] => ok(res).deals.map((d: any) => d.product.id);
let outOfStock: string[] = [];
let archived: string;

beforeAll(async () => {
  // Short-list retries on every read, so the test of "fewer only if fewer exist" does not wait a minute.
  stack = await startStack({
    subgraphs: [createProductSubgraph({ deals: { shortListRetryMs: 0 } })],
    gateway: startGateway,
  });
  admin = adminToken(stack);
  sql = db(stack);
  await ensureCategory(stack, admin, 'audio');
  for (const price of IN_STOCK_PRICES)
    await createProduct(stack, admin, { price, stock: 3, name: `Deal candidate ${price}` });
  outOfStock = [];
  for (let i = 0; i < 3; i++)
    outOfStock.push((await createProduct(stack, admin, { price: 999, stock: 0, name: `Sold out ${i}` })).id);
  archived = (await createProduct(stack, admin, { price: 999, stock: 50, name: 'Archived' })).id;
  ok(await stack.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: archived }, admin));
});
afterAll(() => stack?.stop());

test('exactly the 10 in-stock products, distinct, 20 % off with half-up rounding; Product.deal matches', async () => {
  const before = Date.now();
  const deals = ok(await stack.gql(DEALS)).deals;
  expect(deals).toHaveLength(10);
  expect(new Set(deals.map((d: any) => d.product.id)).size).toBe(10);
  expect(deals.map((d: any) => d.product.price.amount).sort((a: number, b: number) => a - b)).toEqual(
    [...IN_STOCK_PRICES].sort((a, b) => a - b),
  );
  for (const d of deals) {
    expect(d.discountPercent).toBe(20);
    expect(d.product.inStock).toBe(true);
    expect(d.product.deal).toEqual({ discountPercent: 20 });
    expect(d.price.amount).toBe(expected20(d.product.price.amount));
    expect(d.price.currency).toBe('USD');
    expect(Date.parse(d.expiresAt)).toBeGreaterThanOrEqual(before + TTL_SECONDS * 1000 - 1000);
    expect(Date.parse(d.expiresAt)).toBeLessThanOrEqual(Date.now() + TTL_SECONDS * 1000);
  }
  const priceOf = new Map(deals.map((d: any) => [d.product.price.amount, d.price]));
  expect(priceOf.get(1999)).toEqual({ amount: 1599, currency: 'USD', formatted: '$15.99' });
  expect((priceOf.get(2) as any).amount).toBe(2);
  expect((priceOf.get(1) as any).amount).toBe(1);
  expect((priceOf.get(12) as any).amount).toBe(10);
  expect((priceOf.get(13) as any).amount).toBe(10);
  expect((priceOf.get(1998) as any).amount).toBe(1598);
  expect((priceOf.get(100_000_000) as any).amount).toBe(80_000_000);
  // Products that are not on the list have no deal.
  for (const id of [...outOfStock, archived]) {
    expect(
      ok(await stack.gql(`query($id: ID!) { product(id: $id) { deal { discountPercent } } }`, { id })).product.deal,
    ).toBeNull();
  }
});

test('the same list on repeated calls; cached in Redis with the configured TTL', async () => {
  const first = ids(await stack.gql(DEALS));
  const again = await Promise.all([1, 2, 3].map(() => stack.gql(DEALS)));
  for (const r of again) expect(ids(r)).toEqual(first);
  const pttl = await svc(stack).redis.pttl('deals:current');
  expect(pttl).toBeGreaterThan(TTL_SECONDS * 1000 - 60_000);
  expect(pttl).toBeLessThanOrEqual(TTL_SECONDS * 1000);
  expect(svc(stack).deals.generations).toBe(1);
});

test('after expiry, 50 concurrent requests across 5 instances regenerate exactly once and all see the same list', async () => {
  for (let i = 0; i < 8; i++) await createProduct(stack, admin, { price: 3000 + i, stock: 2, name: `Extra ${i}` });
  const s = svc(stack);
  // Four more instances of the deals service, each with its own Redis connection (as separate processes would have).
  const clients: Redis[] = [];
  const instances = [s.deals];
  for (let i = 0; i < 4; i++) {
    const redis = createRedis(stack.env.config);
    clients.push(redis);
    instances.push(new DealsService(redis, s.store, stack.env.config, stack.env.logger));
  }
  try {
    const generationsBefore = instances.reduce((n, d) => n + d.generations, 0);
    await s.redis.del('deals:current');
    const load = async (wanted: string[]) => {
      const byId = new Map((await s.store.productsByIds(wanted)).map((p) => [p.id, p]));
      return wanted.map((id) => byId.get(id) ?? null);
    };
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 5 === 0
          ? stack.gql(DEALS).then(ids)
          : instances[i % 5].current(load).then((c) => c.deals.map((d) => d.product.id)),
      ),
    );
    expect(instances.reduce((n, d) => n + d.generations, 0) - generationsBefore).toBe(1);
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0]).toHaveLength(10);
    expect(new Set(results[0]).size).toBe(10);
    const rows = await sql(`SELECT id, on_hand, archived_at FROM products WHERE id = ANY(?::uuid[])`, [
      `{${results[0].join(',')}}`,
    ]);
    expect(rows).toHaveLength(10);
    for (const r of rows) {
      expect(r.on_hand).toBeGreaterThan(0);
      expect(r.archived_at).toBeNull();
    }
  } finally {
    for (const c of clients) c.disconnect();
  }
});

test('a listed product that sells out or is archived is replaced; the rest of the list and its expiry stay', async () => {
  const before = ok(await stack.gql(DEALS)).deals;
  const soldOut = before[2].product;
  const removed = before[5].product;
  const topUps = svc(stack).deals.topUps;
  ok(await stack.gql(ADJUST, { id: soldOut.id, delta: -soldOut.stock, reason: 'Sold out' }, admin));
  ok(await stack.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: removed.id }, admin));

  const after = ok(await stack.gql(DEALS)).deals;
  const afterIds = after.map((d: any) => d.product.id);
  expect(afterIds).toHaveLength(10);
  expect(new Set(afterIds).size).toBe(10);
  expect(afterIds).not.toContain(soldOut.id);
  expect(afterIds).not.toContain(removed.id);
  const kept = before.map((d: any) => d.product.id).filter((id: string) => id !== soldOut.id && id !== removed.id);
  expect(afterIds.slice(0, 8)).toEqual(kept);
  for (const d of after) {
    expect(d.product.inStock).toBe(true);
    expect(d.expiresAt).toBe(before[0].expiresAt);
  }
  expect(svc(stack).deals.topUps).toBe(topUps + 1);
  expect(
    ok(await stack.gql(`query($id: ID!) { product(id: $id) { deal { discountPercent } } }`, { id: soldOut.id })).product
      .deal,
  ).toBeNull();
  // Stable again afterwards.
  expect(ids(await stack.gql(DEALS))).toEqual(afterIds);
  expect(svc(stack).deals.topUps).toBe(topUps + 1);
});

test('fewer in-stock products than DEALS_COUNT → all of them, and only them', async () => {
  await sql(`UPDATE products SET on_hand = 0`);
  await svc(stack).redis.del('deals:current');
  expect(ok(await stack.gql(DEALS)).deals).toEqual([]);
  const a = await createProduct(stack, admin, { price: 100, stock: 1, name: 'Last one A' });
  const b = await createProduct(stack, admin, { price: 200, stock: 1, name: 'Last one B' });
  // The short list is topped up on read once products come back in stock.
  expect(ids(await stack.gql(DEALS)).sort()).toEqual([a.id, b.id].sort());
});
