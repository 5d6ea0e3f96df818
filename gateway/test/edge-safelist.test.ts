import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { addTypenameToDocument } from '@apollo/client/utilities';
import { getOperationAST, parse, print } from 'graphql';
import { createClient, Client } from 'graphql-ws';
import WebSocket from 'ws';
import { signAccessToken } from '@shop/kernel';
import userSubgraph, { StartedUser } from '../../subgraphs/user/src';
import productSubgraph from '../../subgraphs/product/src';
import { buildManifest, PersistedQueryManifest } from '../src/edge';
import { readOperationSources } from '../../scripts/lib/operations';
import { CategoriesDocument, MeDocument } from '../../storefront/src/gql/graphql';
import { tickerState, tickerSubgraph } from './fixtures/ticker';
import { EdgeStack, startEdgeStack } from './fixtures/edge-stack';

const OPERATIONS = path.resolve(__dirname, '../../schema/operations');
const TICK = 'subscription Tick($u: ID!) {\n  ticker(userId: $u, count: 1) {\n    n\n  }\n}\n';

let stack: EdgeStack;
let manifest: PersistedQueryManifest;
const clients: Client[] = [];
beforeAll(async () => {
  // The repository's client operations, plus one subscription of the test-only ticker subgraph.
  const built = buildManifest([...readOperationSources(OPERATIONS), { file: 'realtime/tick.graphql', text: TICK }]);
  expect(built.problems).toEqual([]);
  manifest = built.manifest;
  stack = await startEdgeStack({
    subgraphs: [userSubgraph, productSubgraph, tickerSubgraph],
    env: { SAFELIST: 'on' },
    safelist: manifest,
  });
});
afterAll(async () => {
  for (const c of clients) await c.dispose();
  await stack?.stop();
});

const file = (rel: string) => fs.readFileSync(path.join(OPERATIONS, rel), 'utf8');
const idOf = (name: string) => manifest.operations.find((o) => o.name === name)!.id;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function send(body: Record<string, unknown>) {
  const res = await fetch(stack.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    ...(JSON.parse(await res.text()) as {
      data?: any;
      errors?: { message: string; extensions?: Record<string, any> }[];
    }),
  };
}

async function expectForbidden(body: Record<string, unknown>) {
  const before = stack.subgraphRequests();
  const r = await send(body);
  expect(r.status).toBe(403);
  expect(r.errors![0].extensions!.code).toBe('FORBIDDEN');
  expect(r.errors![0].message).toMatch(/not on the safelist/);
  expect(r.data).toBeUndefined();
  expect(stack.subgraphRequests()).toBe(before);
}

