import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../src';
import { adminToken, codes, createProduct, db, ensureCategory, fields, ok } from './helpers';

let stack: Stack;
let admin: string;
let sql: ReturnType<typeof db>;

// name, category, price, stock, description
const CATALOG: [string, string, number, number, string][] = [
  ['Sonora Wireless Headphones', 'audio', 19999, 5, 'Over-ear, 30 hours of battery.'],
  ['Aurel Headphone Stand', 'audio', 2999, 0, 'Aluminium stand for any headset.'],
  ['Pulse Bluetooth Speaker', 'audio', 4999, 12, 'Pairs with your phone; louder than most headphones.'],
  ['Vireo Studio Monitor Headphones', 'audio', 24999, 3, 'Flat response for mixing.'],
  ['Kestrel Gaming Laptop', 'computers', 149999, 2, 'Fast GPU, 16 GB memory.'],
  ['Lumen Mechanical Keyboard', 'computers', 8999, 0, 'Tactile switches.'],
  ['Orbit Wireless Mouse', 'computers', 2999, 40, 'Silent clicks.'],
  ['Halcyon 4K Monitor', 'computers', 39999, 7, '27 inch IPS panel.'],
  ['The Art of Sound', 'books', 1999, 10, 'A history of recorded music.'],
  ['Café Crème Cookbook', 'books', 2499, 4, 'Recettes françaises, naïve and simple.'],
  ['50% Off Secrets', 'books', 999, 1, 'Bargain hunting with under_scores and 100% success.'],
  ['apple Pie Recipes', 'books', 1799, 0, 'Lower-case title on purpose.'],
  ['Zebra Field Guide', 'books', 1599, 6, 'Stripes explained.'],
  ['日本語の本', 'books', 3999, 2, '日本語 テキスト'],
];

interface Row {
  id: string;
  name: string;
  price: number;
  created: string;
  category: string;
  onHand: number;
}

/** The catalog as the tests expect to see it, straight from the table (archived products excluded). */
async function model(): Promise<Row[]> {
  const rows = await sql(`SELECT id, name, price_amount, category_slug, on_hand,
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created FROM products WHERE archived_at IS NULL`);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    price: r.price_amount,
    created: r.created,
    category: r.category_slug,
    onHand: r.on_hand,
  }));
}

const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
const ORDER: Record<string, (a: Row, b: Row) => number> = {
  NEWEST: (a, b) => cmp(b.created, a.created) || cmp(b.id, a.id),
  PRICE_ASC: (a, b) => cmp(a.price, b.price) || cmp(a.id, b.id),
  PRICE_DESC: (a, b) => cmp(b.price, a.price) || cmp(b.id, a.id),
  // PostgreSQL: lower(name) COLLATE "C" = code point order (these names have no astral characters).
  NAME: (a, b) => cmp(a.name.toLowerCase(), b.name.toLowerCase()) || cmp(a.id, b.id),
};

const PAGE = `query($first: Int, $after: String, $filter: ProductFilter, $sort: ProductSort) {
  products(first: $first, after: $after, filter: $filter, sort: $sort) { edges { cursor node { id name stock inStock } } pageInfo { hasNextPage endCursor } totalCount } }`;

/** Walks every page and returns the ids in order. */
async function walk(filter: Record<string, unknown> | null, sort: string | null, first = 3): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page: any = ok(await stack.gql(PAGE, { first, after, filter, sort })).products;
    ids.push(...page.edges.map((e: any) => e.node.id));
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor;
  }
  throw new Error('too many pages');
}

beforeAll(async () => {
  stack = await startStack({ subgraphs: [productSubgraph], gateway: startGateway });
  admin = adminToken(stack);
  sql = db(stack);
  for (const c of ['audio', 'computers', 'books']) await ensureCategory(stack, admin, c);
  for (const [name, category, price, stock, description] of CATALOG) {
    await createProduct(stack, admin, {
      name,
      category,
      price,
      stock,
      description,
      ...(name === 'Kestrel Gaming Laptop' ? { sku: 'KST-GL-9000' } : {}),
    });
  }
});
afterAll(() => stack?.stop());

