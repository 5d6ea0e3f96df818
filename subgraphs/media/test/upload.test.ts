import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import sharp from 'sharp';
import { graphql } from '@shop/kernel/testing';
import {
  bytes,
  CONTENT_TYPES,
  codes,
  countFiles,
  CREATE_UPLOAD,
  createUpload,
  IMAGE,
  ImageFormat,
  makeImage,
  MediaStack,
  rawRequest,
  startMediaStack,
  upload,
} from './helpers';

let ms: MediaStack;
beforeAll(async () => {
  ms = await startMediaStack();
});
afterAll(() => ms?.stop());

const IMMUTABLE = 'public, max-age=31536000, immutable';

async function fetchImage(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

describe('upload → process → serve, through the gateway', () => {
  test.each<[ImageFormat, number, number]>([
    ['png', 1600, 1000],
    ['jpeg', 1300, 900],
    ['webp', 800, 800],
    ['gif', 640, 480],
  ])('%s %i×%i: 201 with the image; the original and every variant are served right', async (format, width, height) => {
    const data = await makeImage(format, width, height);
    const { ticket, status, body } = await upload(ms, data, CONTENT_TYPES[format], `photo.${format}`);
    expect(status).toBe(201);
    expect(body).toMatchObject({
      id: ticket.imageId,
      contentType: CONTENT_TYPES[format],
      width,
      height,
      bytes: data.length,
    });
    expect(body.url).toBe(`http://shop.test/media/${ticket.imageId}/original`);

    // The original: same bytes, its own type, immutable caching, an ETag honoured by If-None-Match.
    const orig = await fetchImage(ms.viaGateway(body.url));
    expect(orig.res.status).toBe(200);
    expect(orig.res.headers.get('content-type')).toBe(CONTENT_TYPES[format]);
    expect(orig.res.headers.get('cache-control')).toBe(IMMUTABLE);
    expect(orig.body.equals(data)).toBe(true);
    const etag = orig.res.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const again = await fetch(ms.viaGateway(body.url), { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe(IMMUTABLE);

    const expected: Record<string, [number, number]> = {
      thumb: [150, 150],
      small: [300, Math.round((height * 300) / width)],
      medium: [600, Math.round((height * 600) / width)],
      large: [Math.min(1200, width), Math.round((height * Math.min(1200, width)) / width)],
    };
    expect(body.variants.map((v: { name: string }) => v.name)).toEqual(['thumb', 'small', 'medium', 'large']);
    for (const v of body.variants as {
      name: string;
      url: string;
      width: number;
      height: number;
      contentType: string;
    }[]) {
      expect([v.name, v.width, v.height]).toEqual([v.name, ...expected[v.name]]);
      expect(v.url).toBe(`http://shop.test/media/${ticket.imageId}/${v.name}`);
      const got = await fetchImage(ms.viaGateway(v.url));
      expect(got.res.status).toBe(200);
      expect(got.res.headers.get('content-type')).toBe('image/webp');
      expect(got.res.headers.get('cache-control')).toBe(IMMUTABLE);
      const vEtag = got.res.headers.get('etag')!;
      expect(vEtag).toMatch(/^"[0-9a-f]{64}"$/);
      expect(vEtag).not.toBe(etag);
      const meta = await sharp(got.body).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['webp', ...expected[v.name]]);
      expect((await fetch(ms.viaGateway(v.url), { headers: { 'if-none-match': `W/${vEtag}, "other"` } })).status).toBe(
        304,
      );
    }
  });

  test('small originals are never enlarged', async () => {
    const { status, body } = await upload(ms, await makeImage('png', 120, 90));
    expect(status).toBe(201);
    const sizes = Object.fromEntries(
      body.variants.map((v: { name: string; width: number; height: number }) => [v.name, [v.width, v.height]]),
    );
    expect(sizes).toEqual({ thumb: [90, 90], small: [120, 90], medium: [120, 90], large: [120, 90] });
    const thumb = await fetchImage(ms.viaGateway(body.variants[0].url));
    expect(await sharp(thumb.body).metadata()).toMatchObject({ width: 90, height: 90 });
  });

  test('the real type wins over the declared one (JPEG bytes announced as PNG)', async () => {
    const { status, body } = await upload(ms, await makeImage('jpeg', 200, 200), 'image/png', 'odd.png');
    expect(status).toBe(201);
    expect(body.contentType).toBe('image/jpeg');
    expect((await fetch(ms.viaGateway(body.url))).headers.get('content-type')).toBe('image/jpeg');
  });

  test('Query.image is public and returns READY images only', async () => {
    const { ticket } = await upload(ms, await makeImage('png', 200, 100));
    const res = await ms.gql(IMAGE, { id: ticket.imageId });
    expect(res.errors).toBeUndefined();
    expect(res.data!.image).toMatchObject({
      id: ticket.imageId,
      width: 200,
      height: 100,
      contentType: 'image/png',
      alt: null,
    });
    const pending = await createUpload(ms);
    expect((await ms.gql(IMAGE, { id: pending.imageId })).data!.image).toBeNull();
    expect((await ms.gql(IMAGE, { id: randomUUID() })).data!.image).toBeNull();
    expect((await ms.gql(IMAGE, { id: 'not-a-uuid' })).data!.image).toBeNull();
  });
});

describe('createImageUpload', () => {
  test('returns a signed URL on PUBLIC_URL that expires in 15 minutes', async () => {
    const before = Date.now();
    const t = await createUpload(ms, 'image/webp', 'x.webp');
    const after = Date.now();
    expect(t.uploadUrl).toMatch(
      new RegExp(`^http://shop\\.test/media/uploads/${t.imageId}\\?expires=\\d+&sig=[A-Za-z0-9_-]{43}$`),
    );
    const expires = new Date(t.expiresAt).getTime();
    expect(expires - before).toBeGreaterThan(14 * 60 * 1000);
    // Whole seconds from the service's clock, read between `before` and `after`.
    expect(expires - after).toBeLessThanOrEqual(15 * 60 * 1000);
    expect(Number(new URL(t.uploadUrl).searchParams.get('expires')) * 1000).toBe(expires);
  });

  test.each([
    ['contentType', 'image/svg+xml', 'x.svg'],
    ['contentType', 'text/plain', 'x.png'],
    ['filename', 'image/png', ''],
    ['filename', 'image/png', 'a'.repeat(256)],
    ['filename', 'image/png', '../etc/passwd'],
    ['filename', 'image/png', 'dir\\file.png'],
  ])('bad %s (%s, %s) → BAD_USER_INPUT naming the field', async (field, contentType, filename) => {
    const res = await ms.gql(CREATE_UPLOAD, { contentType, filename }, ms.admin);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0].extensions!.field).toBe(field);
  });

  test('anonymous → UNAUTHENTICATED, USER → FORBIDDEN', async () => {
    const vars = { contentType: 'image/png', filename: 'x.png' };
    expect(codes(await ms.gql(CREATE_UPLOAD, vars))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await ms.gql(CREATE_UPLOAD, vars, ms.user))).toEqual(['FORBIDDEN']);
  });
});

