import { createClient, Client } from 'graphql-ws';
import WebSocket from 'ws';
import { signAccessToken } from '@shop/kernel';
import userSubgraph, { StartedUser } from '../../subgraphs/user/src';
import productSubgraph from '../../subgraphs/product/src';
import { tickerState, tickerSubgraph } from './fixtures/ticker';
import { EdgeStack, post, startEdgeStack } from './fixtures/edge-stack';

// Small limits so that each can be exceeded by a readable document.
const LIMITS = {
  GRAPHQL_MAX_DEPTH: '4',
  GRAPHQL_MAX_ALIASES: '3',
  GRAPHQL_MAX_ROOT_FIELDS: '3',
  GRAPHQL_MAX_DIRECTIVES: '3',
  GRAPHQL_MAX_TOKENS: '200',
  GRAPHQL_MAX_QUERY_BYTES: '3000',
  GRAPHQL_MAX_COST: '300',
};

let stack: EdgeStack;
const clients: Client[] = [];
beforeAll(async () => {
  stack = await startEdgeStack({ subgraphs: [userSubgraph, productSubgraph, tickerSubgraph], env: LIMITS });
});
afterAll(async () => {
  for (const c of clients) await c.dispose();
  await stack?.stop();
});

let seq = 0;
const email = () => `edge.${Date.now().toString(36)}.${++seq}@example.com`;
const registerInput = (e: string) => ({ input: { email: e, password: 'correct horse battery' } });

async function userExists(e: string): Promise<boolean> {
  const svc = stack.services.user as StartedUser;
  const rows = await svc.orm.em.fork().getConnection().execute('SELECT 1 FROM users WHERE email = ?', [e]);
  return rows.length > 0;
}

/** Sends the document and asserts the limit error, and that no subgraph was called. */
async function expectRefused(query: string, variables: Record<string, unknown>, limit: string) {
  const before = stack.subgraphRequests();
  const r = await stack.gql(query, variables);
  expect(r.status).toBe(400);
  expect(r.data).toBeUndefined();
  expect(r.errors).toHaveLength(1);
  expect(r.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit });
  expect(stack.subgraphRequests()).toBe(before);
  return r;
}

