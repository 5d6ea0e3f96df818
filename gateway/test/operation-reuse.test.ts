import v8 from 'node:v8';
import vm from 'node:vm';
import { parse } from 'graphql';
import { signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import { operationReuseStats, reusingOperationFromDocument } from '../src/perf/operationReuse';
import productSubgraph from '../../subgraphs/product/src';
import userSubgraph, { StartedUser } from '../../subgraphs/user/src';
import { adminToken, createProduct, ensureCategory, ok } from '../../subgraphs/product/test/helpers';

/**
 * The gateway reuses the operation @apollo/gateway builds from a document (GATEWAY_OPERATION_REUSE, on by default):
 * one object per document serves every request with that document. Nothing of one request may reach another:
 * variables, the caller, skipped fields, errors and partial data are each request's own, exactly as when the
 * operation is built afresh (the first request of a document builds it; the later ones reuse it).
 */
let stack: Stack;
const users: { id: string; email: string; token: string }[] = [];
let admin: string;

beforeAll(async () => {
  stack = await startStack({
    subgraphs: [userSubgraph, productSubgraph],
    gateway: (deps) =>
      startGateway({ ...deps, perf: { operationReuse: true, responseCache: false, entityCache: false } }),
  });
  admin = adminToken(stack);
  await ensureCategory(stack, admin, 'audio');
  await createProduct(stack, admin, { name: 'Reuse alpha speaker' });
  await createProduct(stack, admin, { name: 'Reuse beta turntable' });
  const accounts = (stack.services.user as StartedUser).accounts;
  for (let i = 0; i < 2; i++) {
    const u = await accounts.register({
      email: `reuse${i}.${Date.now()}@shop.test`,
      password: 'a-long-Passphrase-9',
      firstName: `Reuser ${'AB'[i]}`,
    });
    users.push({ id: u.id, email: u.email, token: signAccessToken(stack.env.keys, { sub: u.id, role: 'USER' }) });
  }
});
afterAll(async () => {
  await stack?.stop();
});

const SEARCH = `query ReuseSearch($q: String, $withPrice: Boolean!) {
  products(filter: { search: $q }, first: 5) {
    edges { node { name price @include(if: $withPrice) { amount } } }
  }
}`;

test('the same document with different variables: each answer is its own request’s (search words, @include)', async () => {
  const before = { ...operationReuseStats };
  const alpha = ok(await stack.gql(SEARCH, { q: 'alpha', withPrice: true }));
  const beta = ok(await stack.gql(SEARCH, { q: 'beta', withPrice: false }));
  const alphaAgain = ok(await stack.gql(SEARCH, { q: 'alpha', withPrice: false }));
  expect(alpha.products.edges.map((e: any) => e.node)).toEqual([
    { name: 'Reuse alpha speaker', price: { amount: 1000 } },
  ]);
  expect(beta.products.edges.map((e: any) => e.node)).toEqual([{ name: 'Reuse beta turntable' }]);
  expect(alphaAgain.products.edges.map((e: any) => e.node)).toEqual([{ name: 'Reuse alpha speaker' }]);
  // The later two reused the operation the first built (the mechanism under test is really on).
  expect(operationReuseStats.hits - before.hits).toBeGreaterThanOrEqual(2);
  expect(operationReuseStats.builds - before.builds).toBeLessThanOrEqual(1);
});

test('the same document from different users: each gets their own account, in one burst', async () => {
  const ME = `query ReuseMe { me { id email } products(first: 1) { edges { node { name } } } }`;
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) => users[i % 2]).map(async (u) => ({
      u,
      res: await stack.gql(ME, {}, u.token),
    })),
  );
  for (const { u, res } of answers) expect(ok(res).me).toEqual({ id: u.id, email: u.email });
  const anonymous = ok(await stack.gql(ME));
  expect(anonymous.me).toBeNull();
});

