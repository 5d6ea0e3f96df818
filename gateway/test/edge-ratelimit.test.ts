import { createClient, Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createRedis, deletePrefix, signAccessToken } from '@shop/kernel';
import userSubgraph from '../../subgraphs/user/src';
import { EdgeStack, startEdgeStack } from './fixtures/edge-stack';

// Small budgets: 6 anonymous requests per IP and 4 per signed-in user per minute; sign-in and email mutations
// 3 per IP per two minutes.
const LIMITS = {
  RATE_LIMIT_PER_IP: '6',
  RATE_LIMIT_PER_USER: '4',
  RATE_LIMIT_WINDOW_SECONDS: '60',
  RATE_LIMIT_AUTH_PER_IP: '3',
  RATE_LIMIT_AUTH_WINDOW_SECONDS: '120',
};

let stack: EdgeStack;
const clients: Client[] = [];
beforeAll(async () => {
  stack = await startEdgeStack({ subgraphs: [userSubgraph], env: LIMITS });
});
afterAll(async () => {
  for (const c of clients) await c.dispose();
  await stack?.stop();
});
// Every test starts with fresh budgets (all requests of this file come from 127.0.0.1).
beforeEach(async () => {
  const redis = createRedis(stack.env.config, { prefix: false });
  await deletePrefix(redis, `${stack.env.config.redisPrefix}rl:`).finally(() => redis.disconnect());
});

const ME = '{ me { id } }';
const token = (sub: string) => signAccessToken(stack.env.keys, { sub, role: 'USER' });

async function raw(
  query: string,
  opts: { token?: string; headers?: Record<string, string>; variables?: Record<string, unknown> } = {},
) {
  const res = await fetch(stack.gatewayUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: JSON.stringify({ query, variables: opts.variables ?? {} }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: JSON.parse(await res.text()) };
}

function expectLimited(r: Awaited<ReturnType<typeof raw>>, windowSeconds: number) {
  expect(r.status).toBe(429);
  const seconds = Number(r.retryAfter);
  expect(Number.isInteger(seconds) && seconds > 0 && seconds <= windowSeconds).toBe(true);
  expect(r.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: seconds });
  expect(r.body.data ?? undefined).toBeUndefined();
  return seconds;
}

test('anonymous callers share a budget per IP; over it → 429 + Retry-After, and nothing reaches a subgraph', async () => {
  for (let i = 0; i < 6; i++) {
    const r = await raw(ME);
    expect([r.status, r.body.data]).toEqual([200, { me: null }]);
  }
  const before = stack.subgraphRequests();
  expectLimited(await raw(ME), 60);
  expect(stack.subgraphRequests()).toBe(before);
  // Without TRUST_PROXY a forwarded-for header is not believed: no fresh budget by claiming another address.
  expectLimited(await raw(ME, { headers: { 'x-forwarded-for': '203.0.113.9' } }), 60);
});

test('signed-in callers have their own budget: separate from the IP and from each other', async () => {
  const a = token('user-a');
  for (let i = 0; i < 4; i++) expect((await raw(ME, { token: a })).status).toBe(200);
  expectLimited(await raw(ME, { token: a }), 60);

  // Another user from the same address is unaffected, and so are anonymous callers there.
  const b = token('user-b');
  expect((await raw(ME, { token: b })).status).toBe(200);
  for (let i = 0; i < 6; i++) expect((await raw(ME)).status).toBe(200);
  expectLimited(await raw(ME), 60);
  // The address is now over its anonymous budget; a signed-in user there still is not.
  expect((await raw(ME, { token: token('user-c') })).status).toBe(200);
});

test('sign-in and password reset are stricter, however the operation is written', async () => {
  const variables = { e: 'nobody@example.com', p: 'wrong password 123' };
  const attempts = [
    'mutation Login($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }',
    'mutation JustAQuery($e: String!, $p: String!) { x: login(email: $e, password: $p) { accessToken } }', // renamed and aliased
    'mutation ($e: String!, $p: String!) { ...F } fragment F on Mutation { login(email: $e, password: $p) { accessToken } }', // in a fragment
  ];
  for (const q of attempts) {
    const r = await raw(q, { variables });
    expect(r.body.errors[0].extensions.code).toBe('INVALID_CREDENTIALS');
  }
  const before = stack.subgraphRequests();
  const seconds = expectLimited(await raw('mutation { requestPasswordReset(email: "nobody@example.com") }'), 120);
  expect(seconds).toBeGreaterThan(60); // the sign-in window, not the general one
  expect(stack.subgraphRequests()).toBe(before);
  // The general budget is not spent: 4 of 6 used.
  expect((await raw(ME)).status).toBe(200);
});

test('every sign-in field of an operation counts', async () => {
  const two =
    'mutation { a: login(email: "x@example.com", password: "wrong password 123") { accessToken } b: login(email: "y@example.com", password: "wrong password 123") { accessToken } }';
  expect((await raw(two)).body.errors[0].extensions.code).toBe('INVALID_CREDENTIALS'); // 2 of 3 spent
  expectLimited(await raw(two), 120); // 2 + 2 > 3: the second request is refused
});

test("over WebSocket every operation spends the caller's budget too", async () => {
  const c = createClient({
    url: stack.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token('user-ws')}` },
  });
  clients.push(c);
  const once = async () => {
    try {
      for await (const r of c.iterate({ query: ME })) return r;
    } catch (err) {
      return { errors: err as { extensions?: Record<string, unknown> }[] };
    }
    return undefined;
  };
  for (let i = 0; i < 4; i++) expect((await once())?.errors).toBeUndefined();
  const r = await once();
  expect(r?.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
  // The HTTP budget of that user is the same one.
  expectLimited(await raw(ME, { token: token('user-ws') }), 60);
});

test('when Redis does not answer, requests go through (and the gateway says so in its log)', async () => {
  const down = await startEdgeStack({
    subgraphs: [userSubgraph],
    env: LIMITS,
    gatewayConfig: (c) => ({ ...c, redisUrl: 'redis://127.0.0.1:1' }),
  });
  try {
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      const r = await down.gql(ME);
      expect([r.status, r.data]).toEqual([200, { me: null }]);
    }
    expect(Date.now() - started).toBeLessThan(8 * 1000);
    expect(down.logs.some((l) => l.msg === 'rate limiter unavailable; request allowed')).toBe(true);
  } finally {
    await down.stop();
  }
});
