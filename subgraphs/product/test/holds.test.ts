import { randomUUID } from 'node:crypto';
import { Stack } from '@shop/kernel/testing';
import { ADJUST, codes, createProduct, ensureCategory, fields, ok, svc } from './helpers';
import { failure, inSeconds, stockCommands, stockDb, stockSuite } from './stock-commands';

/**
 * Stock holds through the product subgraph's NATS commands, called the way the cart subgraph calls them, with the
 * effects read back from the database and through the gateway (Product.stock).
 */
let stack: Stack;
let admin: string;
let cmd: ReturnType<typeof stockCommands>;
let store: ReturnType<typeof stockDb>;

const suite = stockSuite('test-cart');
beforeAll(() => void ({ stack, cmd, store, admin } = suite));

const STOCK = `query($id: ID!) { product(id: $id) { stock inStock } }`;
const stockOf = async (id: string) => ok(await stack.gql(STOCK, { id })).product as { stock: number; inStock: boolean };
const product = (stock: number, extra: Parameters<typeof createProduct>[2] = {}) =>
  createProduct(stack, admin, { stock, ...extra });

test('50 carts hold 1 unit each of a product with 10 at once: exactly 10 succeed, the database holds exactly 10, never below zero', async () => {
  const p = await product(10);
  const deadline = inSeconds(600);
  // Samples the unclamped level (on hand − unexpired holds) while the requests run.
  let lowest = Infinity;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const [r] = await store.sql(
        `SELECT p.on_hand - coalesce((SELECT sum(quantity) FROM stock_hold WHERE product_id = p.id AND expires_at > now()), 0) AS raw
        FROM products p WHERE p.id = ?`,
        [p.id],
      );
      lowest = Math.min(lowest, Number(r.raw));
    }
  })();
  const carts = Array.from({ length: 50 }, (_, i) => `storm-${i}-${randomUUID()}`);
  const results = await Promise.allSettled(
    carts.map((cartId) => cmd.hold({ cartId, productId: p.id, quantity: 1, expiresAt: deadline })),
  );
  sampling = false;
  await sampler;

  const granted = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ cartId: carts[i], ...r.value }] : []));
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  expect(granted).toHaveLength(10);
  expect(refused).toHaveLength(40);
  for (const err of refused) {
    expect(err.extensions).toEqual({ code: 'INSUFFICIENT_STOCK', productId: p.id, available: 0 });
    expect(err.message).toMatch(/Only 0 of/);
  }
  // Each grant saw the one before it: the answers count down 9, 8, … 0.
  expect(granted.map((g) => g.available).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

  const rows = await store.holds(p.id);
  expect(rows.map((r) => r.cartId).sort()).toEqual(granted.map((g) => g.cartId).sort());
  expect(rows.reduce((n, r) => n + r.quantity, 0)).toBe(10);
  expect(await store.level(p.id)).toEqual({ onHand: 10, held: 10, available: 0 });
  expect(lowest).toBeGreaterThanOrEqual(0);
  expect(await stockOf(p.id)).toEqual({ stock: 0, inStock: false });
});