describe('sorting and filtering', () => {
  test.each(['NEWEST', 'PRICE_ASC', 'PRICE_DESC', 'NAME'])(
    'sort %s alone walks the whole catalog in order',
    async (sort) => {
      const expected = (await model()).sort(ORDER[sort]).map((r) => r.id);
      expect(await walk(null, sort)).toEqual(expected);
    },
  );

  test('default order is NEWEST; first defaults to 20 and is capped at 100', async () => {
    const expected = (await model()).sort(ORDER.NEWEST).map((r) => r.id);
    const page = ok(await stack.gql(PAGE, {})).products;
    expect(page.edges.map((e: any) => e.node.id)).toEqual(expected.slice(0, 20));
    expect(page.totalCount).toBe(expected.length);
    const tooMany = await stack.gql(PAGE, { first: 101 });
    expect(codes(tooMany)).toEqual(['BAD_USER_INPUT']);
    expect(fields(tooMany)).toEqual(['first']);
    expect(ok(await stack.gql(PAGE, { first: 0 })).products).toMatchObject({
      edges: [],
      pageInfo: { hasNextPage: true },
    });
  });

  const FILTERS: [string, Record<string, unknown>, (r: Row) => boolean][] = [
    ['category', { category: 'audio' }, (r) => r.category === 'audio'],
    ['minPrice', { minPrice: 4999 }, (r) => r.price >= 4999],
    ['maxPrice', { maxPrice: 2999 }, (r) => r.price <= 2999],
    ['price range', { minPrice: 2000, maxPrice: 25000 }, (r) => r.price >= 2000 && r.price <= 25000],
    ['inStock: true', { inStock: true }, (r) => r.onHand > 0],
    ['inStock: false', { inStock: false }, (r) => r.onHand === 0],
    ['unknown category', { category: 'nope' }, () => false],
    [
      'category + price + inStock',
      { category: 'computers', minPrice: 1000, maxPrice: 50000, inStock: true },
      (r) => r.category === 'computers' && r.price >= 1000 && r.price <= 50000 && r.onHand > 0,
    ],
  ];

  test.each(FILTERS)('filter %s: exactly the matching products, with totalCount', async (_label, filter, pred) => {
    const expected = (await model())
      .filter(pred)
      .sort(ORDER.NEWEST)
      .map((r) => r.id);
    expect(await walk(filter, null, 4)).toEqual(expected);
    expect(ok(await stack.gql(PAGE, { filter, first: 1 })).products.totalCount).toBe(expected.length);
  });

  test.each([
    [
      'category + inStock',
      { category: 'books', inStock: true },
      'PRICE_DESC',
      (r: Row) => r.category === 'books' && r.onHand > 0,
    ],
    ['price range', { minPrice: 1000, maxPrice: 30000 }, 'NAME', (r: Row) => r.price >= 1000 && r.price <= 30000],
    ['category', { category: 'audio' }, 'PRICE_ASC', (r: Row) => r.category === 'audio'],
    ['inStock: false', { inStock: false }, 'NAME', (r: Row) => r.onHand === 0],
  ])('combined: %s sorted %s', async (_label, filter, sort, pred) => {
    const expected = (await model())
      .filter(pred)
      .sort(ORDER[sort])
      .map((r) => r.id);
    expect(expected.length).toBeGreaterThan(1);
    expect(await walk(filter, sort, 2)).toEqual(expected);
  });

  test('stock and inStock reflect what can be sold', async () => {
    const all = ok(await stack.gql(PAGE, { first: 100 })).products.edges.map((e: any) => e.node);
    const byName = new Map(all.map((n: any) => [n.name, n]));
    expect(byName.get('Aurel Headphone Stand')).toMatchObject({ stock: 0, inStock: false });
    expect(byName.get('Orbit Wireless Mouse')).toMatchObject({ stock: 40, inStock: true });
  });

  test('invalid price bounds and RELEVANCE without a search → BAD_USER_INPUT naming the field', async () => {
    for (const [filter, field] of [
      [{ minPrice: -1 }, 'minPrice'],
      [{ maxPrice: -5 }, 'maxPrice'],
      [{ minPrice: 500, maxPrice: 100 }, 'minPrice'],
    ] as const) {
      const res = await stack.gql(PAGE, { filter });
      expect({ filter, codes: codes(res), fields: fields(res) }).toEqual({
        filter,
        codes: ['BAD_USER_INPUT'],
        fields: [field],
      });
    }
    const relevance = await stack.gql(PAGE, { sort: 'RELEVANCE' });
    expect(codes(relevance)).toEqual(['BAD_USER_INPUT']);
    expect(fields(relevance)).toEqual(['sort']);
    expect(fields(await stack.gql(PAGE, { sort: 'RELEVANCE', filter: { category: 'audio' } }))).toEqual(['sort']);
  });

  test('cursors: forged, foreign or from another sort order → BAD_USER_INPUT on after', async () => {
    const page = ok(await stack.gql(PAGE, { first: 2, sort: 'PRICE_ASC' })).products;
    const forged = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
    for (const after of [
      'garbage',
      page.pageInfo.endCursor.slice(0, -3),
      forged(['PRICE_ASC', '1; DROP TABLE products', '11111111-1111-4111-8111-111111111111']),
      forged(['PRICE_ASC', '100', 'not-a-uuid']),
      forged(['PRICE_ASC', 100, '11111111-1111-4111-8111-111111111111']),
      forged(['NEWEST', '2026-01-01 00:00:00', '11111111-1111-4111-8111-111111111111']),
      forged(['RELEVANCE', 'NaN', '11111111-1111-4111-8111-111111111111']),
    ]) {
      const res = await stack.gql(PAGE, { first: 2, sort: 'PRICE_ASC', after });
      expect({ after, codes: codes(res), fields: fields(res) }).toEqual({
        after,
        codes: ['BAD_USER_INPUT'],
        fields: ['after'],
      });
    }
    const otherSort = await stack.gql(PAGE, { first: 2, sort: 'NAME', after: page.pageInfo.endCursor });
    expect(fields(otherSort)).toEqual(['after']);
  });
});

