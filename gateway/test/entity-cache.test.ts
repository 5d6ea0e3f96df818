import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import type { EntityCache } from '../src/perf/entityCache';
import { createProductSubgraph } from '../../subgraphs/product/src';
import { createMediaSubgraph, StartedMedia } from '../../subgraphs/media/src';
import { seedProductImages } from '../../subgraphs/media/src/seed';
import { adminToken, createProduct, ensureCategory, ok, svc, userToken } from '../../subgraphs/product/test/helpers';
import { raceReadersAgainstPriceChanges } from './fixtures/price-race';
import { createCartSubgraph } from '../../subgraphs/cart/src';

/**
 * The gateway's entity cache for catalog data (product, media), which serves signed-in users too: what one user's
 * page fetched spares the subgraphs for the next user, per entity; an admin's change is never served stale once
 * answered; what an admin was shown never reaches a user.
 */
const sql = { product: 0, media: 0 };
const media = createMediaSubgraph({
  onQuery: (line: string) => {
    if (line.includes('[query]')) sql.media++;
  },
});

let stack: Stack;
let cache: EntityCache;
let admin: string;
const products: { id: string; name: string }[] = [];
const mediaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'entity-cache-'));

beforeAll(async () => {
  stack = await startStack({
    subgraphs: [
      createProductSubgraph({
        onQuery: (line) => {
          if (line.includes('[query]')) sql.product++;
        },
      }),
      media,
      createCartSubgraph(),
    ],
    gateway: async (deps) => {
      const gw = await startGateway({
        ...deps,
        perf: { entityCache: true, responseCache: false, responseCacheTtlSeconds: 300 },
      });
      cache = gw.entityCache!;
      return gw;
    },
    env: { MEDIA_DIR: mediaDir },
  });
  admin = adminToken(stack);
  await ensureCategory(stack, admin, 'lamps');
  for (let i = 0; i < 6; i++)
    products.push(
      await createProduct(stack, admin, { category: 'lamps', price: 1000 + i, stock: 4, name: `Lamp ${i}` }),
    );
  await seedProductImages((stack.services.media as StartedMedia).media, products);
  // The outbox relays' polling would add statements no request caused.
  await svc(stack).relay.stop();
  await (stack.services.media as StartedMedia).relay.stop();
});
afterAll(async () => {
  await stack?.stop();
  fs.rmSync(mediaDir, { recursive: true, force: true });
});

const ONE = `query One($id: ID!) { product(id: $id) { id name price { amount } images { id alt url } } }`;
const PAGE = `query Page($sort: ProductSort!) {
  products(first: 4, sort: $sort, filter: { category: "lamps", maxPrice: 1003 }) { edges { node { id name images { id alt } } } }
}`;
const names = (data: any, of: (n: any) => string) => data.products.edges.map((e: any) => of(e.node));

function counted<T>(fn: () => Promise<T>): Promise<{ result: T; product: number; media: number }> {
  const before = { ...sql };
  return fn().then((result) => ({ result, product: sql.product - before.product, media: sql.media - before.media }));
}

test('what one signed-in user fetched is served to the next without touching the subgraphs', async () => {
  const a = userToken(stack);
  const b = userToken(stack);
  const first = await counted(() => stack.gql(ONE, { id: products[0].id }, a));
  expect(ok(first.result).product.images[0].alt).toBe('Lamp 0');
  expect(first.media).toBeGreaterThan(0);
  const second = await counted(() => stack.gql(ONE, { id: products[0].id }, b));
  expect(ok(second.result)).toEqual(ok(first.result));
  expect([second.product, second.media]).toEqual([0, 0]);
});

