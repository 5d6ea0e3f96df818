import { randomUUID } from 'node:crypto';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../src';
import { ADJUST, adminToken, codes, createProduct, db, ensureCategory, fields, ok } from './helpers';

let stack: Stack;
const ALICE = randomUUID();
const BOB = randomUUID();
let alice: string;
let bob: string;
let sql: ReturnType<typeof db>;

beforeAll(async () => {
  stack = await startStack({ subgraphs: [productSubgraph], gateway: startGateway });
  alice = adminToken(stack, ALICE);
  bob = adminToken(stack, BOB);
  sql = db(stack);
  await ensureCategory(stack, alice, 'audio');
});
afterAll(() => stack?.stop());

const HISTORY = `query($id: ID!, $first: Int, $after: String) { stockHistory(productId: $id, first: $first, after: $after) {
  edges { cursor node { id delta reason resultingStock actorId createdAt } } pageInfo { hasNextPage endCursor } totalCount } }`;

async function history(id: string) {
  return ok(await stack.gql(HISTORY, { id, first: 100 }, alice)).stockHistory.edges.map((e: any) => e.node);
}

test('every adjustment is recorded with its delta, reason, resulting level and actor, newest first', async () => {
  const p = await createProduct(stack, alice, { stock: 3 });
  expect(ok(await stack.gql(ADJUST, { id: p.id, delta: 10, reason: 'Delivery #42' }, alice)).adjustStock).toEqual({
    id: p.id,
    stock: 13,
    inStock: true,
  });
  expect(
    ok(await stack.gql(ADJUST, { id: p.id, delta: -13, reason: ' Damaged in storage ' }, bob)).adjustStock,
  ).toEqual({ id: p.id, stock: 0, inStock: false });
  const rows = await history(p.id);
  expect(
    rows.map(({ delta, reason, resultingStock, actorId }: any) => ({ delta, reason, resultingStock, actorId })),
  ).toEqual([
    { delta: -13, reason: 'Damaged in storage', resultingStock: 0, actorId: BOB },
    { delta: 10, reason: 'Delivery #42', resultingStock: 13, actorId: ALICE },
    { delta: 3, reason: 'Initial stock', resultingStock: 3, actorId: ALICE },
  ]);
  const events = await sql(
    `SELECT payload FROM outbox WHERE subject = 'product.stock_adjusted' AND payload->'data'->>'productId' = ? ORDER BY created_at`,
    [p.id],
  );
  expect(events.map((e: any) => e.payload.data)).toEqual([
    { productId: p.id, movementId: rows[1].id, delta: 10, reason: 'Delivery #42', onHand: 13, actorId: ALICE },
    { productId: p.id, movementId: rows[0].id, delta: -13, reason: 'Damaged in storage', onHand: 0, actorId: BOB },
  ]);
});

test('a change that would make stock negative is refused and leaves no trace', async () => {
  const p = await createProduct(stack, alice, { stock: 2 });
  const res = await stack.gql(ADJUST, { id: p.id, delta: -3, reason: 'Too many' }, alice);
  expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  expect(fields(res)).toEqual(['delta']);
  expect(res.errors![0].message).toMatch(/Only 2 on hand/);
  expect(ok(await stack.gql(`query($id: ID!) { product(id: $id) { stock } }`, { id: p.id })).product.stock).toBe(2);
  expect(await history(p.id)).toHaveLength(1);
  expect(
    await sql(`SELECT 1 FROM outbox WHERE subject = 'product.stock_adjusted' AND payload->'data'->>'productId' = ?`, [
      p.id,
    ]),
  ).toHaveLength(0);
});

test('two concurrent -6 on a stock of 10 → exactly one succeeds, final 4, one movement', async () => {
  const p = await createProduct(stack, alice, { stock: 10 });
  const results = await Promise.all(
    [1, 2].map(() => stack.gql(ADJUST, { id: p.id, delta: -6, reason: 'Order' }, alice)),
  );
  expect(results.filter((r) => !r.errors).map((r) => r.data!.adjustStock.stock)).toEqual([4]);
  expect(results.filter((r) => r.errors).map(fields)).toEqual([['delta']]);
  const rows = await history(p.id);
  expect(rows.map((r: any) => [r.delta, r.resultingStock])).toEqual([
    [-6, 4],
    [10, 10],
  ]);
  const [{ on_hand }] = await sql(`SELECT on_hand FROM products WHERE id = ?`, [p.id]);
  expect(on_hand).toBe(4);
});