test("a retried hold changes nothing; a change moves the deadline of all the cart's holds; quantity 0 deletes the hold", async () => {
  const a = await product(5);
  const b = await product(5);
  const cartId = `cart-${randomUUID()}`;
  const t1 = inSeconds(600);
  const first = await cmd.hold({ cartId, productId: a.id, quantity: 2, expiresAt: t1 });
  expect(first).toEqual({ productId: a.id, quantity: 2, available: 3, expiresAt: t1 });
  const rows = await store.holds(a.id);
  expect(rows).toEqual([{ cartId, quantity: 2, expiresAt: t1, xmin: expect.any(String) }]);

  // The same request again: same answer, and the row was not even rewritten (same xmin).
  expect(await cmd.hold({ cartId, productId: a.id, quantity: 2, expiresAt: t1 })).toEqual(first);
  expect(await store.holds(a.id)).toEqual(rows);

  // Holding another product moves the first hold's deadline too.
  const t2 = inSeconds(660);
  expect(await cmd.hold({ cartId, productId: b.id, quantity: 1, expiresAt: t2 })).toEqual({
    productId: b.id,
    quantity: 1,
    available: 4,
    expiresAt: t2,
  });
  expect(await store.cartHolds(cartId)).toEqual(
    [
      { productId: a.id, quantity: 2, expiresAt: t2 },
      { productId: b.id, quantity: 1, expiresAt: t2 },
    ].sort((x, y) => x.productId.localeCompare(y.productId)),
  );

  // The quantity is set, not added.
  expect(await cmd.hold({ cartId, productId: a.id, quantity: 5, expiresAt: t2 })).toMatchObject({
    quantity: 5,
    available: 0,
  });
  expect(await cmd.hold({ cartId, productId: a.id, quantity: 1, expiresAt: t2 })).toMatchObject({
    quantity: 1,
    available: 4,
  });

  // 0 releases: the row is gone and the units are back; releasing again is fine.
  expect(await cmd.hold({ cartId, productId: a.id, quantity: 0, expiresAt: t2 })).toEqual({
    productId: a.id,
    quantity: 0,
    available: 5,
    expiresAt: t2,
  });
  expect(await store.holds(a.id)).toEqual([]);
  expect(await cmd.hold({ cartId, productId: a.id, quantity: 0, expiresAt: t2 })).toMatchObject({
    quantity: 0,
    available: 5,
  });
  expect(await stockOf(a.id)).toEqual({ stock: 5, inStock: true });
  expect(await stockOf(b.id)).toEqual({ stock: 4, inStock: true });
});

test("a refused hold changes nothing, not even the deadline of the cart's other holds", async () => {
  const a = await product(3);
  const b = await product(1);
  const cartId = `cart-${randomUUID()}`;
  const t1 = inSeconds(600);
  await cmd.hold({ cartId, productId: a.id, quantity: 2, expiresAt: t1 });
  const err = await failure(cmd.hold({ cartId, productId: b.id, quantity: 2, expiresAt: inSeconds(700) }));
  expect(err.extensions).toEqual({ code: 'INSUFFICIENT_STOCK', productId: b.id, available: 1 });
  expect(err.message).toMatch(/Only 1 of "Test product" is available/);
  expect(await store.cartHolds(cartId)).toEqual([{ productId: a.id, quantity: 2, expiresAt: t1 }]);
  // The cart's own hold counts for it: with 2 held of 3, it may raise to 3 but not 4, and the answer says 3.
  const over = await failure(cmd.hold({ cartId, productId: a.id, quantity: 4, expiresAt: t1 }));
  expect(over.extensions).toMatchObject({ code: 'INSUFFICIENT_STOCK', available: 3 });
  expect(await cmd.hold({ cartId, productId: a.id, quantity: 3, expiresAt: t1 })).toMatchObject({
    quantity: 3,
    available: 0,
  });
});