describe('document limits over HTTP', () => {
  it('a document within every limit runs (and the subgraph counter sees it)', async () => {
    const before = stack.subgraphRequests();
    const r = await stack.gql('{ categories { slug } }');
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ categories: expect.any(Array) });
    expect(stack.subgraphRequests()).toBe(before + 1);
  });

  it('depth', async () => {
    const r = await expectRefused('{ deals { product { deal { product { name } } } } }', {}, 'depth');
    expect(r.errors![0].message).toBe('Query depth limit of 4 exceeded, found 5.');
    expect(r.errors![0].extensions!.max).toBe(4);
  });

  it('depth counts through fragments, not the fragments themselves', async () => {
    await expectRefused('{ deals { ...D } } fragment D on Deal { product { deal { product { name } } } }', {}, 'depth');
    const ok = await stack.gql('{ deals { ...D } } fragment D on Deal { product { deal { discountPercent } } }');
    expect(ok.errors).toBeUndefined();
  });

  it('aliases: the mutation is not executed', async () => {
    const e = email();
    await expectRefused(
      'mutation R($input: RegisterInput!) { register(input: $input) { a: id b: id c: id d: email } }',
      registerInput(e),
      'aliases',
    );
    expect(await userExists(e)).toBe(false);
  });

  it('root fields: none of them is executed', async () => {
    const e = email();
    await expectRefused(
      `mutation M($input: RegisterInput!, $e: String!) {
        register(input: $input) { id }
        resendVerificationEmail(email: $e)
        requestPasswordReset(email: $e)
        logout(refreshToken: "x")
      }`,
      { ...registerInput(e), e },
      'rootFields',
    );
    expect(await userExists(e)).toBe(false);
  });

  it('root fields hidden in fragments count too', async () => {
    await expectRefused(
      '{ ...A ...B } fragment A on Query { categories { slug } deals { discountPercent } } fragment B on Query { me { id } products { totalCount } }',
      {},
      'rootFields',
    );
  });

  it('directives', async () => {
    await expectRefused(
      '{ categories @include(if: true) { slug @include(if: true) name @include(if: true) productCount @include(if: true) } }',
      {},
      'directives',
    );
  });

  it('tokens: parsing stops, nothing runs', async () => {
    const e = email();
    await expectRefused(
      `mutation R($input: RegisterInput!) { register(input: $input) { ${'id '.repeat(200)} } }`,
      registerInput(e),
      'tokens',
    );
    expect(await userExists(e)).toBe(false);
  });

  it('cost (a literal page size multiplies)', async () => {
    const r = await expectRefused('{ products(first: 100) { edges { node { id name } } } }', {}, 'cost');
    expect(r.errors![0].message).toMatch(/^Query Cost limit of 300 exceeded, found \d+/);
    const ok = await stack.gql('{ products(first: 5) { edges { node { id name } } } }');
    expect(ok.errors).toBeUndefined();
  });

  it('aliases named __typename and aliases of __typename count like any other', async () => {
    // graphql-armor's default allowList exempted both, so any number of them passed.
    await expectRefused(
      '{ __typename: categories { __typename: slug } deals { __typename: discountPercent } products { __typename: totalCount } }',
      {},
      'aliases',
    );
    const r = await expectRefused(
      `{ ${Array.from({ length: 10 }, (_, i) => `a${i}: __typename`).join(' ')} }`,
      {},
      'aliases',
    );
    expect(r.errors![0].extensions!.max).toBe(3);
  });

  it('cost counts a page size given by a variable (or by its default)', async () => {
    const q = 'query P($n: Int) { products(first: $n) { edges { node { id name } } } }';
    const r = await expectRefused(q, { n: 100 }, 'cost');
    expect(r.errors![0].message).toMatch(/^Query Cost limit of 300 exceeded, found \d+/);
    expect(r.errors![0].extensions!.max).toBe(300);
    await expectRefused('query P($n: Int = 100) { products(first: $n) { edges { node { id name } } } }', {}, 'cost');
    await expectRefused(
      'query P($n: Int) { ...F } fragment F on Query { products(first: $n) { edges { node { id name } } } }',
      { n: 100 },
      'cost',
    );
    const ok = await stack.gql(q, { n: 5 });
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.products.edges).toEqual(expect.any(Array));
  });

  it('query size, before parsing', async () => {
    const r = await expectRefused(`{ categories { slug } }\n# ${'x'.repeat(3000)}`, {}, 'queryBytes');
    expect(r.errors![0].message).toMatch(/^Query size limit of 3000 bytes exceeded/);
  });
});