test('entities are cached one by one: a page asks the subgraph only for those it has not seen, and keeps its order', async () => {
  const user = userToken(stack);
  // Lamp 2's images (the same selection as the page's) are now cached: another operation, the same entity.
  ok(await stack.gql(`query Other($id: ID!) { product(id: $id) { images { id alt } } }`, { id: products[2].id }, user));
  const hitsBefore = cache.stats.hits;
  const page = await counted(() => stack.gql(PAGE, { sort: 'PRICE_DESC' }, user));
  const data = ok(page.result);
  expect(cache.stats.hits).toBe(hitsBefore + 1);
  expect(names(data, (n) => n.name)).toEqual(['Lamp 3', 'Lamp 2', 'Lamp 1', 'Lamp 0']);
  // Every product has its own image (alt = its name): the cached ones and the fetched ones were put back in place.
  expect(names(data, (n) => n.images[0].alt)).toEqual(['Lamp 3', 'Lamp 2', 'Lamp 1', 'Lamp 0']);
  const hits = cache.stats.hits;
  // The same products in the other order, for another user: every image from the cache, no media SQL.
  const again = await counted(() => stack.gql(PAGE, { sort: 'PRICE_ASC' }, userToken(stack)));
  expect(names(ok(again.result), (n) => n.images[0].alt)).toEqual(['Lamp 0', 'Lamp 1', 'Lamp 2', 'Lamp 3']);
  expect(again.media).toBe(0);
  expect(cache.stats.hits).toBeGreaterThanOrEqual(hits + 4);
});

test('an admin change through the gateway is seen by the very next read of a signed-in user', async () => {
  const user = userToken(stack);
  const p = products[4];
  const before = ok(await stack.gql(ONE, { id: p.id }, user));
  ok(await stack.gql(ONE, { id: p.id }, user)); // now cached
  // Entity path (media): new alt text for the image.
  ok(
    await stack.gql(
      `mutation($p: ID!, $i: ID!) { attachProductImage(productId: $p, imageId: $i, alt: "Brass lamp") { id } }`,
      { p: p.id, i: before.product.images[0].id },
      admin,
    ),
  );
  // Root path (product): new price.
  ok(
    await stack.gql(
      `mutation($id: ID!) { updateProduct(id: $id, input: { price: 4321 }) { id } }`,
      { id: p.id },
      admin,
    ),
  );
  const after = ok(await stack.gql(ONE, { id: p.id }, user));
  expect(after.product.price.amount).toBe(4321);
  expect(after.product.images[0].alt).toBe('Brass lamp');
});

test('after a price change returns, no signed-in reader ever sees the old price — with readers running throughout', async () => {
  const p = products[5];
  const tokens = Array.from({ length: 6 }, () => userToken(stack));
  const hitsBefore = cache.stats.hits;
  const { stale, reads } = await raceReadersAgainstPriceChanges({
    readers: tokens.length,
    startPrice: 1005,
    prices: Array.from({ length: 8 }, (_, i) => 1105 + i * 100),
    read: async (i) => ok(await stack.gql(ONE, { id: p.id }, tokens[i])).product.price.amount,
    update: async (next) => {
      ok(
        await stack.gql(
          `mutation($id: ID!, $p: Int!) { updateProduct(id: $id, input: { price: $p }) { id } }`,
          { id: p.id, p: next },
          admin,
        ),
      );
    },
  });
  expect(stale).toEqual([]);
  expect(reads).toBeGreaterThan(40);
  // The readers really were served from the cache between the changes (otherwise this proves nothing).
  expect(cache.stats.hits - hitsBefore).toBeGreaterThan(10);
});