test('errors from a subgraph are shaped the same on a reused operation: codes, paths, null bubbling, per caller', async () => {
  const product = ok(await stack.gql(`{ products(first: 1) { edges { node { id } } } }`)).products.edges[0].node.id;
  const Q = `query ReuseErrors($id: ID!) {
    products(first: 1) { edges { node { name } } }
    stockHistory(productId: $id, first: 1) { edges { node { delta } } }
  }`;
  const shape = (res: Awaited<ReturnType<Stack['gql']>>) => ({
    data: res.data,
    errors: res.errors?.map((e: any) => ({ message: e.message, path: e.path, code: e.extensions?.code })),
  });
  const first = shape(await stack.gql(Q, { id: product }, users[0].token)); // builds
  const again = shape(await stack.gql(Q, { id: product }, users[1].token)); // reuses
  expect(first.errors?.map((e) => e.code)).toEqual(['FORBIDDEN']);
  expect(first.errors?.[0].path).toEqual(['stockHistory']);
  // stockHistory is non-null: its error nulls the whole answer (the shaping that walks the reused operation does it).
  expect(first.data).toBeNull();
  expect(again).toEqual(first);
  // Anonymous: another error for the same document; an admin: no error at all.
  const anonymous = shape(await stack.gql(Q, { id: product }));
  expect(anonymous.errors?.map((e) => e.code)).toEqual(['UNAUTHENTICATED']);
  const asAdmin = await stack.gql(Q, { id: product }, admin);
  expect(asAdmin.errors).toBeUndefined();
  expect(asAdmin.data?.stockHistory.edges.length).toBeGreaterThan(0);
  // A document that fails validation is never cached as an operation: the same error every time.
  const bad = `{ products(first: 1) { edges { node { nope } } } }`;
  const e1 = await stack.gql(bad);
  const e2 = await stack.gql(bad);
  expect(e1.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(e2.errors).toEqual(e1.errors);
});

describe('reusingOperationFromDocument', () => {
  const schema = {};
  const doc = parse(`query A { a ...F } fragment F on Query { b }`);
  const [op, fragment] = doc.definitions;

  test('reuses only for the same operation node with the same fragment nodes, and only executeQueryPlan’s calls', () => {
    let built = 0;
    const wrapped = reusingOperationFromDocument(() => ({ n: ++built }));
    const call = (definitions: readonly any[], options: any = { validate: false }) =>
      wrapped(schema, { kind: 'Document', definitions } as any, options);
    const a = call([op, fragment]);
    expect(call([op, fragment])).toBe(a);
    expect(built).toBe(1);
    // Another parse of the same text (another document) builds its own.
    const other = parse(`query A { a ...F } fragment F on Query { b }`);
    expect(call(other.definitions)).not.toBe(a);
    // The same operation node with other fragment nodes builds (and then is the one kept for that node).
    const otherFragment = parse(`fragment F on Query { c }`).definitions[0];
    const b = call([op, otherFragment]);
    expect(b).not.toBe(a);
    // Calls with validation (the planner's) or an operation name are never reused.
    expect(call([op, fragment], {})).not.toBe(call([op, fragment], {}));
    expect(call([op, fragment], { validate: false, operationName: 'A' })).not.toBe(
      call([op, fragment], { validate: false, operationName: 'A' }),
    );
    // Another schema (a supergraph update) builds its own.
    expect(wrapped({}, { kind: 'Document', definitions: [op, fragment] } as any, { validate: false })).not.toBe(b);
  });

  test('a thrown error is not remembered: the next call throws again', () => {
    let calls = 0;
    const wrapped = reusingOperationFromDocument(() => {
      calls++;
      throw new Error('bad document');
    });
    const d = { kind: 'Document', definitions: [op] } as any;
    expect(() => wrapped(schema, d, { validate: false })).toThrow('bad document');
    expect(() => wrapped(schema, d, { validate: false })).toThrow('bad document');
    expect(calls).toBe(2);
  });

  test('memory: an operation lives no longer than its document (nothing is kept once documents are dropped)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const wrapped = reusingOperationFromDocument(() => ({ payload: new Array(1000).fill(0) }));
    const refs: WeakRef<object>[] = [];
    (() => {
      for (let i = 0; i < 2000; i++) {
        const d = parse(`query Q${i} { f${i} }`);
        refs.push(new WeakRef(wrapped(schema, d, { validate: false }) as object));
      }
    })();
    await new Promise((r) => setImmediate(r)); // WeakRef targets are kept until the end of the job that made them
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    expect(refs.filter((r) => r.deref() !== undefined).length).toBe(0);
  });
});
