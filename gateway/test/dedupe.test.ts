import { Client } from 'pg';
import { databaseName, signAccessToken } from '@shop/kernel';
import { eventually, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import { createProductSubgraph } from '../../subgraphs/product/src';
import userSubgraph, { StartedUser } from '../../subgraphs/user/src';
import { adminToken, createProduct, ensureCategory, ok } from '../../subgraphs/product/test/helpers';

/**
 * Identical in-flight subgraph queries are merged into one request — but only for the same identity: two users
 * asking the same `me` query at the same moment each get their own account.
 */
let stack: Stack;
let counting = false;
let statements = 0;
/** The page's own statements (the outbox relay polls the same database in the background). */
const PAGE_SQL = /\[query\].*\bFROM products\b/;

beforeAll(async () => {
  stack = await startStack({
    subgraphs: [
      userSubgraph,
      createProductSubgraph({
        onQuery: (line) => {
          if (counting && PAGE_SQL.test(line)) statements++;
        },
      }),
    ],
    gateway: (deps) => startGateway({ ...deps, perf: { dedupe: true, responseCache: false } }),
  });
  const admin = adminToken(stack);
  await ensureCategory(stack, admin, 'audio');
  for (let i = 0; i < 3; i++) await createProduct(stack, admin, { name: `Dedupe item ${i}` });
});
afterAll(async () => {
  await stack?.stop();
});

function productDbUrl(): string {
  const u = new URL(stack.env.config.postgresUrl);
  u.pathname = `/${databaseName(stack.env.config, 'product')}`;
  return u.toString();
}

/** Statements of the product database waiting for a lock (the page queries behind the test's LOCK TABLE). */
async function waitingOnLock(): Promise<number> {
  const c = new Client({ connectionString: productDbUrl() });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return rows[0].n;
  } finally {
    await c.end();
  }
}

const PAGE = `{ products(first: 3) { edges { node { id name } } } }`;

test('40 identical anonymous queries in flight at once cost the product statements of one', async () => {
  statements = 0;
  counting = true;
  ok(await stack.gql(PAGE));
  counting = false;
  const one = statements;
  expect(one).toBeGreaterThan(0);

  // The products table is locked while the 40 are sent, so every one of them is in flight at the same moment: dedupe
  // merges identical in-flight queries of one identity into one subgraph request, i.e. one run of the page's SQL.
  const db = new Client({ connectionString: productDbUrl() });
  await db.connect();
  try {
    await db.query('BEGIN');
    await db.query('LOCK TABLE products IN ACCESS EXCLUSIVE MODE');
    statements = 0;
    counting = true;
    const answers = Promise.all(Array.from({ length: 40 }, () => stack.gql(PAGE)));
    await eventually('the first page query waiting on the lock', async () => (await waitingOnLock()) > 0);
    await new Promise((r) => setTimeout(r, 1000)); // time for the gateway to take in all 40 (a few ms of work each)
    await db.query('COMMIT');
    for (const r of await answers) expect(ok(r).products.edges).toHaveLength(3);
    counting = false;
  } finally {
    await db.end();
  }
  // Without dedupe: 40 × one. One straggler that reached the fetcher after the lock was released is allowed.
  expect(statements).toBeLessThanOrEqual(2 * one);
});

test('the same query from different users at the same moment is never merged across them', async () => {
  const accounts = (stack.services.user as StartedUser).accounts;
  const users: { id: string; email: string; token: string }[] = [];
  for (let i = 0; i < 4; i++) {
    const u = await accounts.register({
      email: `dedupe${i}.${Date.now()}@shop.test`,
      password: 'a-long-Passphrase-9',
      firstName: `User ${'ABCD'[i]}`,
    });
    users.push({ id: u.id, email: u.email, token: signAccessToken(stack.env.keys, { sub: u.id, role: 'USER' }) });
  }
  const calls = Array.from({ length: 40 }, (_, i) => users[i % users.length]);
  const answers = await Promise.all(calls.map((u) => stack.gql(`{ me { id email } }`, {}, u.token)));
  answers.forEach((res, i) => {
    expect(ok(res).me).toEqual({ id: calls[i].id, email: calls[i].email });
  });
});
