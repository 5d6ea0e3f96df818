import { randomUUID } from 'node:crypto';
import { createRedis, Redis, signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import type { CatalogCache } from '../src/perf/responseCache';
import { createProductSubgraph } from '../../subgraphs/product/src';
import mediaSubgraph from '../../subgraphs/media/src';
import { createCartSubgraph } from '../../subgraphs/cart/src';
import { adminToken, createProduct, ensureCategory, ok } from '../../subgraphs/product/test/helpers';
import { raceReadersAgainstPriceChanges } from './fixtures/price-race';

/**
 * The gateway's response cache for anonymous catalog queries: served without touching the subgraphs, never for a
 * signed-in user, and never stale once an admin's change has been answered — even with readers hammering the
 * same query while the change happens.
 */
const sql = { product: 0 };
let stack: Stack;
let cache: CatalogCache;
let admin: string;
let product: { id: string };

beforeAll(async () => {
  stack = await startStack({
    subgraphs: [
      createProductSubgraph({
        onQuery: (line) => {
          if (line.includes('[query]')) sql.product++;
        },
      }),
      mediaSubgraph,
      createCartSubgraph(),
    ],
    gateway: async (deps) => {
      const gw = await startGateway({ ...deps, perf: { responseCache: true, responseCacheTtlSeconds: 300 } });
      cache = gw.catalogCache!;
      return gw;
    },
  });
  admin = adminToken(stack);
  await ensureCategory(stack, admin, 'audio');
  product = await createProduct(stack, admin, { name: 'Cached speaker', price: 1000, stock: 3 });
});
afterAll(async () => {
  await stack?.stop();
});

const PRICE = `query Price($id: ID!) { product(id: $id) { id name price { amount formatted } images { url } } }`;
const PAGE = `{ products(first: 5) { edges { node { id name price { amount } } } } }`;

test('an anonymous catalog query is answered from the cache: no product SQL the second time', async () => {
  ok(await stack.gql(PAGE));
  const before = sql.product;
  const hits = cache.stats.hits;
  const again = ok(await stack.gql(PAGE));
  expect(again.products.edges.some((e: any) => e.node.id === product.id)).toBe(true);
  expect(sql.product).toBe(before);
  expect(cache.stats.hits).toBe(hits + 1);
});

test('variables are part of the key: another product is not answered with the cached one', async () => {
  const other = await createProduct(stack, admin, { name: 'Other speaker', price: 2500 });
  const a = ok(await stack.gql(PRICE, { id: product.id }));
  const b = ok(await stack.gql(PRICE, { id: other.id }));
  expect(a.product.name).toBe('Cached speaker');
  expect(b.product.name).toBe('Other speaker');
  expect(b.product.price.amount).toBe(2500);
});

test('a signed-in user is never served from (or stored in) the cache', async () => {
  const user = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'USER' });
  ok(await stack.gql(PAGE, {}, user));
  const { hits, misses, stored } = cache.stats;
  const before = sql.product;
  ok(await stack.gql(PAGE, {}, user));
  expect(cache.stats).toMatchObject({ hits, misses, stored });
  expect(sql.product).toBeGreaterThan(before);
});

test('queries that reach a non-catalog subgraph are not cached: each answer comes from the subgraphs', async () => {
  // A valid anonymous query over a guest cart (cart subgraph) and the catalog: the cart changes between two reads.
  const cartId = ok(await stack.gql(`mutation { createCart { id } }`)).createCart.id;
  const MIXED = `query Mixed($c: ID!) { cart(id: $c) { items { quantity } } products(first: 1) { edges { node { id } } } }`;
  const { stored, hits } = cache.stats;
  expect(ok(await stack.gql(MIXED, { c: cartId })).cart.items).toEqual([]);
  ok(
    await stack.gql(`mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 2) { id } }`, {
      c: cartId,
      p: product.id,
    }),
  );
  const before = sql.product;
  const again = ok(await stack.gql(MIXED, { c: cartId }));
  expect(again.cart.items).toEqual([{ quantity: 2 }]);
  expect(again.products.edges).toHaveLength(1);
  expect(sql.product).toBeGreaterThan(before); // its catalog part was read again too
  expect(cache.stats).toMatchObject({ stored, hits });
});

test('after an admin price change returns, no reader ever sees the old price — with readers running throughout', async () => {
  ok(await stack.gql(PRICE, { id: product.id })); // cached
  const hitsBefore = cache.stats.hits;
  const { stale, reads } = await raceReadersAgainstPriceChanges({
    readers: 8,
    startPrice: 1000,
    prices: Array.from({ length: 10 }, (_, i) => 1100 + i * 100),
    read: async () => ok(await stack.gql(PRICE, { id: product.id })).product.price.amount,
    update: async (next) => {
      const res = ok(
        await stack.gql(
          `mutation($id: ID!, $p: Int!) { updateProduct(id: $id, input: { price: $p }) { price { amount } } }`,
          { id: product.id, p: next },
          admin,
        ),
      );
      expect(res.updateProduct.price.amount).toBe(next);
    },
  });
  expect(stale).toEqual([]);
  expect(reads).toBeGreaterThan(50);
  // The readers were really served from the cache between the changes (otherwise this proves nothing).
  expect(cache.stats.hits - hitsBefore).toBeGreaterThan(10);
  const last = ok(await stack.gql(PRICE, { id: product.id }));
  expect(last.product.price.amount).toBe(2000);
});

