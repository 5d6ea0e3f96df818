import http from 'node:http';
import zlib from 'node:zlib';
import { composeModules, StartedGateway, StartedService } from '@shop/kernel';
import { createTestEnv, TestEnv } from '@shop/kernel/testing';
import { startGateway } from '../src';
import { ACCESS_COOKIE } from '../src/browser/cookies';
import { tickerSubgraph } from './fixtures/ticker';

/**
 * `/graphql` is served on node:http apart from Express (kernel `graphqlHttpHandler`). What a client sees of the HTTP
 * layer must stay what it was under Express: the body rules (JSON only, 1 MB, gzip, UTF-8), coded refusals, the paths
 * Express's mount matched, CORS and the cross-site cookie check, conditional GETs, HEAD and the request id. Raw
 * node:http requests, so that no client adds or hides a header.
 */
let env: TestEnv;
let ticker: StartedService;
let gw: StartedGateway;
let port: number;
const ALLOWED = 'https://shop.example';

beforeAll(async () => {
  env = await createTestEnv({ CORS_ORIGINS: ALLOWED });
  ticker = await tickerSubgraph.start({ config: env.config, keys: env.keys, logger: env.logger, port: 0 });
  const { supergraphSdl } = await composeModules([tickerSubgraph], { ticker: ticker.url });
  gw = await startGateway({
    config: env.config,
    keys: env.keys,
    logger: env.logger,
    port: 0,
    supergraphSdl,
    subgraphUrls: { ticker: ticker.url },
  });
  port = Number(new URL(gw.url).port);
});
afterAll(async () => {
  await gw?.stop();
  await ticker?.stop();
  await env?.cleanup();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The parsed body's first error code, if the body is a GraphQL error answer. */
  code?: string;
}

function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, code });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };
const QUERY = JSON.stringify({ query: '{ tickerAlive }' });
const ANSWER = '{"data":{"tickerAlive":true}}\n';
const GET_PATH = `/graphql?query=${encodeURIComponent('{ tickerAlive }')}`;
const PREFLIGHTED = { 'apollo-require-preflight': '1' };

test('a POST is answered as Express answered it: JSON with charset and length, Vary: Origin, a request id, no ETag', async () => {
  const r = await send('POST', '/graphql', JSON_TYPE, QUERY);
  expect(r.status).toBe(200);
  expect(r.text).toBe(ANSWER);
  expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(r.headers['content-length']).toBe(String(Buffer.byteLength(ANSWER)));
  expect(r.headers.vary).toBe('Origin');
  expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  // Nothing revalidates a POST: its answer is not hashed.
  expect(r.headers.etag).toBeUndefined();

  const typed = await send('POST', '/graphql', { ...JSON_TYPE, accept: 'application/graphql-response+json' }, QUERY);
  expect(typed.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
});

test('request bodies: UTF-8 JSON, compressed or not; anything else refused with a code before Apollo', async () => {
  expect(
    (await send('POST', '/graphql', { ...JSON_TYPE, 'content-encoding': 'gzip' }, zlib.gzipSync(QUERY))).text,
  ).toBe(ANSWER);
  expect((await send('POST', '/graphql', { 'content-type': 'application/json; charset=utf-8' }, QUERY)).text).toBe(
    ANSWER,
  );

  const latin1 = await send('POST', '/graphql', { 'content-type': 'application/json; charset=latin1' }, QUERY);
  expect([latin1.status, latin1.code]).toEqual([415, 'BAD_REQUEST']);
  const encoding = await send('POST', '/graphql', { ...JSON_TYPE, 'content-encoding': 'foo' }, QUERY);
  expect([encoding.status, encoding.code]).toEqual([415, 'BAD_REQUEST']);

  const broken = await send('POST', '/graphql', JSON_TYPE, '{"query":');
  expect([broken.status, broken.code]).toEqual([400, 'BAD_REQUEST']);
  expect(JSON.parse(broken.text).errors[0].message).toBe('The request body is not valid JSON');
  // Strict JSON: a body must be an object (or an array, which batching then refuses).
  expect((await send('POST', '/graphql', JSON_TYPE, '"x"')).status).toBe(400);
  expect((await send('POST', '/graphql', JSON_TYPE, '[{"query":"{ tickerAlive }"}]')).status).toBe(400);

  const big = JSON.stringify({ query: '{ tickerAlive }', variables: { x: 'a'.repeat(1_100_000) } });
  const tooLarge = await send('POST', '/graphql', JSON_TYPE, big);
  expect(tooLarge.status).toBe(413);
  expect(JSON.parse(tooLarge.text).errors[0].extensions).toEqual({
    code: 'BAD_USER_INPUT',
    limit: 'body',
    max: 1024 * 1024,
  });

  // A body that is not JSON never reaches an operation: Apollo's CSRF prevention refuses the simple request.
  for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
    const r = await send('POST', '/graphql', { 'content-type': type }, QUERY);
    expect([r.status, r.code]).toEqual([400, 'BAD_REQUEST']);
    expect(r.text).toContain('Cross-Site Request Forgery');
  }
});