describe('lazy expiry: a hold past its deadline never counts, swept or not', () => {
  test('expired by the clock: Product.stock, the inStock filter and product.get recover; another cart can hold the units', async () => {
    const p = await product(5, { name: 'Lapsing lamp' });
    const cartA = `cart-${randomUUID()}`;
    await cmd.hold({ cartId: cartA, productId: p.id, quantity: 3, expiresAt: inSeconds(600) });
    expect(await stockOf(p.id)).toEqual({ stock: 2, inStock: true });
    expect((await cmd.get({ ids: [p.id] }))[0].available).toBe(2);

    await store.expireCart(cartA);
    expect(await store.holds(p.id)).toHaveLength(1); // nobody swept it
    expect(await stockOf(p.id)).toEqual({ stock: 5, inStock: true });
    expect((await cmd.get({ ids: [p.id] }))[0].available).toBe(5);

    const cartB = `cart-${randomUUID()}`;
    expect(await cmd.hold({ cartId: cartB, productId: p.id, quantity: 5, expiresAt: inSeconds(600) })).toMatchObject({
      quantity: 5,
      available: 0,
    });
    // Cart A's lapsed hold counts as nothing for A too: nothing is left for it.
    const err = await failure(cmd.hold({ cartId: cartA, productId: p.id, quantity: 3, expiresAt: inSeconds(600) }));
    expect(err.extensions).toEqual({ code: 'INSUFFICIENT_STOCK', productId: p.id, available: 0 });
    expect(await store.level(p.id)).toEqual({ onHand: 5, held: 5, available: 0 });
  });

  test('a deadline given in the past, or one that passes while we wait, stops counting at once', async () => {
    const p = await product(4);
    const past = await cmd.hold({
      cartId: `cart-${randomUUID()}`,
      productId: p.id,
      quantity: 4,
      expiresAt: inSeconds(-5),
    });
    expect(past).toMatchObject({ quantity: 4, available: 4 });
    expect(await stockOf(p.id)).toEqual({ stock: 4, inStock: true });

    await cmd.hold({ cartId: `cart-${randomUUID()}`, productId: p.id, quantity: 3, expiresAt: inSeconds(1.5) });
    expect(await stockOf(p.id)).toEqual({ stock: 1, inStock: true });
    await new Promise((r) => setTimeout(r, 1700));
    expect(await stockOf(p.id)).toEqual({ stock: 4, inStock: true });
    expect((await cmd.get({ ids: [p.id] }))[0].available).toBe(4);
  });

  test("moving a cart's deadline never revives its lapsed holds (their units may be someone else's by now)", async () => {
    const x = await product(1);
    const y = await product(5);
    const cartR = `cart-${randomUUID()}`;
    const cartS = `cart-${randomUUID()}`;
    await cmd.hold({ cartId: cartR, productId: x.id, quantity: 1, expiresAt: inSeconds(600) });
    await cmd.hold({ cartId: cartR, productId: y.id, quantity: 1, expiresAt: inSeconds(600) });
    await store.expireCart(cartR);
    await cmd.hold({ cartId: cartS, productId: x.id, quantity: 1, expiresAt: inSeconds(600) });
    // R changes its cart: the new deadline applies to the new hold only; R's lapsed hold of x is deleted.
    const t = inSeconds(900);
    await cmd.hold({ cartId: cartR, productId: y.id, quantity: 2, expiresAt: t });
    expect(await store.cartHolds(cartR)).toEqual([{ productId: y.id, quantity: 2, expiresAt: t }]);
    expect(await store.level(x.id)).toEqual({ onHand: 1, held: 1, available: 0 });
    expect((await store.holds(x.id)).map((h) => h.cartId)).toEqual([cartS]);
  });
});

