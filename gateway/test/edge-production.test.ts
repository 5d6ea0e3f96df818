import { createClient, Client } from 'graphql-ws';
import WebSocket from 'ws';
import { REQUEST_ID_HEADER, requestContext, signAccessToken } from '@shop/kernel';
import userSubgraph from '../../subgraphs/user/src';
import productSubgraph, { StartedProduct } from '../../subgraphs/product/src';
import { tickerSubgraph } from './fixtures/ticker';
import { EdgeStack, post, startEdgeStack } from './fixtures/edge-stack';

// The gateway runs with NODE_ENV=production; the subgraphs in test mode, so they DO send their internals
// (messages, stack traces) and hiding them is the gateway's own work. As in production (gateway/src/main.ts) there is
// no async request context: request ids must reach errors and log lines through the operation's context.
requestContext.disable();
let stack: EdgeStack;
const clients: Client[] = [];
beforeAll(async () => {
  stack = await startEdgeStack({ subgraphs: [userSubgraph, productSubgraph, tickerSubgraph], production: true });
});
afterAll(async () => {
  for (const c of clients) await c.dispose();
  await stack?.stop();
});

const SECRETS = /stacktrace|relation|select |from |exception|ticker_secret|at .*\.(ts|js):\d+|127\.0\.0\.1/i;

it('the gateway under test really is in production mode', () => {
  expect(stack.config.isProduction).toBe(true);
});

describe('introspection and the Sandbox are off', () => {
  it('__schema and __type are refused', async () => {
    for (const q of ['{ __schema { types { name } } }', '{ __type(name: "Product") { fields { name } } }']) {
      const r = await stack.gql(q);
      expect(r.status).toBe(400);
      expect(r.data).toBeUndefined();
      expect(r.errors![0].extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(r.errors![0].message).toMatch(/introspection is not allowed/);
    }
  });

  it('__typename still works (clients rely on it)', async () => {
    expect((await stack.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  it('a browser gets no Sandbox page', async () => {
    const r = await fetch(stack.gatewayUrl, { headers: { accept: 'text/html' } });
    const body = await r.text();
    expect(r.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(body).not.toMatch(/sandbox|<html/i);
  });

  it('development pages are not mounted', async () => {
    for (const p of ['/dev/mail', '/verify-email?token=x']) {
      expect((await fetch(new URL(p, stack.gatewayUrl))).status).toBe(404);
    }
  });

  it('validation errors do not suggest field names', async () => {
    const r = await stack.gql('{ categorie { slug } }');
    expect(r.errors![0].message).toBe('Cannot query field "categorie" on type "Query".');
  });
});

describe('errors are masked', () => {
  const product = () => stack.services.product as StartedProduct;
  const sql = (q: string) => product().orm.em.fork().getConnection().execute(q);

  it('an internal error in a subgraph: INTERNAL_SERVER_ERROR, no message, stack or SQL, a request id to quote — and the full error in the log', async () => {
    await sql('ALTER TABLE products RENAME TO products_gone');
    let res: Response;
    let text: string;
    try {
      res = await fetch(stack.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ products(first: 2) { edges { node { id name } } } }' }),
      });
      text = await res.text();
    } finally {
      await sql('ALTER TABLE products_gone RENAME TO products');
    }
    const body = JSON.parse(text);
    const requestId = res.headers.get(REQUEST_ID_HEADER);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].message).toBe('Internal server error');
    expect(body.errors[0].extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId });
    expect(text).not.toMatch(SECRETS);

    // The operator finds the whole story under that id: the gateway's own line names it.
    const logged = stack.logs.filter(
      (l) => l.requestId === requestId && l.msg === 'unexpected error' && l.service === 'gateway',
    );
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.map((l) => (l.err as { message?: string }).message).join('\n')).toMatch(
      /relation "products" does not exist/,
    );

    // The catalog works again: the masking is not hiding a broken gateway.
    expect((await stack.gql('{ products(first: 1) { totalCount } }')).errors).toBeUndefined();
  });

  it('coded errors keep their message and code, without stack traces', async () => {
    const r = await stack.gql('{ stockHistory(productId: "00000000-0000-0000-0000-000000000000") { totalCount } }');
    expect(['UNAUTHENTICATED', 'FORBIDDEN']).toContain(r.errors![0].extensions!.code);
    expect(r.errors![0].message).not.toBe('Internal server error');
    expect(JSON.stringify(r)).not.toMatch(/stacktrace/);
  });

  it('errors before GraphQL (bad JSON) carry no internals either', async () => {
    const r = await post(stack.gatewayUrl, '{"query": ');
    expect(r.status).toBe(400);
    expect(r.json.errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
    expect(r.text).not.toMatch(SECRETS);
  });

  it('over WebSocket too: a subgraph failure reaches the client masked, with a request id', async () => {
    const c = createClient({
      url: stack.gatewayUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      connectionParams: {
        authorization: `Bearer ${signAccessToken(stack.env.keys, { sub: 'explode', role: 'USER' })}`,
      },
    });
    clients.push(c);
    let errors: any[] = [];
    try {
      for await (const r of c.iterate({ query: 'subscription { ticker(userId: "explode", count: 1) { n } }' })) {
        errors = r.errors as any[];
        break;
      }
    } catch (err) {
      errors = err as any[];
    }
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toBe('Internal server error');
    expect(errors[0].extensions).toEqual({
      code: 'INTERNAL_SERVER_ERROR',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(JSON.stringify(errors)).not.toMatch(SECRETS);
  });
});