test('paths: what Express mounted at /graphql (any case, below it, with a query string) and nothing else', async () => {
  for (const path of ['/graphql/', '/GraphQL', '/graphql/anything', '/graphql?x=1']) {
    const r = await send('POST', path, JSON_TYPE, QUERY);
    expect([path, r.text]).toEqual([path, ANSWER]);
  }
  expect((await send('POST', '/graphqlx', JSON_TYPE, QUERY)).status).toBe(404);
  expect((await send('GET', '/health')).status).toBe(200);
});

test('GET: preflighted queries answered with a weak ETag and 304 when fresh; HEAD without a body', async () => {
  const r = await send('GET', GET_PATH, PREFLIGHTED);
  expect([r.status, r.text]).toEqual([200, ANSWER]);
  expect(r.headers.etag).toMatch(/^W\/"/);
  const again = await send('GET', GET_PATH, { ...PREFLIGHTED, 'if-none-match': r.headers.etag! });
  expect([again.status, again.text, again.headers['content-length']]).toEqual([304, '', undefined]);

  const head = await send('HEAD', GET_PATH, PREFLIGHTED);
  expect(head.text).toBe('');

  const unprotected = await send('GET', GET_PATH);
  expect([unprotected.status, unprotected.code]).toEqual([400, 'BAD_REQUEST']);
  const repeated = await send('GET', '/graphql?query=a&query=b', PREFLIGHTED);
  expect(repeated.status).toBe(400);
  const put = await send('PUT', '/graphql', JSON_TYPE, QUERY);
  expect([put.status, put.headers.allow]).toEqual([405, 'GET, POST']);
});

test('the request id: a valid client id is kept, anything else replaced', async () => {
  const kept = await send('POST', '/graphql', { ...JSON_TYPE, 'x-request-id': 'checkout-42' }, QUERY);
  expect(kept.headers['x-request-id']).toBe('checkout-42');
  const replaced = await send('POST', '/graphql', { ...JSON_TYPE, 'x-request-id': '<bad id>' }, QUERY);
  expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
});

test('credentials: a bad bearer token is 401 UNAUTHENTICATED; so is a bad session cookie (for anything but signing in)', async () => {
  const bearer = await send('POST', '/graphql', { ...JSON_TYPE, authorization: 'Bearer nope' }, QUERY);
  expect([bearer.status, bearer.code]).toEqual([401, 'UNAUTHENTICATED']);
  const malformed = await send('POST', '/graphql', { ...JSON_TYPE, authorization: 'Basic x' }, QUERY);
  expect([malformed.status, malformed.code]).toEqual([401, 'UNAUTHENTICATED']);
  const cookie = await send('POST', '/graphql', { ...JSON_TYPE, cookie: `${ACCESS_COOKIE}=nope` }, QUERY);
  expect(cookie.status).toBe(401);
  expect(cookie.code).toBe('UNAUTHENTICATED');
});

test('CORS and the cross-site cookie check', async () => {
  const allowed = await send('POST', '/graphql', { ...JSON_TYPE, origin: ALLOWED }, QUERY);
  expect(allowed.text).toBe(ANSWER);
  expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
  expect(allowed.headers['access-control-allow-credentials']).toBe('true');
  expect(allowed.headers['access-control-expose-headers']).toBe('x-request-id,Retry-After');

  const foreign = await send('POST', '/graphql', { ...JSON_TYPE, origin: 'https://evil.example' }, QUERY);
  expect(foreign.text).toBe(ANSWER);
  expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  const withCookie = await send(
    'POST',
    '/graphql',
    { ...JSON_TYPE, origin: 'https://evil.example', cookie: `${ACCESS_COOKIE}=x` },
    QUERY,
  );
  expect([withCookie.status, withCookie.code]).toEqual([403, 'FORBIDDEN']);

  const preflight = await send('OPTIONS', '/graphql', {
    origin: ALLOWED,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'content-type',
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers['access-control-allow-methods']).toBe('GET,HEAD,POST,PUT');
  expect(preflight.headers['access-control-max-age']).toBe('600');
  expect(preflight.headers.vary).toBe('Origin, Access-Control-Request-Headers');
  const foreignPreflight = await send('OPTIONS', '/graphql', {
    origin: 'https://evil.example',
    'access-control-request-method': 'POST',
  });
  expect([foreignPreflight.status, foreignPreflight.text]).toEqual([403, '']);
});