describe('product.holds.set (cart merge)', () => {
  test('caps each line at what the cart can hold and says so; unknown and archived give 0; moves every deadline; repeatable', async () => {
    const scarce = await product(5);
    const plenty = await product(10);
    const gone = await product(3);
    const kept = await product(2);
    ok(await stack.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: gone.id }, admin));
    const unknown = randomUUID();
    await cmd.hold({ cartId: `other-${randomUUID()}`, productId: scarce.id, quantity: 3, expiresAt: inSeconds(600) });
    const cartId = `user-cart-${randomUUID()}`;
    await cmd.hold({ cartId, productId: kept.id, quantity: 1, expiresAt: inSeconds(300) });
    await cmd.hold({ cartId, productId: scarce.id, quantity: 1, expiresAt: inSeconds(300) });

    const t = inSeconds(600);
    const request = {
      cartId,
      expiresAt: t,
      lines: [
        { productId: scarce.id, quantity: 4 },
        { productId: plenty.id, quantity: 6 },
        { productId: gone.id, quantity: 1 },
        { productId: unknown, quantity: 2 },
      ],
    };
    const res = await cmd.setHolds(request);
    expect(res).toEqual({
      expiresAt: t,
      lines: [
        { productId: scarce.id, requested: 4, held: 2, available: 0 },
        { productId: plenty.id, requested: 6, held: 6, available: 4 },
        { productId: gone.id, requested: 1, held: 0, available: 3 },
        { productId: unknown, requested: 2, held: 0, available: 0 },
      ],
    });
    const expected = [
      { productId: scarce.id, quantity: 2, expiresAt: t },
      { productId: plenty.id, quantity: 6, expiresAt: t },
      { productId: kept.id, quantity: 1, expiresAt: t },
    ].sort((a, b) => a.productId.localeCompare(b.productId));
    expect(await store.cartHolds(cartId)).toEqual(expected);

    const before = [
      ...(await store.holds(scarce.id)),
      ...(await store.holds(plenty.id)),
      ...(await store.holds(kept.id)),
    ];
    expect(await cmd.setHolds(request)).toEqual(res);
    expect([
      ...(await store.holds(scarce.id)),
      ...(await store.holds(plenty.id)),
      ...(await store.holds(kept.id)),
    ]).toEqual(before);

    // Requested 0 releases that line; an empty list only moves the deadline.
    expect(
      (await cmd.setHolds({ cartId, expiresAt: t, lines: [{ productId: plenty.id, quantity: 0 }] })).lines,
    ).toEqual([{ productId: plenty.id, requested: 0, held: 0, available: 10 }]);
    const t2 = inSeconds(700);
    expect(await cmd.setHolds({ cartId, expiresAt: t2, lines: [] })).toEqual({ lines: [], expiresAt: t2 });
    expect((await store.cartHolds(cartId)).map((h) => [h.quantity, h.expiresAt])).toEqual(
      expected.filter((e) => e.productId !== plenty.id).map((e) => [e.quantity, t2]),
    );
  });
  test("with releaseCartId the guest cart's units move to the user cart in one transaction: not counted twice, not left free", async () => {
    const p = await product(5);
    const other = await product(4);
    const guest = `guest-${randomUUID()}`;
    const user = `user-${randomUUID()}`;
    await cmd.hold({ cartId: user, productId: p.id, quantity: 2, expiresAt: inSeconds(600) });
    await cmd.hold({ cartId: guest, productId: p.id, quantity: 2, expiresAt: inSeconds(600) });
    await cmd.hold({ cartId: guest, productId: other.id, quantity: 4, expiresAt: inSeconds(600) });
    await cmd.hold({ cartId: `rival-${randomUUID()}`, productId: p.id, quantity: 1, expiresAt: inSeconds(600) });
    // 5 on hand: user 2 + guest 2 + rival 1. Without the release the user cart could reach only 2 (5 − 2 − 1).
    const t = inSeconds(600);
    const res = await cmd.setHolds({
      cartId: user,
      expiresAt: t,
      releaseCartId: guest,
      lines: [
        { productId: p.id, quantity: 4 },
        { productId: other.id, quantity: 4 },
      ],
    });
    expect(res.lines).toEqual([
      { productId: p.id, requested: 4, held: 4, available: 0 },
      { productId: other.id, requested: 4, held: 4, available: 0 },
    ]);
    expect(await store.cartHolds(guest)).toEqual([]);
    expect((await store.cartHolds(user)).map((h) => [h.productId, h.quantity]).sort()).toEqual(
      [
        [p.id, 4],
        [other.id, 4],
      ].sort(),
    );
    expect(await store.level(p.id)).toEqual({ onHand: 5, held: 5, available: 0 });
    // Asking for more than the guest brought is still capped by the stock.
    const more = await cmd.setHolds({
      cartId: user,
      expiresAt: t,
      releaseCartId: `gone-${randomUUID()}`,
      lines: [{ productId: p.id, quantity: 6 }],
    });
    expect(more.lines[0]).toMatchObject({ requested: 6, held: 4 });
    expect(
      (await failure(cmd.raw('product.holds.set', { cartId: user, expiresAt: t, lines: [], releaseCartId: user })))
        .extensions.field,
    ).toBe('releaseCartId');
  });
});

