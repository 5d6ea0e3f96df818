import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  createRedis,
  GatewayDeps,
  INTERNAL_TOKEN_HEADER,
  REQUEST_ID_HEADER,
  signAccessToken,
  StartedGateway,
} from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import { EdgeRateLimiter } from '../src/edge';
import mediaSubgraph from '../../subgraphs/media/src';
import { bytes, CREATE_UPLOAD, makeImage } from '../../subgraphs/media/test/helpers';

/**
 * The gateway's /media proxy is no way into the internal network (issue 12, item 1): absolute-form request lines,
 * dot segments in any encoding, backslashes and scheme-relative paths are refused without a fetch; the legitimate
 * routes still work; only the headers those routes read are passed on; and /media has a rate limit of its own.
 *
 * The real gateway and media subgraph, with a recording forwarder between them (everything the media service
 * receives passes through it) and an "internal service" (think: the mail catcher) that must never be reached.
 */
let stack: Stack;
let deps: GatewayDeps;
let root: string;
let gatewayPort: number;
let forwarder: http.Server;
let internal: http.Server;
let internalPort: number;
let internalHits = 0;
/** Requests the media service received under /media (GraphQL traffic also passes the forwarder). */
let toMedia: { method: string; url: string; headers: http.IncomingHttpHeaders }[] = [];
const limited: StartedGateway[] = [];

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as net.AddressInfo).port;
}

beforeAll(async () => {
  internal = http.createServer((_req, res) => {
    internalHits++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', service: 'internal-secret' }));
  });
  internalPort = await listen(internal);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'media-ssrf-'));
  let mediaOrigin = '';
  forwarder = http.createServer((req, res) => {
    if (req.url?.startsWith('/media')) toMedia.push({ method: req.method!, url: req.url, headers: req.headers });
    const up = http.request(`${mediaOrigin}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const forwarderPort = await listen(forwarder);
  stack = await startStack({
    subgraphs: [mediaSubgraph],
    env: { MEDIA_DIR: path.join(root, 'media'), KEYS_DIR: path.join(root, 'keys') },
    gateway: (d) => {
      mediaOrigin = new URL(d.subgraphUrls!.media).origin;
      deps = { ...d, subgraphUrls: { ...d.subgraphUrls, media: `http://127.0.0.1:${forwarderPort}/graphql` } };
      return startGateway(deps);
    },
  });
  gatewayPort = Number(new URL(stack.gatewayUrl).port);
});
afterAll(async () => {
  for (const g of limited) await g.stop();
  await stack?.stop();
  for (const s of [forwarder, internal]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
  if (root) fs.rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  toMedia = [];
});

interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/** One request written byte for byte on a fresh socket (`target` goes into the request line as is). */
function raw(port: number, target: string, { method = 'GET', headers = '' } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${target}`)));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0),
        head: text.slice(0, at),
        body: text.slice(at + 4),
      });
    });
    socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}Connection: close\r\n\r\n`);
  });
}

async function readyImage(): Promise<string> {
  const admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  const res = await stack.gql(CREATE_UPLOAD, { contentType: 'image/png', filename: 'a.png' }, admin);
  const { imageId, uploadUrl } = res.data!.createImageUpload;
  const u = new URL(uploadUrl);
  const put = await fetch(`http://127.0.0.1:${gatewayPort}${u.pathname}${u.search}`, {
    method: 'PUT',
    body: bytes(await makeImage('png', 64, 48)),
    headers: { 'content-type': 'image/png' },
  });
  expect(put.status).toBe(201);
  return imageId;
}

