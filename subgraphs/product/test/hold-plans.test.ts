import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import { Stack } from '@shop/kernel/testing';
import { createProduct, svc } from './helpers';
import { inSeconds, productConnection, stockCommands, stockDb, stockSuite } from './stock-commands';

/**
 * The plans PostgreSQL keeps for a hold's and a checkout's statements. They are PREPAREd once per pooled connection
 * and run as generic plans (SqlStatement.prepare), so a plan made early — on a near-empty table, or with statistics of
 * another shape — serves every later request on that connection. Such a plan must not read the product's other
 * holders: in a sale, every add to cart and every checkout of the hot product would read all of its carts' rows
 * (bench/README.md, sixteenth round: 12.5 million hold rows read while 5,000 carts held one product).
 */
let stack: Stack;
let cmd: ReturnType<typeof stockCommands>;
let store: ReturnType<typeof stockDb>;
let admin: string;

const suite = stockSuite('test-cart');
beforeAll(() => void ({ stack, cmd, store, admin } = suite));

type PlanNode = {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
};

/** Rows read per table by one run of a plan (every scan node: rows returned plus rows its filter removed). */
function rowsRead(plan: PlanNode): Record<string, number> {
  const read: Record<string, number> = {};
  const walk = (n: PlanNode) => {
    if (n['Relation Name'] && n['Node Type'] !== 'ModifyTable')
      read[n['Relation Name']] =
        (read[n['Relation Name']] ?? 0) +
        ((n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0)) * (n['Actual Loops'] ?? 0);
    n.Plans?.forEach(walk);
  };
  walk(plan);
  return read;
}

/**
 * The statements the service PREPAREd and the EXECUTEs it sent (the last one of each), from its batches as sent
 * (PipelinedTransaction joins a batch's statements with ';\n').
 */
function sentStatements(batches: string[]): { prepares: Map<string, string>; executes: Map<string, string> } {
  const prepares = new Map<string, string>();
  const executes = new Map<string, string>();
  for (const part of batches.flatMap((b) => b.split(';\n'))) {
    const prepare = /^PREPARE (pp_\w+) AS /.exec(part);
    if (prepare) prepares.set(prepare[1], part);
    const execute = /^EXECUTE (pp_\w+)\b/.exec(part);
    if (execute) executes.set(execute[1], part);
  }
  return { prepares, executes };
}

/**
 * On a connection of its own: the service's statements PREPAREd and each one's plan made now, on the tables as they
 * are (run generic, as the service runs them, in a transaction rolled back).
 */
async function plannedNow(sent: ReturnType<typeof sentStatements>): Promise<Client> {
  const client = await productConnection(stack);
  for (const text of sent.prepares.values()) await client.query(text);
  for (const execute of sent.executes.values()) {
    await client.query('BEGIN; SET LOCAL plan_cache_mode = force_generic_plan');
    await client.query(execute);
    await client.query('ROLLBACK');
  }
  return client;
}

