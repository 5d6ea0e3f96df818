import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import sharp from 'sharp';
import { createLogger, INTERNAL_TOKEN_HEADER } from '@shop/kernel';
import { mountMediaProxy } from '../src/media';
import {
  bytes,
  createUpload,
  makeImage,
  MediaStack,
  rawRequest,
  startMediaStack,
  upload,
} from '../../subgraphs/media/test/helpers';

const logger = createLogger('test', 'silent');

describe('gateway /media proxy with the real media subgraph', () => {
  let ms: MediaStack;
  beforeAll(async () => {
    ms = await startMediaStack();
  });
  afterAll(() => ms?.stop());

  test('upload and download need no user auth; a bad Authorization header is ignored, not a 401', async () => {
    const t = await createUpload(ms);
    const put = await fetch(ms.viaGateway(t.uploadUrl), {
      method: 'PUT',
      body: bytes(await makeImage('png', 320, 200)),
      headers: { authorization: 'Bearer garbage' },
    });
    expect(put.status).toBe(201);
    const url = `${ms.gatewayOrigin}/media/${t.imageId}/small`;
    const get = await fetch(url, { headers: { authorization: 'Bearer garbage' } });
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('image/webp');
    expect(Number(get.headers.get('content-length'))).toBe((await get.arrayBuffer()).byteLength);
  });

  test('a chunked upload streams through (no Content-Length anywhere)', async () => {
    const t = await createUpload(ms, 'image/jpeg', 'big.jpg');
    const data = await makeImage('jpeg', 2000, 1500);
    const res = await rawRequest(
      ms.viaGateway(t.uploadUrl),
      { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } },
      (req) => {
        for (let i = 0; i < data.length; i += 16 * 1024) req.write(data.subarray(i, i + 16 * 1024));
        req.end();
      },
    );
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toMatchObject({
      width: 2000,
      height: 1500,
      bytes: data.length,
      contentType: 'image/jpeg',
    });
  });

  test('status and headers pass through: 304, 404, HEAD', async () => {
    const { body } = await upload(ms, await makeImage('gif', 100, 80), 'image/gif', 'a.gif');
    const url = ms.viaGateway(body.url);
    const first = await fetch(url);
    const etag = first.headers.get('etag')!;
    expect(first.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await sharp(Buffer.from(await first.arrayBuffer())).metadata()).format).toBe('gif');
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(etag);
    const missing = await fetch(`${ms.gatewayOrigin}/media/00000000-0000-4000-8000-000000000000/original`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  test('other methods → 405', async () => {
    expect((await fetch(`${ms.gatewayOrigin}/media/x/original`, { method: 'POST', body: 'x' })).status).toBe(405);
  });
});

describe('gateway /media proxy mechanics (stand-in upstream)', () => {
  let upstream: http.Server;
  let gateway: http.Server;
  let seen: http.IncomingHttpHeaders[] = [];
  let seenUrls: string[] = [];
  const ID = '00000000-0000-4000-8000-000000000000';
  let gatewayOrigin = '';
  let upstreamUrl: string | undefined;

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      seen.push(req.headers);
      seenUrls.push(req.url!);
      if (req.url?.startsWith('/media/uploads/')) {
        // Answers on the first chunk: only possible if the proxy streams instead of buffering.
        req.once('data', () => {
          res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
          res.end(JSON.stringify({ gotFirstChunk: true }));
          req.resume();
        });
        return;
      }
      res.writeHead(418, { 'content-type': 'text/plain', etag: '"abc"', 'cache-control': 'no-store' });
      res.end('teapot');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/graphql`;
    const app = express();
    mountMediaProxy(app, () => upstreamUrl, logger);
    gateway = http.createServer(app);
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
    gatewayOrigin = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    gateway.closeAllConnections();
    upstream.closeAllConnections();
    await new Promise((r) => gateway.close(r));
    await new Promise((r) => upstream.close(r));
  });
  beforeEach(() => {
    seen = [];
    seenUrls = [];
  });

  test('passes status, headers and body through; keeps the path, drops a query the file route does not read', async () => {
    const res = await fetch(`${gatewayOrigin}/media/${ID}/small?x=1`);
    expect(seenUrls).toEqual([`/media/${ID}/small`]);
    expect(res.status).toBe(418);
    expect(res.headers.get('etag')).toBe('"abc"');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe('teapot');
  });

  test('never forwards user credentials or a client-supplied gateway token', async () => {
    await fetch(`${gatewayOrigin}/media/${ID}/small`, {
      headers: {
        authorization: 'Bearer x',
        cookie: 'sid=1',
        [INTERNAL_TOKEN_HEADER]: 'forged',
        'if-none-match': '"abc"',
      },
    });
    expect(seen[0].authorization).toBeUndefined();
    expect(seen[0].cookie).toBeUndefined();
    expect(seen[0][INTERNAL_TOKEN_HEADER]).toBeUndefined();
    expect(seen[0]['if-none-match']).toBe('"abc"');
  });

  test('streams the request body: the upstream can answer after the first chunk while the client still sends', async () => {
    const res = await rawRequest(
      `${gatewayOrigin}/media/uploads/${ID}?expires=1&sig=x`,
      { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } },
      (req) => {
        req.write(Buffer.alloc(1024, 1)); // and nothing more until the answer is in
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(JSON.parse(res.body)).toEqual({ gotFirstChunk: true });
  });

  test('upstream unreachable → 502; no media subgraph → 404', async () => {
    const saved = upstreamUrl;
    upstreamUrl = 'http://127.0.0.1:1/graphql';
    const bad = await fetch(`${gatewayOrigin}/media/${ID}/small`);
    expect(bad.status).toBe(502);
    expect(await bad.json()).toMatchObject({ code: 'BAD_GATEWAY' });
    upstreamUrl = undefined;
    expect((await fetch(`${gatewayOrigin}/media/${ID}/small`)).status).toBe(404);
    upstreamUrl = saved;
  });
});
