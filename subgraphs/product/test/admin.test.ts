import { randomUUID } from 'node:crypto';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../src';
import {
  adminToken,
  codes,
  CREATE_CATEGORY,
  CREATE_PRODUCT,
  createProduct,
  db,
  ensureCategory,
  fields,
  ok,
  PRODUCT_FIELDS,
  uniqueSku,
  userToken,
} from './helpers';

let stack: Stack;
let admin: string;
const ADMIN_ID = randomUUID();
let sql: ReturnType<typeof db>;

beforeAll(async () => {
  stack = await startStack({ subgraphs: [productSubgraph], gateway: startGateway });
  admin = adminToken(stack, ADMIN_ID);
  sql = db(stack);
  await ensureCategory(stack, admin, 'audio');
  await ensureCategory(stack, admin, 'books');
});
afterAll(() => stack?.stop());

const validInput = (over: Record<string, unknown> = {}) => ({
  sku: uniqueSku(),
  name: 'Studio Headphones',
  description: 'Closed-back.\nGreat for mixing.',
  category: 'audio',
  price: 12999,
  stock: 7,
  ...over,
});
const UPDATE = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { ${PRODUCT_FIELDS} } }`;
const DELETE = `mutation($id: ID!) { deleteProduct(id: $id) }`;
const PRODUCT = `query($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`;
const HISTORY = `query($id: ID!) { stockHistory(productId: $id) { edges { node { delta reason resultingStock actorId } } totalCount } }`;

async function outbox(subject: string, productId: string) {
  return sql(
    `SELECT payload, published_at FROM outbox WHERE subject = ? AND payload->'data'->>'productId' = ? ORDER BY created_at`,
    [subject, productId],
  );
}

describe('categories', () => {
  test('createCategory validates the slug and name; duplicates are BAD_USER_INPUT on slug', async () => {
    const created = await stack.gql(CREATE_CATEGORY, { slug: 'home-audio', name: '  Home audio ' }, admin);
    expect(ok(created).createCategory).toEqual({ slug: 'home-audio', name: 'Home audio', productCount: 0 });
    const dup = await stack.gql(CREATE_CATEGORY, { slug: 'home-audio', name: 'Again' }, admin);
    expect(codes(dup)).toEqual(['BAD_USER_INPUT']);
    expect(fields(dup)).toEqual(['slug']);
    for (const slug of ['Home Audio', '', 'a--b', '-a', 'x'.repeat(65), "a'; DROP TABLE categories;--"]) {
      const res = await stack.gql(CREATE_CATEGORY, { slug, name: 'Name' }, admin);
      expect({ slug, codes: codes(res), fields: fields(res) }).toEqual({
        slug,
        codes: ['BAD_USER_INPUT'],
        fields: ['slug'],
      });
    }
    for (const name of ['', '   ', 'n'.repeat(101), 'bad\u0000name']) {
      const res = await stack.gql(CREATE_CATEGORY, { slug: 'fine-slug', name }, admin);
      expect(fields(res)).toEqual(['name']);
    }
    const list = ok(await stack.gql(`{ categories { slug name productCount } }`)).categories;
    expect(list.map((c: { slug: string }) => c.slug)).toEqual(['audio', 'books', 'home-audio']);
  });
});

describe('createProduct', () => {
  test('creates the product, records the opening stock as a movement and announces it', async () => {
    const input = validInput({ currency: 'eur' });
    const p = ok(await stack.gql(CREATE_PRODUCT, { input }, admin)).createProduct;
    expect(p).toMatchObject({
      sku: input.sku,
      name: 'Studio Headphones',
      description: 'Closed-back.\nGreat for mixing.',
      category: { slug: 'audio', name: 'Audio' },
      price: { amount: 12999, currency: 'EUR', formatted: '€129.99' },
      stock: 7,
      inStock: true,
      archivedAt: null,
    });
    expect(p.createdAt).toBe(p.updatedAt);
    const history = ok(await stack.gql(HISTORY, { id: p.id }, admin)).stockHistory;
    expect(history).toEqual({
      edges: [{ node: { delta: 7, reason: 'Initial stock', resultingStock: 7, actorId: ADMIN_ID } }],
      totalCount: 1,
    });
    const [event] = await outbox('product.created', p.id);
    expect(event.payload).toMatchObject({
      v: 1,
      type: 'product.created',
      data: {
        productId: p.id,
        sku: input.sku,
        name: 'Studio Headphones',
        category: 'audio',
        priceAmount: 12999,
        currency: 'EUR',
        onHand: 7,
        actorId: ADMIN_ID,
      },
    });
  });

  test('currency defaults to USD; the outbox relay publishes the event', async () => {
    const p = await createProduct(stack, admin, { price: 500, stock: 0 });
    const full = ok(await stack.gql(PRODUCT, { id: p.id })).product;
    expect(full.price).toEqual({ amount: 500, currency: 'USD', formatted: '$5.00' });
    expect(full).toMatchObject({ stock: 0, inStock: false });
    const deadline = Date.now() + 10_000;
    while ((await outbox('product.created', p.id))[0]?.published_at == null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect((await outbox('product.created', p.id))[0].published_at).not.toBeNull();
  });

  test.each([
    ['sku', 'empty', { sku: '' }],
    ['sku', 'blank', { sku: '   ' }],
    ['sku', '65 characters', { sku: 'S'.repeat(65) }],
    ['sku', 'a space', { sku: 'has space' }],
    ['sku', 'non-ASCII', { sku: 'ümlaut' }],
    ['sku', 'SQL', { sku: "x'; DROP TABLE products;--" }],
    ['name', 'empty', { name: '' }],
    ['name', 'blank', { name: '   ' }],
    ['name', '201 characters', { name: 'n'.repeat(201) }],
    ['name', 'NUL byte', { name: 'null\u0000byte' }],
    ['description', '5001 characters', { description: 'd'.repeat(5001) }],
    ['description', 'control character', { description: 'bell\u0007' }],
    ['category', 'unknown', { category: 'no-such-category' }],
    ['category', 'SQL', { category: "audio' OR '1'='1" }],
    ['price', '0', { price: 0 }],
    ['price', 'negative', { price: -100 }],
    ['price', 'over 100000000', { price: 100_000_001 }],
    ['currency', 'unsupported', { currency: 'XYZ' }],
    ['currency', 'empty', { currency: '' }],
    ['stock', 'negative', { stock: -1 }],
  ] as [string, string, Record<string, unknown>][])(
    'invalid %s (%s) → BAD_USER_INPUT naming the field, nothing stored',
    async (field, _label, over) => {
      const input = validInput(over);
      const res = await stack.gql(CREATE_PRODUCT, { input }, admin);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(fields(res)).toEqual([field]);
      expect(await sql(`SELECT 1 FROM products WHERE sku = ?`, [String(input.sku)])).toHaveLength(0);
    },
  );

  test('limits are inclusive: 64-char sku, 200-char name, 5000-char description, price 100000000, unicode kept', async () => {
    const sku = `A.b_c-${'9'.repeat(58)}`;
    const p = await createProduct(stack, admin, {
      sku,
      name: `Café ☕ ${'n'.repeat(193)}`,
      description: 'd'.repeat(5000),
      price: 100_000_000,
      stock: 0,
    });
    expect(p.sku).toBe(sku);
    expect([...p.name]).toHaveLength(200);
    expect(p.price.amount).toBe(100_000_000);
  });

  test('text that looks like SQL is stored verbatim', async () => {
    const name = `Robert'); DROP TABLE products;-- \\ % _ ? ?? $1`;
    const p = await createProduct(stack, admin, { name });
    expect(ok(await stack.gql(PRODUCT, { id: p.id })).product.name).toBe(name);
  });

  test('duplicate sku → BAD_USER_INPUT on sku', async () => {
    const input = validInput();
    ok(await stack.gql(CREATE_PRODUCT, { input }, admin));
    const again = await stack.gql(CREATE_PRODUCT, { input: { ...input, name: 'Other' } }, admin);
    expect(codes(again)).toEqual(['BAD_USER_INPUT']);
    expect(fields(again)).toEqual(['sku']);
  });

  test('the same sku created concurrently → one product, the others BAD_USER_INPUT on sku (never a 500)', async () => {
    const input = validInput();
    const results = await Promise.all([1, 2, 3, 4].map(() => stack.gql(CREATE_PRODUCT, { input }, admin)));
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    const failures = results.filter((r) => r.errors);
    expect(failures.map(codes)).toEqual([['BAD_USER_INPUT'], ['BAD_USER_INPUT'], ['BAD_USER_INPUT']]);
    expect(failures.map(fields)).toEqual([['sku'], ['sku'], ['sku']]);
    expect(await sql(`SELECT id FROM products WHERE sku = ?`, [input.sku])).toHaveLength(1);
    const [{ n }] = await sql(
      `SELECT count(*)::int AS n FROM outbox WHERE subject = 'product.created' AND payload->'data'->>'sku' = ?`,
      [input.sku],
    );
    expect(n).toBe(1);
  });
});

