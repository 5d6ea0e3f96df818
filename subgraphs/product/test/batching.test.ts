import { randomUUID } from 'node:crypto';
import { Bus } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import { createProductSubgraph } from '../src';
import { adminToken, createProduct, ensureCategory, ok, subgraphGql, svc } from './helpers';
import { failure, inSeconds, stockCommands } from './stock-commands';

/** Every SQL statement the product subgraph sends (MikroORM logs each as one `[query] …` line). */
let statements: string[] = [];
let counting = false;
const onQuery = (line: string) => {
  if (counting && line.includes('[query]')) statements.push(line);
};

let stack: Stack;
const productIds: string[] = [];

async function count<T>(fn: () => Promise<T>): Promise<{ result: T; sql: string[] }> {
  statements = [];
  counting = true;
  try {
    const result = await fn();
    return { result, sql: statements };
  } finally {
    counting = false;
  }
}

beforeAll(async () => {
  stack = await startStack({ subgraphs: [createProductSubgraph({ onQuery })], gateway: startGateway });
  const admin = adminToken(stack);
  for (const c of ['audio', 'computers', 'books']) await ensureCategory(stack, admin, c);
  for (let i = 0; i < 60; i++) {
    const p = await createProduct(stack, admin, {
      category: ['audio', 'computers', 'books'][i % 3],
      price: 1000 + i,
      stock: i % 7,
      name: `Batch item ${i}`,
    });
    productIds.push(p.id);
  }
  // Let the outbox relay publish, then stop it: its polling would add statements that no request caused.
  await svc(stack).relay.flush();
  await svc(stack).relay.stop();
  // Deals are generated once a day; generate them now so the measured requests see the steady state.
  ok(await stack.gql(`{ deals { discountPercent } }`));
});
afterAll(() => stack?.stop());

const LIST_50 = `{ products(first: 50) { edges { node {
  id name price { formatted } category { name productCount } deal { price { amount } } stock } } } }`;

test('50 products with category, productCount, deal and stock through the gateway: a constant number of statements', async () => {
  const { result, sql } = await count(() => stack.gql(LIST_50));
  const edges = ok(result).products.edges;
  expect(edges).toHaveLength(50);
  expect(edges.filter((e: any) => e.node.deal).length).toBeGreaterThan(0);
  expect(edges.every((e: any) => e.node.category.productCount === 20)).toBe(true);
  // page + categories + product counts + the listed deal products not on this page
  expect(sql.length).toBeGreaterThanOrEqual(3);
  expect(sql.length).toBeLessThanOrEqual(4);

  // Independent of the page size: 5 products cost the same bound as 50 (the deal fetch is skipped only when every
  // deal product happens to be on the page).
  const small = await count(() => stack.gql(LIST_50.replace('first: 50', 'first: 5')));
  expect(ok(small.result).products.edges).toHaveLength(5);
  expect(small.sql.length).toBeGreaterThanOrEqual(3);
  expect(small.sql.length).toBeLessThanOrEqual(4);
});

test('Product.deal reads Redis once per request, however many products ask', async () => {
  const get = jest.spyOn(svc(stack).redis, 'get');
  try {
    ok(await stack.gql(LIST_50));
    expect(get.mock.calls.filter(([key]) => String(key).includes('deals:current'))).toHaveLength(1);
  } finally {
    get.mockRestore();
  }
});

test('50 entity references (_entities) resolve in ONE statement', async () => {
  const representations = productIds.slice(0, 50).map((id) => ({ __typename: 'Product', id }));
  const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name price { amount } stock inStock } } }`;
  const { result, sql } = await count(() => subgraphGql(stack, query, { r: representations }));
  const entities = ok(result)._entities;
  expect(entities.map((e: any) => e.id)).toEqual(productIds.slice(0, 50));
  expect(sql).toHaveLength(1);
  // One prepared statement with the 50 ids as one list parameter.
  expect(sql[0]).toMatch(/EXECUTE pp_\w+\('\{[^']*\}'\)/);
  expect(sql[0].match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g)).toHaveLength(50);
});

test('references to unknown, malformed and upper-case ids: null for the unknown ones, still one statement', async () => {
  const representations = [
    { __typename: 'Product', id: productIds[0].toUpperCase() },
    { __typename: 'Product', id: '00000000-0000-4000-8000-000000000000' },
    { __typename: 'Product', id: "x'); DROP TABLE products; --" },
    { __typename: 'Product', id: productIds[1] },
  ];
  const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }`;
  const { result, sql } = await count(() => subgraphGql(stack, query, { r: representations }));
  expect(ok(result)._entities).toEqual([{ id: productIds[0] }, null, null, { id: productIds[1] }]);
  expect(sql).toHaveLength(1);
});