/** Rows each statement's kept plan reads now, per table (EXPLAIN ANALYZE, in a transaction rolled back). */
async function readsOfKeptPlans(client: Client, sent: ReturnType<typeof sentStatements>) {
  const reads: Record<string, number>[] = [];
  for (const execute of sent.executes.values()) {
    await client.query('BEGIN; SET LOCAL plan_cache_mode = force_generic_plan');
    const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${execute}`);
    await client.query('ROLLBACK');
    reads.push(rowsRead((rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0].Plan));
    if (process.env.SHOW_READS) console.log(JSON.stringify(reads[reads.length - 1]), execute.slice(0, 60));
  }
  return reads;
}

/** The most hold rows one statement may read: the cart's own two, by each of its few lookups of them. */
const OWN_READS = 10;

/** `count` carts holding one unit each of the product, written as rows. */
const holders = (productId: string, count: number) =>
  store.sql(
    `INSERT INTO stock_hold (cart_id, product_id, quantity, expires_at)
    SELECT 'holder-' || gen_random_uuid(), ?::uuid, 1, ?::timestamptz FROM generate_series(1, ?)`,
    [productId, inSeconds(600), count],
  );

test('a hold and a checkout read a few hold rows, not every holder of the product, whatever the table held when their plans were made', async () => {
  const hot = await createProduct(stack, admin, { stock: 1000 });
  const other = await createProduct(stack, admin, { stock: 1000 });
  const cartId = `cart-${randomUUID()}`;
  // A cart adds two products (the second hold moves the first one's deadline) and checks out: every statement of a
  // hold and of a commit, as the service sends them, on a table that holds nothing else (a shop's first carts).
  const execute = jest.spyOn(
    svc(stack).orm.em.getConnection() as unknown as { executeQuery(sql: string): Promise<unknown> },
    'executeQuery',
  );
  let sent: ReturnType<typeof sentStatements>;
  try {
    await cmd.hold({ cartId, productId: other.id, quantity: 1, expiresAt: inSeconds(600) });
    await cmd.hold({ cartId, productId: hot.id, quantity: 2, expiresAt: inSeconds(600) });
    const lines = [
      { productId: hot.id, quantity: 2 },
      { productId: other.id, quantity: 1 },
    ];
    expect(await cmd.commit({ orderId: `order-${randomUUID()}`, cartId, lines })).toEqual({ committed: true });
    sent = sentStatements(execute.mock.calls.map(([text]) => String(text)));
  } finally {
    execute.mockRestore();
  }
  // The unlocked snapshot, the cart's locks, the hold's decision and writes; the order's lock, the product locks, the
  // sale: all prepared, each planned by this service's connections before any other cart held the product.
  expect(sent.executes.size).toBe(6);
  expect([...sent.executes.keys()].every((name) => sent.prepares.has(name))).toBe(true);
  // The cart holds both again, so that its own lookups find its rows.
  await cmd.hold({ cartId, productId: other.id, quantity: 1, expiresAt: inSeconds(600) });
  await cmd.hold({ cartId, productId: hot.id, quantity: 2, expiresAt: inSeconds(600) });

  const young = await plannedNow(sent);
  try {
    // Then the sale: 400 carts hold the hot product.
    await holders(hot.id, 400);
    // The same plans read this cart's two rows, a few times over, and the product's lapsed holds (none here). Before:
    // the cart's own hold was looked up through stock_hold_product_idx, reading every live hold of the product (400
    // per hold and per sale, in these plans).
    for (const read of await readsOfKeptPlans(young, sent)) expect(read.stock_hold ?? 0).toBeLessThanOrEqual(OWN_READS);
  } finally {
    await young.end();
  }

  // Plans made after statistics that have seen the sale (an ANALYZE) and a catalog of 2,000 more products.
  await store.sql(
    `INSERT INTO products (id, sku, name, category_slug, price_amount, on_hand)
    SELECT gen_random_uuid(), 'PLAN-' || g || '-' || ?, 'Catalog item', 'audio', 1000, 5 FROM generate_series(1, 2000) g`,
    [randomUUID()],
  );
  await store.sql('ANALYZE stock_hold');
  await store.sql('ANALYZE products');
  await store.sql('ANALYZE product_hold_total');
  const grown = await plannedNow(sent);
  try {
    // Before: the start of the cart's run of holds was read through stock_hold_expires_idx (every live hold of every
    // product), and the cart's locks scanned the whole catalog and its totals (an OR with a subquery: no index).
    for (const read of await readsOfKeptPlans(grown, sent)) {
      expect(read.stock_hold ?? 0).toBeLessThanOrEqual(OWN_READS);
      expect(read.products ?? 0).toBeLessThanOrEqual(4);
      expect(read.product_hold_total ?? 0).toBeLessThanOrEqual(4);
    }
  } finally {
    await grown.end();
  }
  // The holds were counted as ever.
  expect(await store.level(hot.id)).toEqual({ onHand: 998, held: 402, available: 596 });
});