describe('updateProduct', () => {
  test('changes only the given fields, bumps updatedAt and announces what changed', async () => {
    const p = await createProduct(stack, admin, { name: 'Old name', price: 1000 });
    await new Promise((r) => setTimeout(r, 5));
    const res = await stack.gql(
      UPDATE,
      { id: p.id, input: { name: ' New name ', price: 1500, description: null } },
      admin,
    );
    const u = ok(res).updateProduct;
    expect(u).toMatchObject({
      name: 'New name',
      price: { amount: 1500 },
      description: 'A product for tests.',
      category: { slug: 'audio' },
      stock: 5,
    });
    expect(Date.parse(u.updatedAt)).toBeGreaterThan(Date.parse(p.createdAt));
    const moved = ok(await stack.gql(UPDATE, { id: p.id, input: { category: 'books' } }, admin)).updateProduct;
    expect(moved.category).toMatchObject({ slug: 'books', name: 'Books' });
    const events = await outbox('product.updated', p.id);
    expect(events.map((e: any) => e.payload.data.changed)).toEqual([['name', 'price'], ['category']]);
    expect(events[0].payload.data).toMatchObject({
      productId: p.id,
      name: 'New name',
      priceAmount: 1500,
      category: 'audio',
      actorId: ADMIN_ID,
    });
  });

  test('a no-op update changes nothing and announces nothing', async () => {
    const p = await createProduct(stack, admin, { name: 'Same' });
    const u = ok(await stack.gql(UPDATE, { id: p.id, input: { name: 'Same' } }, admin)).updateProduct;
    expect(u.updatedAt).toBe(p.createdAt);
    expect(await outbox('product.updated', p.id)).toHaveLength(0);
  });

  test('validation names the field; unknown or malformed id → NOT_FOUND', async () => {
    const p = await createProduct(stack, admin);
    for (const [field, input] of [
      ['name', { name: '' }],
      ['description', { description: 'x'.repeat(5001) }],
      ['category', { category: 'nope' }],
      ['price', { price: 0 }],
    ] as const) {
      const res = await stack.gql(UPDATE, { id: p.id, input }, admin);
      expect({ field, codes: codes(res), fields: fields(res) }).toEqual({
        field,
        codes: ['BAD_USER_INPUT'],
        fields: [field],
      });
    }
    expect(codes(await stack.gql(UPDATE, { id: randomUUID(), input: { name: 'x' } }, admin))).toEqual(['NOT_FOUND']);
    expect(codes(await stack.gql(UPDATE, { id: 'not-a-uuid', input: { name: 'x' } }, admin))).toEqual(['NOT_FOUND']);
  });
});