describe("absolute hold lifetime: a cart's holds never outlive held_since + CART_HOLD_MAX_SECONDS_USER (3600 s here)", () => {
  const MAX_MS = 3600 * 1000;
  const ms = (iso: string) => new Date(iso).getTime();
  const since = async (cartId: string) =>
    (await store.sql(`SELECT DISTINCT held_since FROM stock_hold WHERE cart_id = ?`, [cartId])).map((r) =>
      new Date(r.held_since).getTime(),
    );

  test('a deadline beyond the cap is clamped to it, in the answer and in the row, whatever the cart sends', async () => {
    const p = await product(5);
    const cartId = `cart-${randomUUID()}`;
    const t0 = Date.now();
    const res = await cmd.hold({ cartId, productId: p.id, quantity: 2, expiresAt: inSeconds(6 * 24 * 3600) });
    expect(ms(res.expiresAt)).toBeGreaterThanOrEqual(t0 + MAX_MS - 1000);
    expect(ms(res.expiresAt)).toBeLessThanOrEqual(Date.now() + MAX_MS);
    expect(await store.cartHolds(cartId)).toEqual([{ productId: p.id, quantity: 2, expiresAt: res.expiresAt }]);
    // A deadline inside the cap is kept as asked.
    const t = inSeconds(600);
    expect((await cmd.hold({ cartId, productId: p.id, quantity: 3, expiresAt: t })).expiresAt).toBe(t);
  });

  test('touching the cart does not extend it: the lifetime runs from the first hold since the cart held nothing', async () => {
    const a = await product(5);
    const b = await product(5);
    const cartId = `cart-${randomUUID()}`;
    await cmd.hold({ cartId, productId: a.id, quantity: 1, expiresAt: inSeconds(600) });
    // As if the first hold was taken 3500 s ago: 100 s of lifetime are left.
    await store.sql(`UPDATE stock_hold SET held_since = now() - interval '3500 seconds' WHERE cart_id = ?`, [cartId]);
    const [start] = await since(cartId);
    const cap = start + MAX_MS;
    for (const [productId, quantity] of [
      [b.id, 1],
      [a.id, 2],
      [b.id, 2],
    ] as const) {
      const res = await cmd.hold({ cartId, productId, quantity, expiresAt: inSeconds(600) });
      expect(Math.abs(ms(res.expiresAt) - cap)).toBeLessThanOrEqual(1);
    }
    // Every hold of the cart ends at the cap and keeps the run's start.
    const rows = await store.cartHolds(cartId);
    expect(rows).toHaveLength(2);
    for (const h of rows) expect(Math.abs(ms(h.expiresAt) - cap)).toBeLessThanOrEqual(1);
    expect(await since(cartId)).toEqual([start]);
    // Emptied, the cart starts a new run.
    await cmd.release({ cartId });
    const t = inSeconds(600);
    expect((await cmd.hold({ cartId, productId: a.id, quantity: 1, expiresAt: t })).expiresAt).toBe(t);
  });

  test("a merge keeps the guest cart's earlier start: signing in does not renew the lifetime", async () => {
    const p = await product(5);
    const guest = `guest-${randomUUID()}`;
    const user = `user-${randomUUID()}`;
    await cmd.hold({ cartId: guest, productId: p.id, quantity: 2, expiresAt: inSeconds(600) });
    await store.sql(`UPDATE stock_hold SET held_since = now() - interval '3500 seconds' WHERE cart_id = ?`, [guest]);
    const [start] = await since(guest);
    const res = await cmd.setHolds({
      cartId: user,
      expiresAt: inSeconds(600),
      releaseCartId: guest,
      lines: [{ productId: p.id, quantity: 2 }],
    });
    expect(Math.abs(ms(res.expiresAt) - (start + MAX_MS))).toBeLessThanOrEqual(1);
    expect(await since(user)).toEqual([start]);
    expect((await store.cartHolds(user)).map((h) => ms(h.expiresAt))).toEqual([ms(res.expiresAt)]);
  });
});

test('product.release deletes every hold of the cart, once', async () => {
  const a = await product(3);
  const b = await product(3);
  const cartId = `cart-${randomUUID()}`;
  await cmd.hold({ cartId, productId: a.id, quantity: 2, expiresAt: inSeconds(600) });
  await cmd.hold({ cartId, productId: b.id, quantity: 3, expiresAt: inSeconds(600) });
  expect(await cmd.release({ cartId })).toEqual({ released: 2 });
  expect(await store.cartHolds(cartId)).toEqual([]);
  expect(await stockOf(b.id)).toEqual({ stock: 3, inStock: true });
  expect(await cmd.release({ cartId })).toEqual({ released: 0 });
});

test('unknown products are NOT_FOUND; archived ones too, except that a cart can always release what it holds', async () => {
  const p = await product(4);
  const cartId = `cart-${randomUUID()}`;
  const unknown = randomUUID();
  expect(
    (await failure(cmd.hold({ cartId, productId: unknown, quantity: 1, expiresAt: inSeconds(600) }))).extensions,
  ).toEqual({ code: 'NOT_FOUND', productId: unknown });
  await cmd.hold({ cartId, productId: p.id, quantity: 2, expiresAt: inSeconds(600) });
  ok(await stack.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: p.id }, admin));
  expect(
    codes({ errors: [await failure(cmd.hold({ cartId, productId: p.id, quantity: 3, expiresAt: inSeconds(600) }))] }),
  ).toEqual(['NOT_FOUND']);
  expect(await cmd.hold({ cartId, productId: p.id, quantity: 0, expiresAt: inSeconds(600) })).toMatchObject({
    quantity: 0,
    available: 4,
  });
  expect(await store.holds(p.id)).toEqual([]);
});

