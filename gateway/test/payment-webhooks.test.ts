import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createLogger } from '@shop/kernel';
import { mountPaymentWebhookProxy, PAYMENT_WEBHOOK_MAX_BYTES } from '../src/webhooks';

/**
 * The gateway's `/webhooks/payments` proxy on its own (the whole path through the real order subgraph is in
 * subgraphs/order/test/stripe.e2e.test.ts): what reaches the order subgraph is the exact bytes and the two headers the
 * webhook route reads — nothing else the caller sent — and only for the exact path and method.
 */
let upstream: http.Server;
let gateway: http.Server;
let base: string;
let received: { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
let answer = { status: 200, body: '{"received":true}' };

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(answer.status, { 'content-type': 'application/json', 'set-cookie': 'upstream=1' });
      res.end(answer.body);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const app = express();
  const target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/graphql`;
  mountPaymentWebhookProxy(app, () => target, createLogger('test', 'silent'));
  gateway = http.createServer(app);
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => gateway.close(r));
  await new Promise((r) => upstream.close(r));
});

beforeEach(() => {
  received = [];
  answer = { status: 200, body: '{"received":true}' };
});

test('the raw body byte for byte, Content-Type and Stripe-Signature only; the answer passed back', async () => {
  const body = Buffer.concat([Buffer.from('{ "id": "evt_1",\r\n  "name": "Zoë" }'), Buffer.from([0xff, 0x00])]);
  const res = await fetch(`${base}/webhooks/payments`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'stripe-signature': 't=1,v1=abc',
      authorization: 'Bearer user-token',
      cookie: 'shop_session=secret',
      'x-gateway-token': 'forged',
      'x-forwarded-for': '10.0.0.1',
    },
    body,
  });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('{"received":true}');
  expect(received).toHaveLength(1);
  const [r] = received;
  expect([r.method, r.url]).toEqual(['POST', '/webhooks/payments']);
  expect(r.body.equals(body)).toBe(true);
  expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(r.headers['stripe-signature']).toBe('t=1,v1=abc');
  for (const h of ['authorization', 'cookie', 'x-gateway-token', 'x-forwarded-for'])
    expect({ h, value: r.headers[h] }).toEqual({ h, value: undefined });
});

test("the order subgraph's refusals reach the provider as they are (401 bad signature, 503 retry)", async () => {
  for (const status of [401, 503]) {
    answer = { status, body: `{"code":${status}}` };
    const res = await fetch(`${base}/webhooks/payments`, { method: 'POST', body: '{}' });
    expect([res.status, await res.text()]).toEqual([status, `{"code":${status}}`]);
  }
});

test('exact path and POST only, a size limit; none of them reaches the order subgraph', async () => {
  // Raw request targets: fetch would normalise `..` and `%2F` before sending.
  for (const path of [
    '/webhooks/payments/',
    '/webhooks/PAYMENTS',
    '/webhooks/payments?x=1',
    '/webhooks/payments/../payments',
    '/webhooks/x/../payments',
    '/webhooks%2Fpayments',
    '/webhooks',
    '/webhooks/stripe',
  ]) {
    expect({ path, status: await rawPost(path) }).toEqual({ path, status: 404 });
  }
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const res = await fetch(`${base}/webhooks/payments`, { method, ...(method === 'GET' ? {} : { body: '{}' }) });
    expect({ method, status: res.status, allow: res.headers.get('allow') }).toEqual({
      method,
      status: 405,
      allow: 'POST',
    });
  }
  const big = await fetch(`${base}/webhooks/payments`, {
    method: 'POST',
    body: 'x'.repeat(PAYMENT_WEBHOOK_MAX_BYTES + 1),
  });
  expect(big.status).toBe(413);
  expect(received).toEqual([]);
});

/** POSTs `{}` with the request target exactly as given; resolves with the status. */
function rawPost(target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/`, {
      method: 'POST',
      path: target,
      headers: { 'content-type': 'application/json' },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end('{}');
  });
}

test('the order subgraph down: 502, so the provider retries later', async () => {
  const app = express();
  mountPaymentWebhookProxy(app, () => 'http://127.0.0.1:1/graphql', createLogger('test', 'silent'));
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/payments`, {
      method: 'POST',
      body: '{}',
    });
    expect(res.status).toBe(502);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