describe('deleteProduct (archive)', () => {
  test('archived products leave lists, search, facets and counts but still resolve by id', async () => {
    await ensureCategory(stack, admin, 'archive-test');
    const keep = await createProduct(stack, admin, { category: 'archive-test', name: 'Keeper Zanzibar Lamp' });
    const gone = await createProduct(stack, admin, { category: 'archive-test', name: 'Doomed Zanzibar Lamp' });
    const LIST = `query($f: ProductFilter) { products(first: 100, filter: $f) { edges { node { id } } totalCount facets { categories { slug count } } } }`;
    const before = ok(await stack.gql(LIST, { f: { category: 'archive-test' } })).products;
    expect(before.totalCount).toBe(2);

    expect(ok(await stack.gql(DELETE, { id: gone.id }, admin))).toEqual({ deleteProduct: true });

    const byCategory = ok(await stack.gql(LIST, { f: { category: 'archive-test' } })).products;
    expect(byCategory.edges.map((e: any) => e.node.id)).toEqual([keep.id]);
    expect(byCategory.totalCount).toBe(1);
    expect(byCategory.facets.categories.find((c: any) => c.slug === 'archive-test').count).toBe(1);
    const search = ok(await stack.gql(LIST, { f: { search: 'zanzibar' } })).products;
    expect(search.edges.map((e: any) => e.node.id)).toEqual([keep.id]);
    const all = ok(await stack.gql(`{ products(first: 100) { edges { node { id } } } }`)).products;
    expect(all.edges.map((e: any) => e.node.id)).not.toContain(gone.id);
    const cats = ok(await stack.gql(`{ categories { slug productCount } }`)).categories;
    expect(cats.find((c: any) => c.slug === 'archive-test').productCount).toBe(1);

    const archived = ok(await stack.gql(PRODUCT, { id: gone.id })).product;
    expect(archived).toMatchObject({
      id: gone.id,
      name: 'Doomed Zanzibar Lamp',
      category: { slug: 'archive-test', productCount: 1 },
    });
    expect(Date.parse(archived.archivedAt)).toBeGreaterThan(0);

    // Idempotent: a second delete is still true and announces nothing new.
    expect(ok(await stack.gql(DELETE, { id: gone.id }, admin))).toEqual({ deleteProduct: true });
    const events = await outbox('product.archived', gone.id);
    expect(events).toHaveLength(1);
    expect(events[0].payload.data).toEqual({ productId: gone.id, sku: gone.sku, actorId: ADMIN_ID });
  });

  test('unknown id → NOT_FOUND for the mutation, null for product(id)', async () => {
    const id = randomUUID();
    expect(codes(await stack.gql(DELETE, { id }, admin))).toEqual(['NOT_FOUND']);
    expect(codes(await stack.gql(DELETE, { id: 'garbage' }, admin))).toEqual(['NOT_FOUND']);
    expect(ok(await stack.gql(PRODUCT, { id }))).toEqual({ product: null });
    expect(ok(await stack.gql(PRODUCT, { id: "x' OR 1=1 --" }))).toEqual({ product: null });
  });
});

