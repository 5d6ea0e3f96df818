import { randomUUID } from 'node:crypto';
import { AppError } from '@shop/kernel';
import { eventually, Stack } from '@shop/kernel/testing';
import { StockStore } from '../src/store/stock.store';
import { createProduct, svc } from './helpers';
import { inSeconds, productConnection, stockCommands, stockDb, stockSuite } from './stock-commands';

/**
 * The per-product running totals of held units (`product_hold_total`, kept by triggers on `stock_hold`): what a stock
 * decision and an availability read use instead of summing every cart's hold of the product.
 */
let stack: Stack;
let cmd: ReturnType<typeof stockCommands>;
let store: ReturnType<typeof stockDb>;
let admin: string;

const suite = stockSuite('test-cart');
beforeAll(() => void ({ stack, cmd, store, admin } = suite));

const product = (stock: number) => createProduct(stack, admin, { stock });

/** `count` carts holding `quantity` each of the product until `expiresAt`, written as rows (the trigger counts them). */
const holders = (productId: string, count: number, expiresAt: string, quantity = 1) =>
  store.sql(
    `INSERT INTO stock_hold (cart_id, product_id, quantity, expires_at)
    SELECT 'holder-' || gen_random_uuid(), ?::uuid, ?, ?::timestamptz FROM generate_series(1, ?)`,
    [productId, quantity, expiresAt, count],
  );

