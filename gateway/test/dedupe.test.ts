import { signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import { createProductSubgraph } from '../../subgraphs/product/src';
import userSubgraph, { UserService } from '../../subgraphs/user/src';
import { adminToken, createProduct, ensureCategory, ok } from '../../subgraphs/product/test/helpers';

/**
 * Identical in-flight subgraph queries are merged into one request — but only for the same identity: two users
 * asking the same `me` query at the same moment each get their own account.
 */
let stack: Stack;
let counting = false;
let statements = 0;

beforeAll(async () => {
  stack = await startStack({
    subgraphs: [userSubgraph, createProductSubgraph({ onQuery: (line) => { if (counting && line.includes('[query]')) statements++; } })],
    gateway: (deps) => startGateway({ ...deps, perf: { dedupe: true, responseCache: false } }),
  });
  const admin = adminToken(stack);
  await ensureCategory(stack, admin, 'audio');
  for (let i = 0; i < 3; i++) await createProduct(stack, admin, { name: `Dedupe item ${i}` });
});
afterAll(async () => {
  await stack?.stop();
});

const PAGE = `{ products(first: 3) { edges { node { id name } } } }`;

test('40 identical anonymous queries at once cost far fewer product statements than 40 one after another', async () => {
  statements = 0;
  counting = true;
  ok(await stack.gql(PAGE));
  counting = false;
  const one = statements;
  expect(one).toBeGreaterThan(0);

  statements = 0;
  counting = true;
  const results = await Promise.all(Array.from({ length: 40 }, () => stack.gql(PAGE)));
  counting = false;
  for (const r of results) expect(ok(r).products.edges).toHaveLength(3);
  expect(statements).toBeLessThan(40 * one);
});

test('the same query from different users at the same moment is never merged across them', async () => {
  const accounts = (stack.services.user as UserService).accounts;
  const users: { id: string; email: string; token: string }[] = [];
  for (let i = 0; i < 4; i++) {
    const u = await accounts.register({ email: `dedupe${i}.${Date.now()}@shop.test`, password: 'a-long-Passphrase-9', firstName: `User ${"ABCD"[i]}` });
    users.push({ id: u.id, email: u.email, token: signAccessToken(stack.env.keys, { sub: u.id, role: 'USER' }) });
  }
  const calls = Array.from({ length: 40 }, (_, i) => users[i % users.length]);
  const answers = await Promise.all(calls.map((u) => stack.gql(`{ me { id email } }`, {}, u.token)));
  answers.forEach((res, i) => {
    expect(ok(res).me).toEqual({ id: calls[i].id, email: calls[i].email });
  });
});