describe('authorization', () => {
  // A real product: a refused mutation on it must leave its row, its stock history and the outbox as they were (an
  // unknown id could not show that — there is nothing there to change).
  let target: { id: string };
  beforeAll(async () => {
    target = await createProduct(stack, admin, { name: 'Guarded Lamp', price: 4200, stock: 6 });
  });
  const operations: [string, string, (id: string) => Record<string, unknown>][] = [
    [
      'createProduct',
      CREATE_PRODUCT,
      () => ({ input: { sku: 'AUTH-1', name: 'n', description: '', category: 'audio', price: 1, stock: 1 } }),
    ],
    ['updateProduct', UPDATE, (id) => ({ id, input: { name: 'x', price: 1 } })],
    ['deleteProduct', DELETE, (id) => ({ id })],
    [
      'adjustStock',
      `mutation($id: ID!) { adjustStock(productId: $id, delta: -5, reason: "r") { id } }`,
      (id) => ({ id }),
    ],
    ['createCategory', CREATE_CATEGORY, () => ({ slug: 'auth-cat', name: 'Auth' })],
    ['stockHistory', `query($id: ID!) { stockHistory(productId: $id) { totalCount } }`, (id) => ({ id })],
  ];

  /** Everything a refused mutation could have changed. */
  async function state() {
    return {
      product: (await sql(`SELECT to_jsonb(p) AS row FROM products p WHERE id = ?`, [target.id]))[0]?.row,
      movements: await sql(`SELECT id, delta, reason FROM stock_movements WHERE product_id = ? ORDER BY seq`, [
        target.id,
      ]),
      products: (await sql(`SELECT count(*)::int AS n FROM products`))[0].n,
      categories: await sql(`SELECT slug, name FROM categories ORDER BY slug`),
      outbox: (await sql(`SELECT count(*)::int AS n FROM outbox`))[0].n,
    };
  }

  test.each(operations)(
    '%s: anonymous → UNAUTHENTICATED, USER → FORBIDDEN, nothing changes',
    async (_name, query, variables) => {
      const before = await state();
      expect(before.product).toMatchObject({ name: 'Guarded Lamp', price_amount: 4200, on_hand: 6, archived_at: null });
      expect(codes(await stack.gql(query, variables(target.id)))).toEqual(['UNAUTHENTICATED']);
      expect(codes(await stack.gql(query, variables(target.id), userToken(stack)))).toEqual(['FORBIDDEN']);
      expect(await state()).toEqual(before);
      expect(await sql(`SELECT 1 FROM products WHERE sku = 'AUTH-1'`)).toHaveLength(0);
      expect(await sql(`SELECT 1 FROM categories WHERE slug = 'auth-cat'`)).toHaveLength(0);
    },
  );

  test('reads are public', async () => {
    const res = await stack.gql(
      `{ products(first: 1) { edges { node { id } } } categories { slug } deals { discountPercent } }`,
    );
    expect(res.errors).toBeUndefined();
  });
});