describe('the upload URL', () => {
  const put = (url: string, body: Buffer | string) =>
    fetch(url, { method: 'PUT', body: typeof body === 'string' ? body : bytes(body) });

  test('a text file named .png → 415, nothing stored, the image never becomes READY', async () => {
    const before = countFiles(ms.mediaDir);
    const t = await createUpload(ms, 'image/png', 'notes.png');
    const res = await put(ms.viaGateway(t.uploadUrl), 'just some text, certainly not a PNG\n'.repeat(100));
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(countFiles(ms.mediaDir)).toBe(before);
    expect((await ms.svc.store.findById(t.imageId))!.status).toBe('FAILED');
    expect((await ms.gql(IMAGE, { id: t.imageId })).data!.image).toBeNull();
  });

  test('PNG magic bytes followed by garbage → 415 and no files left behind', async () => {
    const before = countFiles(ms.mediaDir);
    const t = await createUpload(ms);
    const fake = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(5000, 7)]);
    expect((await put(ms.viaGateway(t.uploadUrl), fake)).status).toBe(415);
    expect(countFiles(ms.mediaDir)).toBe(before);
  });

  test('Content-Length over 10 MB → 413 at once, without the body being sent', async () => {
    const t = await createUpload(ms);
    const res = await rawRequest(
      ms.viaGateway(t.uploadUrl),
      { method: 'PUT', headers: { 'content-length': String(11 * 1024 * 1024) } },
      (req) => {
        req.flushHeaders(); // headers only: a server that waited for the body would never answer
      },
    );
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(res.ms).toBeLessThan(3000);
    // Not even spent: the URL still works for a proper upload.
    expect((await ms.svc.store.findById(t.imageId))!.status).toBe('PENDING');
    expect((await put(ms.viaGateway(t.uploadUrl), await makeImage('png', 50, 50))).status).toBe(201);
  });

  test('a chunked body that passes 10 MB → 413 while streaming, nothing stored', async () => {
    const before = countFiles(ms.mediaDir);
    const t = await createUpload(ms);
    const png = await makeImage('png', 64, 64);
    const res = await rawRequest(
      ms.viaGateway(t.uploadUrl),
      { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } },
      (req) => {
        req.write(png.subarray(0, 16)); // a genuine PNG start, then far too much
        const chunk = Buffer.alloc(256 * 1024, 1);
        let sent = 0;
        const pump = () => {
          while (sent < 12 * 1024 * 1024 && !req.destroyed) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          if (!req.destroyed) req.end();
        };
        pump();
      },
    );
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect((await ms.svc.store.findById(t.imageId))!.status).toBe('FAILED');
    expect(countFiles(ms.mediaDir)).toBe(before);
  });

  test('a client that disconnects mid-upload leaves a FAILED image and no files', async () => {
    const before = countFiles(ms.mediaDir);
    const t = await createUpload(ms);
    const png = await makeImage('png', 300, 300);
    const req = http.request(ms.viaGateway(t.uploadUrl), {
      method: 'PUT',
      headers: { 'content-length': String(png.length + 100_000) },
      agent: false,
    });
    req.on('error', () => undefined);
    req.write(png);
    await new Promise((r) => setTimeout(r, 300));
    req.destroy();
    const until = Date.now() + 5000;
    while ((await ms.svc.store.findById(t.imageId))!.status !== 'FAILED' && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    expect((await ms.svc.store.findById(t.imageId))!.status).toBe('FAILED');
    expect(countFiles(ms.mediaDir)).toBe(before);
  });

  test('expired → 403 INVALID_TOKEN (genuine signature, past expiry)', async () => {
    const t = await createUpload(ms);
    const past = Math.floor(Date.now() / 1000) - 1;
    const url = `${ms.gatewayOrigin}/media/uploads/${t.imageId}?expires=${past}&sig=${ms.svc.signer.sign(t.imageId, past)}`;
    const res = await put(url, await makeImage('png', 20, 20));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'INVALID_TOKEN', error: expect.stringMatching(/expired/) });
    expect((await ms.svc.store.findById(t.imageId))!.status).toBe('PENDING');
  });

  test.each([
    ['a flipped signature character', (u: URL) => u.searchParams.set('sig', flip(u.searchParams.get('sig')!))],
    ['a later expiry', (u: URL) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600))],
    ['another image id', (u: URL) => (u.pathname = `/media/uploads/${randomUUID()}`)],
    ['no signature', (u: URL) => u.searchParams.delete('sig')],
    ['a truncated signature', (u: URL) => u.searchParams.set('sig', u.searchParams.get('sig')!.slice(0, 20))],
  ])('tampered (%s) → 403 INVALID_TOKEN', async (_label, tamper) => {
    const t = await createUpload(ms);
    const u = new URL(ms.viaGateway(t.uploadUrl));
    tamper(u);
    const res = await put(u.toString(), await makeImage('png', 20, 20));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'INVALID_TOKEN' });
  });

  test('single use: a second PUT → 409, also when two race', async () => {
    const t = await createUpload(ms);
    const data = await makeImage('png', 40, 40);
    expect((await put(ms.viaGateway(t.uploadUrl), data)).status).toBe(201);
    const second = await put(ms.viaGateway(t.uploadUrl), data);
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ code: 'INVALID_TOKEN' });

    const r = await createUpload(ms);
    const statuses = await Promise.all(
      [0, 1, 2, 3].map(() => put(ms.viaGateway(r.uploadUrl), data).then((x) => x.status)),
    );
    expect(statuses.sort()).toEqual([201, 409, 409, 409]);
  });

  test('a validly signed URL for an image that does not exist → 404', async () => {
    const id = randomUUID();
    const exp = Math.floor(Date.now() / 1000) + 60;
    const res = await put(
      `${ms.gatewayOrigin}/media/uploads/${id}?expires=${exp}&sig=${ms.svc.signer.sign(id, exp)}`,
      await makeImage('png', 20, 20),
    );
    expect(res.status).toBe(404);
  });
});