test('product.get: available after holds, archived flag, the deal percent of deal products only; unknown ids left out', async () => {
  const p = await product(6);
  await cmd.hold({ cartId: `cart-${randomUUID()}`, productId: p.id, quantity: 2, expiresAt: inSeconds(600) });
  const deals = ok(await stack.gql(`{ deals { product { id } discountPercent } }`)).deals as {
    product: { id: string };
    discountPercent: number;
  }[];
  expect(deals.length).toBeGreaterThan(0);
  const dealId = deals[0].product.id;
  const res = await cmd.get({ ids: [p.id, dealId, randomUUID()] });
  const pctOf = new Map(deals.map((d) => [d.product.id, d.discountPercent]));
  expect(res.map((r) => r.id)).toEqual([p.id, dealId]);
  expect(res[0]).toMatchObject({ id: p.id, available: 4, archived: false, discountPercent: pctOf.get(p.id) ?? 0 });
  expect(res[1].discountPercent).toBe(20);
  const notDeal = (
    await Promise.all([
      product(1),
      product(1),
      product(1),
      product(1),
      product(1),
      product(1),
      product(1),
      product(1),
      product(1),
      product(1),
      product(1),
    ])
  ).find((x) => !pctOf.has(x.id))!;
  expect((await cmd.get({ ids: [notDeal.id] }))[0].discountPercent).toBe(0);
});

test('reads agree with holds: the inStock filter, facets, totalCount and the deal list leave fully held products out', async () => {
  await ensureCategory(stack, admin, 'held-goods');
  const held = await product(2, { category: 'held-goods', name: 'Fully held' });
  const free = await product(2, { category: 'held-goods', name: 'Still free' });
  await cmd.hold({ cartId: `cart-${randomUUID()}`, productId: held.id, quantity: 2, expiresAt: inSeconds(600) });
  const list = ok(
    await stack.gql(
      `{ products(first: 10, filter: { category: "held-goods", inStock: true }) { edges { node { id stock } } totalCount facets { categories { slug count } } } }`,
    ),
  ).products;
  expect(list.edges.map((e: any) => e.node)).toEqual([{ id: free.id, stock: 2 }]);
  expect(list.totalCount).toBe(1);
  expect(list.facets.categories.find((c: any) => c.slug === 'held-goods')).toEqual({ slug: 'held-goods', count: 1 });
  const soldOut = ok(
    await stack.gql(
      `{ products(first: 10, filter: { category: "held-goods", inStock: false }) { edges { node { id stock inStock } } } }`,
    ),
  ).products;
  expect(soldOut.edges.map((e: any) => e.node)).toEqual([{ id: held.id, stock: 0, inStock: false }]);

  // A deal whose stock is fully held leaves the deal list at the next read (and is replaced).
  const dealIds = () =>
    stack.gql(`{ deals { product { id } } }`).then((r) => ok(r).deals.map((d: any) => d.product.id) as string[]);
  const victim = (await dealIds())[0];
  const [{ available }] = await cmd.get({ ids: [victim] });
  await cmd.hold({ cartId: `cart-${randomUUID()}`, productId: victim, quantity: available, expiresAt: inSeconds(600) });
  expect(await dealIds()).not.toContain(victim);
  expect(await svc(stack).store.randomAvailable(10_000)).not.toContain(victim);
});