test('many concurrent changes: none lost, each movement records the level it produced, in order', async () => {
  const p = await createProduct(stack, alice, { stock: 5 });
  const deltas = [3, -2, 7, -4, 1, 6, -5, 2, 4, -3, 8, 1, -6, 2, 3, -1, 5, -2, 4, 1];
  const results = await Promise.all(
    deltas.map((delta, i) => stack.gql(ADJUST, { id: p.id, delta, reason: `change ${i}` }, i % 2 ? alice : bob)),
  );
  const applied = deltas.filter((_, i) => !results[i].errors);
  // Whichever were refused, the final level is exactly the start plus the applied deltas, and never went negative.
  const [{ on_hand }] = await sql(`SELECT on_hand FROM products WHERE id = ?`, [p.id]);
  expect(on_hand).toBe(5 + applied.reduce((a, b) => a + b, 0));
  const rows = (await history(p.id)).reverse();
  expect(rows).toHaveLength(applied.length + 1);
  let level = 0;
  for (const r of rows) {
    level += r.delta;
    expect(r.resultingStock).toBe(level);
    expect(level).toBeGreaterThanOrEqual(0);
  }
  for (const r of results.filter((x) => x.errors)) expect(fields(r)).toEqual(['delta']);
});

test('validation: delta 0, empty or long reason, unknown product', async () => {
  const p = await createProduct(stack, alice, { stock: 1 });
  for (const [vars, field] of [
    [{ delta: 0, reason: 'x' }, 'delta'],
    [{ delta: 2_000_000_000, reason: 'x' }, 'delta'],
    [{ delta: 1, reason: '' }, 'reason'],
    [{ delta: 1, reason: '   ' }, 'reason'],
    [{ delta: 1, reason: 'r'.repeat(201) }, 'reason'],
    [{ delta: 1, reason: 'nul\u0000' }, 'reason'],
  ] as const) {
    const res = await stack.gql(ADJUST, { id: p.id, ...vars }, alice);
    expect({ vars, codes: codes(res), fields: fields(res) }).toEqual({
      vars,
      codes: ['BAD_USER_INPUT'],
      fields: [field],
    });
  }
  expect(ok(await stack.gql(ADJUST, { id: p.id, delta: 1, reason: 'r'.repeat(200) }, alice)).adjustStock.stock).toBe(2);
  expect(codes(await stack.gql(ADJUST, { id: randomUUID(), delta: 1, reason: 'x' }, alice))).toEqual(['NOT_FOUND']);
  expect(codes(await stack.gql(ADJUST, { id: 'nope', delta: 1, reason: 'x' }, alice))).toEqual(['NOT_FOUND']);
  // Over the maximum stock level.
  const over = await stack.gql(ADJUST, { id: p.id, delta: 1_000_000_000, reason: 'x' }, alice);
  expect(fields(over)).toEqual(['delta']);
});

test('stockHistory pages newest first with cursors; totalCount; unknown product and bad cursor', async () => {
  const p = await createProduct(stack, alice, { stock: 1 });
  for (let i = 1; i <= 4; i++) ok(await stack.gql(ADJUST, { id: p.id, delta: i, reason: `r${i}` }, alice));
  const reasons: string[] = [];
  let after: string | null = null;
  let pages = 0;
  for (;;) {
    const page: any = ok(await stack.gql(HISTORY, { id: p.id, first: 2, after }, alice)).stockHistory;
    expect(page.totalCount).toBe(5);
    reasons.push(...page.edges.map((e: any) => e.node.reason));
    pages++;
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  expect(pages).toBe(3);
  expect(reasons).toEqual(['r4', 'r3', 'r2', 'r1', 'Initial stock']);
  expect(codes(await stack.gql(HISTORY, { id: randomUUID() }, alice))).toEqual(['NOT_FOUND']);
  const bad = await stack.gql(
    HISTORY,
    { id: p.id, after: Buffer.from(JSON.stringify(['1; DROP TABLE x'])).toString('base64url') },
    alice,
  );
  expect(fields(bad)).toEqual(['after']);
});