describe('serving', () => {
  test.each([
    ['an unknown id', () => `/media/${randomUUID()}/original`],
    ['a malformed id', () => '/media/../../etc/passwd'],
    ['an unknown variant', () => `/media/${readyId}/huge`],
    ['a PENDING image', () => `/media/${pendingId}/original`],
  ])('%s → 404', async (_label, make) => {
    const res = await fetch(`${ms.gatewayOrigin}${make()}`);
    expect(res.status).toBe(404);
  });

  let readyId = '';
  let pendingId = '';
  beforeAll(async () => {
    readyId = (await upload(ms, await makeImage('png', 100, 100))).ticket.imageId;
    pendingId = (await createUpload(ms)).imageId;
  });

  test('the media service answers the same routes directly (the gateway only proxies)', async () => {
    const res = await fetch(`${ms.mediaOrigin}/media/${readyId}/thumb`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/webp');
  });

  test('files live under MEDIA_DIR, one directory per image', () => {
    expect(countFiles(path.join(ms.mediaDir, 'images', readyId))).toBe(5);
  });
});

test('/ready checks the store, NATS and that MEDIA_DIR is writable', async () => {
  const res = await fetch(`${ms.mediaOrigin}/ready`);
  expect(res.status).toBe(200);
  expect((await res.json()).checks.map((c: { name: string; ok: boolean }) => `${c.name}:${c.ok}`)).toEqual([
    'postgres:true',
    'nats:true',
    'mediaDir:true',
  ]);
});

test('the GraphQL endpoint of the media subgraph still requires the gateway token', async () => {
  const res = await graphql(ms.svc.url, IMAGE, { id: randomUUID() });
  expect(res.status).toBe(401);
});

function flip(sig: string): string {
  const c = sig[5] === 'A' ? 'B' : 'A';
  return sig.slice(0, 5) + c + sig.slice(6);
}