test('a failed admin mutation still closes its write lease: caching resumes', async () => {
  const res = await stack.gql(
    `mutation($id: ID!) { updateProduct(id: $id, input: { price: -5 }) { id } }`,
    { id: product.id },
    admin,
  );
  expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  ok(await stack.gql(PRICE, { id: product.id }));
  const hits = cache.stats.hits;
  ok(await stack.gql(PRICE, { id: product.id }));
  expect(cache.stats.hits).toBe(hits + 1);
});

describe('refused catalog mutations from anonymous callers and users do not touch the caches', () => {
  // Every catalog mutation (ADMIN only in CONTRACT.md), as a caller who may not make it.
  const WRITES: [string, string, (id: string) => Record<string, unknown>][] = [
    [
      'createProduct',
      `mutation { createProduct(input: { sku: "SPAM-1", name: "Spam", description: "x", price: 100, category: "audio", stock: 1 }) { id } }`,
      () => ({}),
    ],
    ['updateProduct', `mutation($id: ID!) { updateProduct(id: $id, input: { price: 1 }) { id } }`, (id) => ({ id })],
    ['deleteProduct', `mutation($id: ID!) { deleteProduct(id: $id) }`, (id) => ({ id })],
    [
      'adjustStock',
      `mutation($id: ID!) { adjustStock(productId: $id, delta: -1, reason: "spam") { id } }`,
      (id) => ({ id }),
    ],
    ['createCategory', `mutation { createCategory(name: "Spam", slug: "spam") { slug } }`, () => ({})],
    [
      'createImageUpload',
      `mutation { createImageUpload(contentType: "image/png", filename: "a.png") { imageId } }`,
      () => ({}),
    ],
    ['deleteImage', `mutation { deleteImage(id: "00000000-0000-4000-8000-000000000000") }`, () => ({})],
    [
      'aliased, two at once',
      `mutation($id: ID!) { a: adjustStock(productId: $id, delta: 5, reason: "x") { id } b: deleteProduct(id: $id) }`,
      (id) => ({ id }),
    ],
  ];
  let redis: Redis;
  beforeAll(() => {
    redis = createRedis(stack.env.config);
  });
  afterAll(() => redis?.disconnect());
  const generation = () => redis.get('gateway:catalog:generation');
  const openLeases = () => redis.zcount('gateway:catalog:writes', Date.now(), '+inf');

  test.each([
    ['anonymous', undefined, 'UNAUTHENTICATED'],
    ['USER', () => signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'USER' }), 'FORBIDDEN'],
  ] as const)(
    '%s: refused, no write lease, no new generation, and the cached read is still a hit',
    async (_who, token, code) => {
      ok(await stack.gql(PRICE, { id: product.id })); // cached
      const before = await generation();
      const hits = cache.stats.hits;
      let maxLeases = 0;
      let sending = true;
      // Watch Redis while the refused mutations are in flight: not one lease may be opened.
      const watcher = (async () => {
        while (sending) maxLeases = Math.max(maxLeases, await openLeases());
      })();
      const answers = await Promise.all(
        Array.from({ length: 4 }, () => WRITES.map(([, q, vars]) => stack.gql(q, vars(product.id), token?.()))).flat(),
      );
      sending = false;
      await watcher;
      for (const [i, res] of answers.entries()) {
        const [name] = WRITES[i % WRITES.length];
        expect({ name, code: res.errors?.[0]?.extensions?.code }).toEqual({ name, code });
        expect({ name, data: res.data ?? null }).toEqual({ name, data: null });
      }
      expect(maxLeases).toBe(0);
      expect(await openLeases()).toBe(0);
      expect(await generation()).toBe(before);
      const again = ok(await stack.gql(PRICE, { id: product.id }));
      expect(again.product.price.amount).toBeGreaterThan(0);
      expect(cache.stats.hits).toBe(hits + 1);
    },
  );

  test("an admin's catalog mutation still takes the lease and bumps the generation", async () => {
    const before = Number(await generation());
    ok(
      await stack.gql(
        `mutation($id: ID!) { adjustStock(productId: $id, delta: 1, reason: "restock") { id } }`,
        { id: product.id },
        admin,
      ),
    );
    expect(Number(await generation())).toBe(before + 2);
    expect(await openLeases()).toBe(0);
  });
});

describe('one Redis read of the generation per batch of requests that arrive together', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = createRedis(stack.env.config);
  });
  afterAll(() => redis?.disconnect());

  test('calls made in the same turn share one read; a call made after a change has completed sees the change', async () => {
    const reads = cache.generationReads;
    const together = await Promise.all(Array.from({ length: 10 }, () => cache.generation()));
    expect(cache.generationReads).toBe(reads + 1);
    expect(new Set(together).size).toBe(1);

    // A read already sent is never joined: the change below completes before the next call, which must see it.
    const inFlight = cache.generation();
    await new Promise((r) => setImmediate(r)); // the read above is sent now
    await redis.incr('gateway:catalog:generation'); // a catalog write answered through another gateway
    const after = await cache.generation();
    expect(after).toBe(await redis.get('gateway:catalog:generation'));
    expect(cache.generationReads).toBe(reads + 3);
    await inFlight;
  });
});