test('category references and their product counts: one statement each, whatever the number', async () => {
  const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Category { slug name productCount } } }`;
  const r = ['audio', 'computers', 'books', 'nope'].map((slug) => ({ __typename: 'Category', slug }));
  const { result, sql } = await count(() => subgraphGql(stack, query, { r }));
  expect(ok(result)._entities).toEqual([
    { slug: 'audio', name: 'Audio', productCount: 20 },
    { slug: 'computers', name: 'Computers', productCount: 20 },
    { slug: 'books', name: 'Books', productCount: 20 },
    null,
  ]);
  expect(sql).toHaveLength(2);
});

test('categories with productCount: one statement', async () => {
  const { result, sql } = await count(() => stack.gql(`{ categories { slug name productCount } }`));
  expect(ok(result).categories).toHaveLength(3);
  expect(sql).toHaveLength(1);
});

test('totalCount and facets cost a statement only when selected, and one between them', async () => {
  const page = `edges { node { id } }`;
  const run = async (selection: string) =>
    (await count(() => stack.gql(`{ products(first: 5) { ${selection} } }`))).sql.length;
  expect(await run(page)).toBe(1);
  expect(await run(`${page} totalCount`)).toBe(2);
  expect(await run(`${page} facets { categories { slug count } }`)).toBe(2);
  expect(await run(`${page} total: totalCount facets { categories { slug count } }`)).toBe(2);
  const both = ok(
    await stack.gql(
      `{ products(first: 5, filter: { category: "books" }) { totalCount facets { categories { slug count } } } }`,
    ),
  ).products;
  expect(both.totalCount).toBe(20);
  expect(both.facets.categories.map((c: any) => c.count)).toEqual([20, 20, 20]);
});

test('product.commit (a checkout selling two held products): one round trip, a refusal too (it writes nothing)', async () => {
  const bus = await Bus.connect(stack.env.config, stack.env.logger, 'test-order');
  try {
    const cmd = stockCommands(bus);
    const cartId = `cart-${randomUUID()}`;
    const [a, b] = [productIds[1], productIds[2]]; // 1 and 2 on hand
    await cmd.hold({ cartId, productId: a, quantity: 1, expiresAt: inSeconds(600) });
    await cmd.hold({ cartId, productId: b, quantity: 1, expiresAt: inSeconds(600) });
    const lines = [
      { productId: a, quantity: 1 },
      { productId: b, quantity: 1 },
    ];
    const sold = await count(() => cmd.commit({ orderId: `order-${randomUUID()}`, cartId, lines }));
    expect(sold.result).toEqual({ committed: true });
    // BEGIN + order lock + already-committed check with the product locks + the decision and the sale + COMMIT, each
    // a prepared statement (PREPAREd first when the connection has not run it yet). Before: two round trips, the
    // products locked across the one between them.
    expect(sold.sql).toHaveLength(1);
    expect(sold.sql[0]).toMatch(
      /BEGIN;SET LOCAL plan_cache_mode = force_generic_plan;EXECUTE pp_\w+\('stock_commit:order-[^;]*\);EXECUTE pp_\w+\([^;]*\);EXECUTE pp_\w+\(.*;COMMIT/s,
    );

    const refused = await count(() =>
      failure(cmd.commit({ orderId: `order-${randomUUID()}`, cartId, lines: [{ productId: a, quantity: 5 }] })),
    );
    expect(refused.result.code).toBe('INSUFFICIENT_STOCK');
    expect(refused.result.extensions).toMatchObject({ productId: a, available: 0 });
    expect(refused.sql).toHaveLength(1);
  } finally {
    await bus.close();
  }
});

test('product.hold (a cart adding a product while it holds another): the snapshot, then one round trip; a hopeless one: the snapshot alone', async () => {
  const bus = await Bus.connect(stack.env.config, stack.env.logger, 'test-cart');
  try {
    const cmd = stockCommands(bus);
    const cartId = `cart-${randomUUID()}`;
    const [a, b] = [productIds[3], productIds[4]]; // 3 and 4 on hand
    await cmd.hold({ cartId, productId: a, quantity: 1, expiresAt: inSeconds(600) });
    const held = await count(() => cmd.hold({ cartId, productId: b, quantity: 2, expiresAt: inSeconds(700) }));
    expect(held.result).toMatchObject({ productId: b, quantity: 2, available: 2 });
    // The unlocked snapshot; then BEGIN + the locks of b and of a (the cart's) + the decision with the hold written
    // and a's deadline moved + COMMIT. Before: nine round trips, then three (the locks held across the middle one).
    expect(held.sql).toHaveLength(2);
    expect(held.sql[1]).toMatch(
      /BEGIN;SET LOCAL plan_cache_mode = force_generic_plan;EXECUTE pp_\w+\([^;]*\);EXECUTE pp_\w+\(.*;COMMIT/s,
    );

    const refused = await count(() =>
      failure(cmd.hold({ cartId, productId: b, quantity: 9, expiresAt: inSeconds(700) })),
    );
    expect(refused.result.code).toBe('INSUFFICIENT_STOCK');
    expect(refused.sql).toHaveLength(1);
  } finally {
    await bus.close();
  }
});

test('product.get with the deal list in Redis: the asked products and the listed ones in ONE statement', async () => {
  const bus = await Bus.connect(stack.env.config, stack.env.logger, 'test-cart');
  try {
    const cmd = stockCommands(bus);
    const ids = [productIds[5], productIds[6], randomUUID()];
    await cmd.get({ ids }); // the first call may generate the list
    const got = await count(() => cmd.get({ ids }));
    expect(got.result.map((p: { id: string }) => p.id)).toEqual(ids.slice(0, 2));
    // Before: one statement for the asked products and one for the deal list's.
    expect(got.sql).toHaveLength(1);
  } finally {
    await bus.close();
  }
});