describe('SAFELIST=on over HTTP', () => {
  it('a listed operation runs when sent as the file it lives in (other operations and fragments around it)', async () => {
    const r = await send({ query: file('storefront/account.graphql'), operationName: 'Me' });
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ me: null });
  });

  it('… or in any formatting', async () => {
    const r = await send({ query: '# the category menu\nquery Categories{categories{slug,name,productCount}}' });
    expect(r.errors).toBeUndefined();
  });

  it('… or by its id alone (Apollo persisted-query extension)', async () => {
    const r = await send({
      operationName: 'Categories',
      extensions: { persistedQuery: { version: 1, sha256Hash: idOf('Categories') } },
    });
    expect(r.errors).toBeUndefined();
    expect(Array.isArray(r.data.categories)).toBe(true);
  });

  it('an unknown id → PERSISTED_QUERY_NOT_FOUND', async () => {
    const before = stack.subgraphRequests();
    const r = await send({
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ categories { slug } }') } },
    });
    expect(r.errors![0].extensions!.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(stack.subgraphRequests()).toBe(before);
  });

  it('an unlisted operation → 403 FORBIDDEN, nothing runs', async () => {
    await expectForbidden({ query: '{ categories { slug } }' });
  });

  it("the same operation with Apollo Client's __typename additions runs, as it is or as Apollo sends it", async () => {
    const plain = 'query Categories { categories { slug name productCount } }';
    const apollo = print(addTypenameToDocument(parse(plain)));
    expect(apollo).toMatch(/productCount\s+__typename/);
    for (const query of [plain, apollo]) {
      const r = await send({ query });
      expect(r.errors).toBeUndefined();
      expect(Array.isArray(r.data.categories)).toBe(true);
    }
    const r = await send({ query: apollo });
    expect(r.data.categories.every((c: { __typename: string }) => c.__typename === 'Category')).toBe(true);
    // A whole file with fragments, with and without the additions.
    const account = file('storefront/account.graphql');
    for (const query of [account, print(addTypenameToDocument(parse(account)))]) {
      const me = await send({ query, operationName: 'Me' });
      expect(me.errors).toBeUndefined();
      expect(me.data).toEqual({ me: null });
    }
  });

  it("Apollo Client runs the storefront's generated documents: as text, and by id alone through its persisted-query link", async () => {
    const sent: Record<string, unknown>[] = [];
    const recordingFetch: typeof fetch = async (url, init) => {
      sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
      return fetch(url, init);
    };
    const http = new HttpLink({ uri: stack.gatewayUrl, fetch: recordingFetch });
    // Ids from the manifest by operation name: what Apollo's generatePersistedQueryIdsFromManifest gives the link.
    const byName = new Map(manifest.operations.map((o) => [o.name, o.id]));
    const persisted = createPersistedQueryLink({
      generateHash: (doc) => byName.get(getOperationAST(doc)!.name!.value) ?? 'unlisted',
      useGETForHashedQueries: false,
    });
    for (const link of [http, persisted.concat(http)]) {
      const client = new ApolloClient({ link, cache: new InMemoryCache() });
      const categories = await client.query({ query: CategoriesDocument, fetchPolicy: 'network-only' });
      expect(categories.error).toBeUndefined();
      expect(Array.isArray(categories.data!.categories)).toBe(true);
      const me = await client.query({ query: MeDocument, fetchPolicy: 'network-only' });
      expect(me.error).toBeUndefined();
      expect(me.data).toEqual({ me: null });
    }
    expect(sent).toHaveLength(4);
    // What Apollo sent as text is the generated document, __typename and all; by id, no text at all and no retry.
    expect(String(sent[0].query)).toMatch(/productCount\s+__typename/);
    for (const body of sent.slice(2)) {
      expect(body.query).toBeUndefined();
      expect(body.extensions).toMatchObject({ persistedQuery: { version: 1, sha256Hash: expect.any(String) } });
    }
    expect((sent[2].extensions as any).persistedQuery.sha256Hash).toBe(idOf('Categories'));
    expect((sent[3].extensions as any).persistedQuery.sha256Hash).toBe(idOf('Me'));
  });

  it('a listed name with a different selection is another operation (with or without __typename)', async () => {
    await expectForbidden({ query: 'query Categories { categories { slug name } }' });
    await expectForbidden({ query: 'query Categories { categories { slug name __typename } }' });
    await expectForbidden({ query: 'query Categories { categories { slug name productCount id: slug __typename } }' });
    // __typename at the operation's root is not Apollo's addition: another operation.
    await expectForbidden({ query: 'query Categories { __typename categories { slug name productCount } }' });
  });

  it('an unlisted mutation does not run; the listed one does', async () => {
    const email = `safelist.${Date.now().toString(36)}@example.com`;
    const variables = { input: { email, password: 'correct horse battery' } };
    await expectForbidden({
      query: 'mutation Register($input: RegisterInput!) { register(input: $input) { id } }',
      variables,
    });
    const db = (stack.services.user as StartedUser).orm.em.fork().getConnection();
    expect(await db.execute('SELECT 1 FROM users WHERE email = ?', [email])).toHaveLength(0);

    const r = await send({ query: file('storefront/account.graphql'), operationName: 'Register', variables });
    expect(r.errors).toBeUndefined();
    expect(r.data.register.email).toBe(email);
  });

  it('clients cannot add operations through automatic persisted queries', async () => {
    const query = '{ categories { name } }';
    await expectForbidden({ query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } });
    const r = await send({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } });
    expect(r.errors![0].extensions!.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });
});

describe('SAFELIST=on over WebSocket', () => {
  function client(): Client {
    const c = createClient({
      url: stack.gatewayUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${signAccessToken(stack.env.keys, { sub: 'u1', role: 'USER' })}` },
    });
    clients.push(c);
    return c;
  }
  async function first(
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<{ data?: any; errors?: any[] }> {
    try {
      for await (const r of client().iterate({ query, variables })) return r as { data?: any; errors?: any[] };
    } catch (err) {
      return { errors: err as any[] };
    }
    return {};
  }

  it('a listed subscription runs', async () => {
    expect(await first(TICK, { u: 'u1' })).toEqual({ data: { ticker: { n: 1 } } });
  });

  it('an unlisted subscription is refused before it starts upstream', async () => {
    const started = tickerState.started;
    const r = await first('subscription { ticker(userId: "u1", count: 1) { n user { id } } }');
    expect(r.errors![0].extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(tickerState.started).toBe(started);
  });

  it('unlisted queries over the socket are refused too', async () => {
    const before = stack.subgraphRequests();
    const r = await first('{ categories { slug } }');
    expect(r.errors![0].extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(stack.subgraphRequests()).toBe(before);
    expect(await first('query Categories { categories { slug name productCount } }')).toEqual({
      data: { categories: expect.any(Array) },
    });
  });
});