describe('pagination is stable when products are added between pages', () => {
  test.each([
    ['NEWEST', (i: number) => 1000 + i],
    // New prices land both before and after the current position.
    ['PRICE_ASC', (i: number) => (i % 2 ? 1500 : 30000 + i)],
  ])('%s: every product that existed at the start comes exactly once', async (sort, priceOf) => {
    const before = new Set((await model()).map((r) => r.id));
    const seen: string[] = [];
    let after: string | null = null;
    let i = 0;
    for (;;) {
      const page: any = ok(await stack.gql(PAGE, { first: 3, after, sort })).products;
      seen.push(...page.edges.map((e: any) => e.node.id));
      await createProduct(stack, admin, {
        name: `Inserted between pages ${sort} ${i}`,
        category: 'books',
        price: priceOf(i++),
        stock: 1,
      });
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => before.has(id)).sort()).toEqual([...before].sort());
    // The walk is also in order: whatever it returned is sorted like the model.
    const m = new Map((await model()).map((r) => [r.id, r]));
    const rows = seen.map((id) => m.get(id)!);
    expect(rows).toEqual([...rows].sort(ORDER[sort]));
  });
});

describe('search', () => {
  const SEARCH = `query($s: String, $sort: ProductSort, $category: ID) { products(first: 50, filter: { search: $s, category: $category }, sort: $sort) {
    edges { node { id name } } totalCount facets { categories { slug name count } } } }`;
  const names = (res: any) => ok(res).products.edges.map((e: any) => e.node.name);

  test('prefix matching: "head" finds headphones, "headphones" finds "Headphone" and vice versa', async () => {
    expect(names(await stack.gql(SEARCH, { s: 'head' }))).toEqual(
      expect.arrayContaining([
        'Sonora Wireless Headphones',
        'Aurel Headphone Stand',
        'Vireo Studio Monitor Headphones',
      ]),
    );
    expect(names(await stack.gql(SEARCH, { s: 'HEADPHONES' })).sort()).toEqual(
      [
        'Aurel Headphone Stand',
        'Pulse Bluetooth Speaker',
        'Sonora Wireless Headphones',
        'Vireo Studio Monitor Headphones',
      ].sort(),
    );
  });

  test('every word must match (AND), in any case and order', async () => {
    expect(names(await stack.gql(SEARCH, { s: 'wireless head' }))).toEqual(['Sonora Wireless Headphones']);
    expect(names(await stack.gql(SEARCH, { s: 'MOUSE   wireless' }))).toEqual(['Orbit Wireless Mouse']);
    expect(names(await stack.gql(SEARCH, { s: 'wireless nothingmatches' }))).toEqual([]);
  });

  test('relevance: a match in the name ranks above a match in the description; RELEVANCE is the default when searching', async () => {
    const relevance = names(await stack.gql(SEARCH, { s: 'headphones' }));
    expect(relevance.indexOf('Pulse Bluetooth Speaker')).toBe(relevance.length - 1);
    expect(names(await stack.gql(SEARCH, { s: 'headphones', sort: 'RELEVANCE' }))).toEqual(relevance);
    // Other sorts apply to the search results too.
    expect(names(await stack.gql(SEARCH, { s: 'headphones', sort: 'PRICE_ASC' }))).toEqual([
      'Aurel Headphone Stand',
      'Pulse Bluetooth Speaker',
      'Sonora Wireless Headphones',
      'Vireo Studio Monitor Headphones',
    ]);
  });

  test('RELEVANCE pages chain through cursors without repeats', async () => {
    const all = await walk({ search: 's' }, 'RELEVANCE', 2);
    expect(all.length).toBeGreaterThan(3);
    expect(new Set(all).size).toBe(all.length);
    const single = ok(
      await stack.gql(PAGE, { first: 100, filter: { search: 's' }, sort: 'RELEVANCE' }),
    ).products.edges.map((e: any) => e.node.id);
    expect(all).toEqual(single);
  });

  test('stop words and single letters match as prefixes: "the art of", "s"', async () => {
    expect(names(await stack.gql(SEARCH, { s: 'the art of' }))).toEqual(['The Art of Sound']);
    expect(names(await stack.gql(SEARCH, { s: 'the art of sound' }))).toEqual(['The Art of Sound']);
    expect(names(await stack.gql(SEARCH, { s: 'zebra f' }))).toEqual(['Zebra Field Guide']);
  });

  test('sku, unicode and accents are searchable', async () => {
    expect(names(await stack.gql(SEARCH, { s: 'KST-GL-9000' }))).toEqual(['Kestrel Gaming Laptop']);
    expect(names(await stack.gql(SEARCH, { s: 'kst' }))).toEqual(['Kestrel Gaming Laptop']);
    expect(names(await stack.gql(SEARCH, { s: 'café' }))).toEqual(['Café Crème Cookbook']);
    expect(names(await stack.gql(SEARCH, { s: 'naïve' }))).toEqual(['Café Crème Cookbook']);
    expect(names(await stack.gql(SEARCH, { s: '日本語' }))).toEqual(['日本語の本']);
  });

  test('facets count every category under the filter, ignoring the category filter itself; totalCount agrees', async () => {
    const res = ok(await stack.gql(SEARCH, { s: 'wireless' })).products;
    expect(res.facets.categories).toEqual([
      { slug: 'audio', name: 'Audio', count: 1 },
      { slug: 'computers', name: 'Computers', count: 1 },
    ]);
    expect(res.totalCount).toBe(2);
    const inAudio = ok(await stack.gql(SEARCH, { s: 'wireless', category: 'audio' })).products;
    expect(inAudio.edges).toHaveLength(1);
    expect(inAudio.totalCount).toBe(1);
    expect(inAudio.facets.categories).toEqual(res.facets.categories);
    // totalCount alone (no facets selected) counts the same.
    expect(
      ok(await stack.gql(`{ products(filter: { search: "wireless", category: "audio" }) { totalCount } }`)).products
        .totalCount,
    ).toBe(1);
  });

  const everything = () => model().then((rows) => rows.length);
  test.each([
    ['empty', ''],
    ['whitespace', '   \t\n '],
    ['tsquery operators', `':*|&!()`],
    ['phrase operator', '<-> <=>'],
    ['quotes', `'"'"`],
    ['percent', '%'],
    ['underscore', '_'],
    ['backslashes', '\\\\ \\'],
    ['placeholders', '? ?? $ :'],
  ])('hostile search without words (%s) → no text filter, no error', async (_label, s) => {
    const res = await stack.gql(SEARCH, { s });
    expect(res.errors).toBeUndefined();
    expect(res.data!.products.totalCount).toBe(await everything());
  });

  test.each([
    ['SQL injection', `' OR 1=1 --`],
    ['tsquery injection', `wireless') | to_tsquery('mouse`],
    ['operators between words', 'head & !phones | (x:*)'],
    ['percent and underscore in words', '100% under_scores'],
    ['backslash escapes', 'a\\b\\\\c\\'],
    ['placeholders between words', 'head ? ?? $1 :name'],
    ['NUL and control characters', 'head\u0000phones\u0007'],
    ['emoji', '🎧 headphones 😀'],
    ['combining marks', 'cafe\u0301'],
    ['right-to-left', 'سماعات'],
    ['many words', Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ')],
    ['200 characters', 'x'.repeat(200)],
  ])('hostile search (%s) → a normal answer, never an error', async (_label, s) => {
    const res = await stack.gql(SEARCH, { s });
    expect(res.errors).toBeUndefined();
    expect(Array.isArray(res.data!.products.edges)).toBe(true);
  });

  test('hostile strings are data: an injected OR matches nothing extra', async () => {
    // Only the words count: `' OR 1=1 --` is the search "or 1": products with words starting "or" and "1".
    expect(names(await stack.gql(SEARCH, { s: `' OR 1=1 --` }))).toEqual([]);
    expect(names(await stack.gql(SEARCH, { s: `' Orbit 1=1 --` }))).toEqual([]);
    expect(names(await stack.gql(SEARCH, { s: `') OR ('Orbit` }))).toEqual(['Orbit Wireless Mouse']);
    expect(names(await stack.gql(SEARCH, { s: `mouse') | to_tsquery('laptop` })).sort()).toEqual([]);
    expect(names(await stack.gql(SEARCH, { s: '100% under_scores' }))).toEqual(['50% Off Secrets']);
    expect(ok(await stack.gql(PAGE, { filter: { category: "audio' OR '1'='1" } })).products.totalCount).toBe(0);
  });

  test('a 10 kB search → clean BAD_USER_INPUT on search', async () => {
    const res = await stack.gql(SEARCH, { s: 'headphones '.repeat(1000) });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(fields(res)).toEqual(['search']);
    expect(res.status).toBe(200);
  });
});