test('an admin cannot remove stock that shoppers hold (until their holds lapse)', async () => {
  const p = await product(10);
  const cartId = `cart-${randomUUID()}`;
  await cmd.hold({ cartId, productId: p.id, quantity: 7, expiresAt: inSeconds(600) });
  const refused = await stack.gql(ADJUST, { id: p.id, delta: -4, reason: 'Damaged' }, admin);
  expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
  expect(fields(refused)).toEqual(['delta']);
  expect(refused.errors![0].message).toMatch(/Only 3 of the 10 on hand are not held/);
  expect(await store.level(p.id)).toEqual({ onHand: 10, held: 7, available: 3 });
  expect(ok(await stack.gql(ADJUST, { id: p.id, delta: -3, reason: 'Damaged' }, admin)).adjustStock).toEqual({
    id: p.id,
    stock: 0,
    inStock: false,
  });
  expect(ok(await stack.gql(ADJUST, { id: p.id, delta: 2, reason: 'Delivery' }, admin)).adjustStock.stock).toBe(2);
  await store.expireCart(cartId);
  expect(ok(await stack.gql(ADJUST, { id: p.id, delta: -9, reason: 'Inventory count' }, admin)).adjustStock).toEqual({
    id: p.id,
    stock: 0,
    inStock: false,
  });
});

test('malformed requests are BAD_USER_INPUT naming the field, for every command', async () => {
  const p = await product(1);
  const t = inSeconds(600);
  const hold = { cartId: 'c1', productId: p.id, quantity: 1, expiresAt: t };
  const cases: [Parameters<typeof cmd.raw>[0], unknown, string][] = [
    ['product.hold', null, 'request'],
    ['product.hold', [], 'request'],
    ['product.hold', { ...hold, cartId: '' }, 'cartId'],
    ['product.hold', { ...hold, cartId: 'has space' }, 'cartId'],
    ['product.hold', { ...hold, cartId: 'x'.repeat(129) }, 'cartId'],
    ['product.hold', { ...hold, cartId: 42 }, 'cartId'],
    ['product.hold', { ...hold, productId: 'nope' }, 'productId'],
    ['product.hold', { ...hold, quantity: 1.5 }, 'quantity'],
    ['product.hold', { ...hold, quantity: -1 }, 'quantity'],
    ['product.hold', { ...hold, quantity: 1000 }, 'quantity'],
    ['product.hold', { ...hold, quantity: '2' }, 'quantity'],
    ['product.hold', { ...hold, expiresAt: 'tomorrow' }, 'expiresAt'],
    ['product.hold', { ...hold, expiresAt: '2030-01-01' }, 'expiresAt'],
    ['product.hold', { ...hold, expiresAt: inSeconds(8 * 24 * 3600) }, 'expiresAt'],
    ['product.hold', { ...hold, expiresAt: undefined }, 'expiresAt'],
    ['product.holds.set', { cartId: 'c1', expiresAt: t, lines: 'all' }, 'lines'],
    [
      'product.holds.set',
      {
        cartId: 'c1',
        expiresAt: t,
        lines: [
          { productId: p.id, quantity: 1 },
          { productId: p.id, quantity: 2 },
        ],
      },
      'lines[1].productId',
    ],
    [
      'product.holds.set',
      { cartId: 'c1', expiresAt: t, lines: [{ productId: p.id, quantity: -2 }] },
      'lines[0].quantity',
    ],
    ['product.holds.set', { cartId: 'c1', lines: [] }, 'expiresAt'],
    ['product.release', {}, 'cartId'],
    ['product.commit', { orderId: 'o1', cartId: 'c1', lines: [] }, 'lines'],
    ['product.commit', { orderId: 'o1', cartId: 'c1', lines: [{ productId: p.id, quantity: 0 }] }, 'lines[0].quantity'],
    ['product.commit', { cartId: 'c1', lines: [{ productId: p.id, quantity: 1 }] }, 'orderId'],
    ['product.commit', { orderId: 'o1', lines: [{ productId: p.id, quantity: 1 }] }, 'cartId'],
    ['product.uncommit', { orderId: '' }, 'orderId'],
    ['product.uncommit', 'o1', 'request'],
  ];
  for (const [name, req, field] of cases) {
    const err = await failure(cmd.raw(name, req));
    expect({ name, req, code: err.code, field: err.extensions.field }).toEqual({
      name,
      req,
      code: 'BAD_USER_INPUT',
      field,
    });
  }
  // None of them left a trace.
  expect(await store.holds(p.id)).toEqual([]);
  expect(await store.sql(`SELECT 1 FROM stock_commit WHERE cart_id = 'c1'`)).toEqual([]);
});