const ID = '00000000-0000-4000-8000-000000000000';
const hostileTargets = () => [
  // absolute-form: the old proxy fetched whatever host and path the request line named
  `http://127.0.0.1:${internalPort}/media/../health`,
  `http://127.0.0.1:${internalPort}/media/${ID}/small`,
  `http://127.0.0.1:${internalPort}/media/%2e%2e/health`,
  `https://127.0.0.1:${internalPort}/media/x`,
  // scheme-relative and authority tricks
  `//127.0.0.1:${internalPort}/media/${ID}/small`,
  `/media//127.0.0.1:${internalPort}/health`,
  `/media/@127.0.0.1:${internalPort}/health`,
  `/media/http://127.0.0.1:${internalPort}/health`,
  // dot segments, plain and encoded, single and double
  '/media/../health',
  '/media/./uploads/../../health',
  '/media/%2e%2e/health',
  '/media/%2E%2E/%2e%2e/health',
  '/media/.%2e/health',
  '/media/..%2fhealth',
  '/media/..%2Fhealth',
  '/media/%2e%2e%2fhealth',
  '/media/%252e%252e/',
  '/media/%252e%252e/health',
  '/media/%252e%252e%252fhealth',
  `/media/${ID}/small/../../../health`,
  `/media/uploads/${ID}/../../health`,
  `/media/${ID}/%2e%2e%2f%2e%2e%2fhealth`,
  // backslashes, raw and encoded
  '/media\\..\\health',
  '/media/..\\health',
  '/media/%5c..%5chealth',
  '/media/..%5Chealth',
  // not a media route at all
  '/media/ready',
  '/media/graphql',
  `/media/${ID}/small/extra`,
  `/media/${ID}/huge`,
  '/media/uploads/not-a-uuid',
];

describe('hostile request targets', () => {
  test('absolute-form, scheme-relative, dot-segment and backslash targets: 400/404, and nothing internal is reached', async () => {
    const answers: [string, RawAnswer][] = [];
    for (const target of hostileTargets()) answers.push([target, await raw(gatewayPort, target)]);
    for (const [target, a] of answers) {
      // Node's parser may refuse a request line itself (400) before the gateway sees it: also no fetch.
      expect({ target, refused: [400, 404].includes(a.status), status: a.status }).toMatchObject({
        target,
        refused: true,
      });
      expect(a.body).not.toContain('internal-secret');
      expect(a.body).not.toContain('"service":"media"'); // the media subgraph's /health or /ready
      if (a.body.startsWith('{')) expect(JSON.parse(a.body).code).toMatch(/^(BAD_REQUEST|NOT_FOUND)$/);
    }
    // The absolute-form targets are refused as malformed, even when their path is a real media route.
    expect(answers.filter(([t]) => /^https?:/.test(t)).map(([, a]) => a.status)).toEqual([400, 400, 400, 400]);
    expect(internalHits).toBe(0);
    expect(toMedia).toEqual([]);
    // Still serving.
    expect((await raw(gatewayPort, '/health')).status).toBe(200);
  });

  test('HEAD and PUT with hostile targets are refused the same way, without a fetch', async () => {
    for (const method of ['HEAD', 'PUT']) {
      const a = await raw(gatewayPort, `http://127.0.0.1:${internalPort}/media/uploads/${ID}`, {
        method,
        headers: 'Content-Length: 0\r\n',
      });
      expect(a.status).toBe(400);
      const b = await raw(gatewayPort, '/media/uploads/%2e%2e/%2e%2e/health', {
        method,
        headers: 'Content-Length: 0\r\n',
      });
      expect(b.status).toBe(400);
    }
    expect(internalHits).toBe(0);
    expect(toMedia).toEqual([]);
  });
});