/** Rows PostgreSQL read from stock_hold to run the statement (EXPLAIN ANALYZE, every scan node of the table). */
async function holdRowsRead(text: string, params: unknown[]): Promise<number> {
  const [row] = await store.sql(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params);
  let rows = 0;
  const walk = (node: any) => {
    if (node['Relation Name'] === 'stock_hold')
      rows += (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'];
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(row['QUERY PLAN'][0].Plan);
  return rows;
}

test('a stock decision and an availability read take the same few hold rows whether 3 or 600 carts hold the product', async () => {
  const few = await product(1000);
  const many = await product(1000);
  await holders(few.id, 3, inSeconds(600));
  await holders(many.id, 600, inSeconds(600));
  // Lapsed holds that no release has deleted yet are the only rows read: they are subtracted from the total.
  await holders(few.id, 2, inSeconds(-60));
  await holders(many.id, 2, inSeconds(-60));
  const cartId = `cart-${randomUUID()}`;
  await cmd.hold({ cartId, productId: many.id, quantity: 4, expiresAt: inSeconds(600) });
  await cmd.hold({ cartId, productId: few.id, quantity: 4, expiresAt: inSeconds(600) });

  const stock = new StockStore();
  const decision = (id: string) => stock.decisionStateSql([id], cartId, [cartId]);
  const view = `SELECT p.on_hand, h.held FROM products p LEFT JOIN product_held h ON h.product_id = p.id WHERE p.id = ?`;
  await store.sql('ANALYZE stock_hold');
  const read = async (id: string) => {
    const q = decision(id);
    return { decision: await holdRowsRead(q.text, q.params), view: await holdRowsRead(view, [id]) };
  };
  // At most this cart's 2 holds (own, run start) and the 4 lapsed holds in the table, whoever else holds the product;
  // summing, the 600-cart product read every one of its rows per statement.
  for (const id of [few.id, many.id]) {
    const { decision, view } = await read(id);
    expect(decision).toBeLessThanOrEqual(8);
    expect(view).toBeLessThanOrEqual(4);
  }
  // And the numbers are the ones the rows give.
  const [state] = await store.sql(decision(many.id).text, decision(many.id).params);
  expect({ own: Number(state.own), others: Number(state.others) }).toEqual({ own: 4, others: 600 });
  expect(await store.level(many.id)).toEqual({ onHand: 1000, held: 604, available: 396 });
  expect(await store.level(few.id)).toEqual({ onHand: 1000, held: 7, available: 993 });
  expect((await cmd.get({ ids: [many.id, few.id] })).map((p: { available: number }) => p.available)).toEqual([
    396, 993,
  ]);
  const more = await cmd.hold({
    cartId: `cart-${randomUUID()}`,
    productId: many.id,
    quantity: 396,
    expiresAt: inSeconds(600),
  });
  expect(more.available).toBe(0);
});

test('a release locks the totals before any hold row: it never holds a cart row while it waits for a total', async () => {
  const a = await product(5);
  const b = await product(5);
  const cartId = `cart-${randomUUID()}`;
  await cmd.hold({ cartId, productId: a.id, quantity: 1, expiresAt: inSeconds(600) });
  await cmd.hold({ cartId, productId: b.id, quantity: 2, expiresAt: inSeconds(600) });

  // Another transaction holds one of the totals, as a command deciding on that product does.
  const blocker = await productConnection(stack);
  const probe = await productConnection(stack);
  try {
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM product_hold_total WHERE product_id = $1 FOR UPDATE', [[a.id, b.id].sort()[1]]);
    const release = cmd.release({ cartId });
    await eventually('the release waits for the total', async () => {
      const { rows } = await probe.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return rows[0].n === 1;
    });
    // Meanwhile the cart's hold rows are free: a command of this cart, which takes the totals first and the hold rows
    // after, can never be waiting on the release while the release waits on it.
    await probe.query('BEGIN');
    const { rows } = await probe.query('SELECT product_id FROM stock_hold WHERE cart_id = $1 FOR UPDATE NOWAIT', [
      cartId,
    ]);
    expect(rows).toHaveLength(2);
    await probe.query('ROLLBACK');
    await blocker.query('COMMIT');
    expect(await release).toEqual({ released: 2 });
  } finally {
    await blocker.end();
    await probe.end();
  }
  expect(await store.cartHolds(cartId)).toEqual([]);
  expect(await store.level(b.id)).toEqual({ onHand: 5, held: 0, available: 5 });
});

test('holds, merges, releases, sales, returns and lapses of the same products at once: no deadlock, every total exact, never oversold', async () => {
  const products = [await product(10), await product(10), await product(10)].map((p) => p.id);
  const [a, b, c] = products;
  const t = () => inSeconds(600);
  const failures: unknown[] = [];
  // Only a lack of stock may refuse a command here; anything else (a deadlock above all) fails the test.
  const attempt = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      if (!(err instanceof AppError && err.extensions.code === 'INSUFFICIENT_STOCK')) failures.push(err);
    }
  };
  const scripts: ((i: number) => Promise<void>)[] = [
    async (i) => {
      const cartId = `buyer-${i}-${randomUUID()}`;
      await attempt(cmd.hold({ cartId, productId: a, quantity: 1, expiresAt: t() }));
      await attempt(cmd.hold({ cartId, productId: c, quantity: 1, expiresAt: t() }));
      const lines = (await store.cartHolds(cartId)).map((h) => ({ productId: h.productId, quantity: h.quantity }));
      if (lines.length) await attempt(cmd.commit({ orderId: `order-${randomUUID()}`, cartId, lines }));
    },
    async (i) => {
      const cartId = `browser-${i}-${randomUUID()}`;
      for (const productId of [c, b, a]) await attempt(cmd.hold({ cartId, productId, quantity: 2, expiresAt: t() }));
      await attempt(cmd.release({ cartId }));
    },
    async (i) => {
      const guest = `guest-${i}-${randomUUID()}`;
      const user = `user-${i}-${randomUUID()}`;
      await attempt(cmd.hold({ cartId: guest, productId: b, quantity: 1, expiresAt: t() }));
      await attempt(cmd.hold({ cartId: guest, productId: a, quantity: 1, expiresAt: t() }));
      await attempt(cmd.hold({ cartId: user, productId: c, quantity: 1, expiresAt: t() }));
      await attempt(
        cmd.setHolds({
          cartId: user,
          releaseCartId: guest,
          expiresAt: t(),
          lines: [
            { productId: c, quantity: 1 },
            { productId: a, quantity: 1 },
            { productId: b, quantity: 1 },
          ],
        }),
      );
    },
    async (i) => {
      const cartId = `lapsing-${i}-${randomUUID()}`;
      await attempt(cmd.hold({ cartId, productId: b, quantity: 1, expiresAt: t() }));
      await attempt(cmd.hold({ cartId, productId: a, quantity: 1, expiresAt: t() }));
      await store.expireCart(cartId);
      // Deletes the lapsed holds (never revived) and holds c.
      await attempt(cmd.hold({ cartId, productId: c, quantity: 1, expiresAt: t() }));
    },
    async (i) => {
      const cartId = `returner-${i}-${randomUUID()}`;
      const orderId = `order-${randomUUID()}`;
      await attempt(cmd.hold({ cartId, productId: b, quantity: 1, expiresAt: t() }));
      await attempt(cmd.commit({ orderId, cartId, lines: [{ productId: b, quantity: 1 }] }));
      await attempt(cmd.uncommit({ orderId }));
    },
  ];
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: 25 }, (_, i) => scripts[i % scripts.length](round * 100 + i)));
    expect(failures).toEqual([]);
    expect(await store.totalsDrift()).toEqual([]);
    for (const id of products) {
      const level = await store.level(id);
      const [live] = await store.sql(
        `SELECT coalesce(sum(quantity), 0)::int AS n FROM stock_hold WHERE product_id = ? AND expires_at > now()`,
        [id],
      );
      const [sold] = await store.sql(
        `SELECT coalesce(sum(quantity), 0)::int AS n FROM stock_commit WHERE product_id = ? AND returned_at IS NULL`,
        [id],
      );
      expect(level.held).toBe(live.n);
      expect(level.onHand).toBe(10 - sold.n);
      expect(level.onHand).toBeGreaterThanOrEqual(level.held);
    }
  }
});

test('the migration counts the holds that exist when it runs, and going down restores the summed view', async () => {
  const p = await product(20);
  const migrator = svc(stack).orm.getMigrator();
  await migrator.down();
  try {
    // Holds written while no trigger counts them: the migration must find them.
    await holders(p.id, 3, inSeconds(600), 2);
    await holders(p.id, 1, inSeconds(-60), 5);
    expect(await store.level(p.id)).toEqual({ onHand: 20, held: 6, available: 14 });
  } finally {
    await migrator.up();
  }
  const [total] = await store.sql(`SELECT units::int FROM product_hold_total WHERE product_id = ?`, [p.id]);
  expect(total.units).toBe(11);
  expect(await store.level(p.id)).toEqual({ onHand: 20, held: 6, available: 14 });
  const cartId = `cart-${randomUUID()}`;
  expect(
    await cmd.hold({ cartId, productId: p.id, quantity: 15, expiresAt: inSeconds(600) }).catch((e) => e.extensions),
  ).toEqual({ code: 'INSUFFICIENT_STOCK', productId: p.id, available: 14 });
  expect((await cmd.hold({ cartId, productId: p.id, quantity: 14, expiresAt: inSeconds(600) })).available).toBe(0);
});