describe('HTTP edge settings', () => {
  it('a body over 1 MB → 413 with a code, nothing runs', async () => {
    const before = stack.subgraphRequests();
    const r = await post(
      stack.gatewayUrl,
      JSON.stringify({ query: '{ categories { slug } }', variables: { pad: 'x'.repeat(1024 * 1024) } }),
    );
    expect(r.status).toBe(413);
    expect(r.json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'body', max: 1048576 });
    expect(stack.subgraphRequests()).toBe(before);
  });

  it('malformed JSON → 400 BAD_REQUEST as JSON, not an HTML error page', async () => {
    const r = await post(stack.gatewayUrl, '{"query": "{ categories { slug } }"');
    expect(r.status).toBe(400);
    expect(r.json.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('batched requests are refused', async () => {
    const before = stack.subgraphRequests();
    const r = await post(
      stack.gatewayUrl,
      JSON.stringify([{ query: '{ categories { slug } }' }, { query: '{ categories { name } }' }]),
    );
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/batch/i);
    expect(stack.subgraphRequests()).toBe(before);
  });

  it('CSRF: a simple GET without a preflight header is refused; with one it runs', async () => {
    const before = stack.subgraphRequests();
    const url = `${stack.gatewayUrl}?query=${encodeURIComponent('{ categories { slug } }')}`;
    const simple = await fetch(url);
    expect(simple.status).toBe(400);
    expect(await simple.text()).toMatch(/Cross-Site Request Forgery/);
    expect(stack.subgraphRequests()).toBe(before);

    const ok = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(ok.status).toBe(200);
    expect(Array.isArray((await ok.json()).data.categories)).toBe(true);
  });

  it('CSRF: simple POSTs (text/plain, form-urlencoded) are refused, the mutation does not run', async () => {
    const e = email();
    const body = JSON.stringify({
      query: 'mutation R($input: RegisterInput!) { register(input: $input) { id } }',
      variables: registerInput(e),
    });
    const before = stack.subgraphRequests();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const r = await post(stack.gatewayUrl, body, { 'content-type': type });
      expect(r.status).toBe(400);
      expect(r.text).toMatch(/Cross-Site Request Forgery/);
    }
    expect(stack.subgraphRequests()).toBe(before);
    expect(await userExists(e)).toBe(false);
  });

  it('outside production the Sandbox landing page is served to browsers', async () => {
    const r = await fetch(stack.gatewayUrl, { headers: { accept: 'text/html' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(await r.text()).toMatch(/sandbox/i);
  });
});

describe('the WebSocket path applies the same limits', () => {
  const token = () => signAccessToken(stack.env.keys, { sub: 'ws-user', role: 'USER' });
  function client(): Client {
    const c = createClient({
      url: stack.gatewayUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token()}` },
    });
    clients.push(c);
    return c;
  }
  async function first(c: Client, query: string): Promise<any> {
    try {
      for await (const r of c.iterate({ query })) return r;
    } catch (err) {
      return { thrown: err };
    }
    return undefined;
  }
  const errorsOf = (r: any) =>
    (Array.isArray(r.thrown) ? r.thrown : r.errors) as { message: string; extensions?: Record<string, unknown> }[];

  it('a subscription within the limits runs', async () => {
    const r = await first(client(), 'subscription { ticker(userId: "ws-user", count: 1) { n } }');
    expect(r).toEqual({ data: { ticker: { n: 1 } } });
  });

  it('a subscription over the alias limit never starts upstream', async () => {
    const started = tickerState.started;
    const r = await first(client(), 'subscription { ticker(userId: "ws-user", count: 1) { a: n b: n c: n d: n } }');
    expect(errorsOf(r)[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'aliases' });
    expect(tickerState.started).toBe(started);
  });

  it('tokens and query size', async () => {
    const started = tickerState.started;
    const tokens = await first(
      client(),
      `subscription { ticker(userId: "ws-user", count: 1) { ${'n '.repeat(200)} } }`,
    );
    expect(errorsOf(tokens)[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'tokens' });
    const size = await first(
      client(),
      `subscription { ticker(userId: "ws-user", count: 1) { n } }\n# ${'x'.repeat(3000)}`,
    );
    expect(errorsOf(size)[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'queryBytes' });
    expect(tickerState.started).toBe(started);
  });

  it('queries over the socket: depth and root fields', async () => {
    const before = stack.subgraphRequests();
    const depth = await first(client(), '{ deals { product { deal { product { name } } } } }');
    expect(errorsOf(depth)[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'depth' });
    const roots = await first(
      client(),
      '{ categories { slug } deals { discountPercent } me { id } products { totalCount } }',
    );
    expect(errorsOf(roots)[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'rootFields' });
    expect(stack.subgraphRequests()).toBe(before);
  });

  it('aliases of __typename and page sizes in variables count over the socket too', async () => {
    const before = stack.subgraphRequests();
    const aliases = await first(client(), `{ ${Array.from({ length: 10 }, (_, i) => `a${i}: __typename`).join(' ')} }`);
    expect(errorsOf(aliases)[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'aliases', max: 3 });
    let cost: any;
    try {
      for await (const r of client().iterate({
        query: 'query P($n: Int) { products(first: $n) { edges { node { id name } } } }',
        variables: { n: 100 },
      })) {
        cost = r;
        break;
      }
    } catch (err) {
      cost = { thrown: err };
    }
    expect(errorsOf(cost)[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'cost', max: 300 });
    expect(stack.subgraphRequests()).toBe(before);
  });

  it('a message over 1 MB closes the socket (1009 Message Too Big)', async () => {
    const ws = new WebSocket(stack.gatewayUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token()}` } }));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined); // graphql-ws reports the ws error
    try {
      ws.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: { query: '{ __typename }', variables: { pad: 'x'.repeat(1024 * 1024) } },
        }),
      );
      expect(await closed).toBe(1009);
    } finally {
      logged.mockRestore();
    }
  });
});