describe('the media routes', () => {
  test('upload by signed URL, GET with ETag/304, HEAD: still work; the upstream path is rebuilt, extra query parameters dropped', async () => {
    const imageId = await readyImage();
    expect(toMedia.map((r) => r.method)).toEqual(['PUT']);
    expect(toMedia[0].url).toMatch(new RegExp(`^/media/uploads/${imageId}\\?expires=\\d+&sig=[\\w-]+$`));

    const url = `http://127.0.0.1:${gatewayPort}/media/${imageId}/small?x=../../health&utm=1`;
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/webp');
    const etag = first.headers.get('etag')!;
    expect(etag).toBeTruthy();
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    const file = `/media/${imageId}/small`;
    expect(toMedia.slice(1).map((r) => `${r.method} ${r.url}`)).toEqual([`GET ${file}`, `GET ${file}`, `HEAD ${file}`]);
  });

  test('an upload URL with extra parameters still works; only expires and sig are passed on', async () => {
    const admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
    const { uploadUrl } = (await stack.gql(CREATE_UPLOAD, { contentType: 'image/png', filename: 'b.png' }, admin)).data!
      .createImageUpload;
    const u = new URL(uploadUrl);
    const put = await fetch(
      `http://127.0.0.1:${gatewayPort}${u.pathname}${u.search}&next=http://127.0.0.1:${internalPort}/`,
      { method: 'PUT', body: bytes(await makeImage('png', 32, 32)) },
    );
    expect(put.status).toBe(201);
    expect(toMedia[0].url).toBe(`${u.pathname}${u.search}`);
  });

  test('wrong method for a route → 405 with Allow, no fetch', async () => {
    const put = await fetch(`http://127.0.0.1:${gatewayPort}/media/${ID}/small`, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
    const get = await fetch(`http://127.0.0.1:${gatewayPort}/media/uploads/${ID}`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('PUT');
    expect(toMedia).toEqual([]);
  });

  test('only the headers the media routes read are forwarded', async () => {
    const imageId = await readyImage();
    toMedia = [];
    const res = await fetch(`http://127.0.0.1:${gatewayPort}/media/${imageId}/thumb`, {
      headers: {
        authorization: 'Bearer x',
        cookie: 'sid=secret',
        [INTERNAL_TOKEN_HEADER]: 'forged',
        'x-custom': 'yes',
        'x-forwarded-for': '10.0.0.1',
        'x-forwarded-host': 'evil.test',
        'if-none-match': '"nope"',
        'accept-language': 'de',
      },
    });
    expect(res.status).toBe(200);
    const sent = toMedia[0].headers;
    expect(sent['if-none-match']).toBe('"nope"');
    for (const name of [
      'authorization',
      'cookie',
      INTERNAL_TOKEN_HEADER,
      'x-custom',
      'x-forwarded-for',
      'x-forwarded-host',
      'accept-language',
      'user-agent',
    ]) {
      expect({ name, value: sent[name] }).toEqual({ name, value: undefined });
    }
    // What the proxy sends of its own: the request id, the upstream host, framing.
    expect(Object.keys(sent).sort()).toEqual(['connection', 'host', 'if-none-match', REQUEST_ID_HEADER].sort());
  });
});

describe('rate limit', () => {
  test('RATE_LIMIT_MEDIA_PER_IP: over budget → 429 with Retry-After and RATE_LIMITED, without a fetch', async () => {
    const config = {
      ...deps.config,
      edge: { ...deps.config.edge, rateLimit: { ...deps.config.edge.rateLimit, mediaPerIp: 5 } },
    };
    const gw = await startGateway({ ...deps, config, port: 0 });
    limited.push(gw);
    const base = `http://127.0.0.1:${gw.port}/media/${ID}/small`;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(base)).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404]); // unknown image, answered by the media service
    const over = await fetch(base);
    expect(over.status).toBe(429);
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(await over.json()).toEqual({ error: expect.any(String), code: 'RATE_LIMITED', retryAfter });
    expect(toMedia).toHaveLength(5);
    // Its own budget: GraphQL through the same gateway is unaffected (RATE_LIMIT_PER_IP is 0 here).
    expect(
      (
        await fetch(`http://127.0.0.1:${gw.port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"query":"{ __typename }"}',
        })
      ).status,
    ).toBe(200);
  });

  test('the budget is per client address, IPv6 per /64 (a fresh address from the same /64 does not reset it)', async () => {
    const redis = createRedis(stack.env.config);
    try {
      const limiter = new EdgeRateLimiter(
        redis,
        { ...stack.env.config.edge.rateLimit, mediaPerIp: 2 },
        stack.env.logger,
      );
      expect(await limiter.media('2001:db8:1:2::1')).toBeUndefined();
      expect(await limiter.media('2001:db8:1:2::ffff')).toBeUndefined();
      expect(await limiter.media('2001:db8:1:2:abcd::9')).toBeGreaterThan(0);
      expect(await limiter.media('2001:db8:1:3::1')).toBeUndefined(); // another /64
      expect(await limiter.media('::ffff:10.0.0.1')).toBeUndefined();
    } finally {
      redis.disconnect();
    }
  });
});