test('what an admin was shown is never served to a user; refusals are not cached', async () => {
  const HISTORY = `query H($id: ID!) { stockHistory(productId: $id) { edges { node { delta reason } } } }`;
  const id = products[1].id;
  const asAdmin = ok(await stack.gql(HISTORY, { id }, admin));
  expect(asAdmin.stockHistory.edges.length).toBeGreaterThan(0);
  ok(await stack.gql(HISTORY, { id }, admin)); // cached for admins
  const asUser = await stack.gql(HISTORY, { id }, userToken(stack));
  expect(asUser.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect(asUser.data?.stockHistory ?? null).toBeNull();
  const againUser = await stack.gql(HISTORY, { id }, userToken(stack));
  expect(againUser.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
});

test('the answer to a write is never from the cache: adding to a cart shows the stock it has just held', async () => {
  const user = userToken(stack);
  const p = products[3];
  const LINES = 'items { quantity product { id stock } }';
  const ADD = `mutation A($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { ${LINES} } }`;
  const cart = ok(await stack.gql(`mutation { createCart { id } }`, {}, user)).createCart;
  const first = ok(await stack.gql(ADD, { c: cart.id, p: p.id }, user)).addToCart.items[0].product.stock;
  // Reading the cart caches the product's entity with exactly the selection the mutation's answer asks for.
  ok(await stack.gql(`{ myCart { ${LINES} } }`, {}, user));
  const hits = cache.stats.hits;
  expect(ok(await stack.gql(`{ myCart { ${LINES} } }`, {}, user)).myCart.items[0].product.stock).toBe(first);
  expect(cache.stats.hits).toBeGreaterThan(hits); // it really was cached
  const second = ok(await stack.gql(ADD, { c: cart.id, p: p.id }, user)).addToCart;
  expect(second.items[0].quantity).toBe(2);
  expect(second.items[0].product.stock).toBe(first - 1);
});

test("a user's refused catalog mutations leave the cache alone: the next read is still served from it", async () => {
  const user = userToken(stack);
  const p = products[2];
  ok(await stack.gql(ONE, { id: p.id }, user));
  ok(await stack.gql(ONE, { id: p.id }, user)); // cached
  const refused = await Promise.all([
    stack.gql(
      `mutation($id: ID!) { adjustStock(productId: $id, delta: 50, reason: "mine") { id } }`,
      { id: p.id },
      user,
    ),
    stack.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { price: 1 }) { id } }`, { id: p.id }),
    stack.gql(`mutation { deleteImage(id: "00000000-0000-4000-8000-000000000000") }`, {}, user),
  ]);
  expect(refused.map((r) => r.errors?.[0]?.extensions?.code)).toEqual(['FORBIDDEN', 'UNAUTHENTICATED', 'FORBIDDEN']);
  const again = await counted(() => stack.gql(ONE, { id: p.id }, user));
  expect(ok(again.result).product.name).toBe(p.name);
  expect([again.product, again.media]).toEqual([0, 0]);
});

test('a live countdown reads the catalog afresh at every event: a rename made while it runs reaches its next events', async () => {
  const p = products[5];
  const cartId = ok(await stack.gql(`mutation { createCart { id } }`, {})).createCart.id;
  ok(
    await stack.gql(`mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { id } }`, {
      c: cartId,
      p: p.id,
    }),
  );
  const client = createClient({
    url: stack.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
  });
  const names: string[] = [];
  const it = client.iterate<{ cartTimer: { cart: { items: { product: { name: string } }[] } } }>({
    query: `subscription($c: ID!) { cartTimer(cartId: $c) { cart { items { product { name } } } } }`,
    variables: { c: cartId },
  });
  try {
    let renamed = false;
    for await (const r of it) {
      expect(r.errors).toBeUndefined();
      names.push(r.data!.cartTimer.cart.items[0].product.name);
      // Two events under the old name (the second from the entity cache), then the rename through the gateway.
      if (names.length === 2) {
        ok(
          await stack.gql(
            `mutation($id: ID!) { updateProduct(id: $id, input: { name: "Lamp renamed" }) { id } }`,
            { id: p.id },
            admin,
          ),
        );
        renamed = true;
      } else if (renamed) break; // the first event after the rename answered
    }
  } finally {
    await client.dispose();
  }
  // The entries of the old generation (cached for minutes here) are never served to the events after the write.
  expect(names).toEqual([p.name, p.name, 'Lamp renamed']);
}, 30_000);
