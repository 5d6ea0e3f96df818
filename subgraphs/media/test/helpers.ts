import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Bus, signAccessToken } from '@shop/kernel';
import { Stack, startStack, subgraphGql as kernelSubgraphGql } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import { createMediaSubgraph, MediaModuleOptions, StartedMedia } from '../src';

export const CREATE_UPLOAD = `mutation Create($contentType: String!, $filename: String!) {
  createImageUpload(contentType: $contentType, filename: $filename) { imageId uploadUrl expiresAt } }`;
export const ATTACH = `mutation Attach($productId: ID!, $imageId: ID!, $alt: String) {
  attachProductImage(productId: $productId, imageId: $imageId, alt: $alt) { id url contentType width height bytes alt variants { name url width height contentType } } }`;
export const DELETE = `mutation Delete($id: ID!) { deleteImage(id: $id) }`;
export const IMAGE = `query Image($id: ID!) { image(id: $id) { id url contentType width height bytes alt variants { name url width height contentType } } }`;
export const PRODUCT_IMAGES = `query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Product { id images { id url alt width height variants { name width height } } } } }`;

/** A Buffer as a fetch body (the DOM typings want an ArrayBuffer-backed view). */
export const bytes = (b: Buffer): Uint8Array<ArrayBuffer> => new Uint8Array(b);

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';
export const CONTENT_TYPES: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
};

/** A real image of the given format and size (a gradient-ish noise so each one has distinct bytes). */
export async function makeImage(
  format: ImageFormat,
  width: number,
  height: number,
  seed = Math.random(),
): Promise<Buffer> {
  const r = Math.round(seed * 255);
  const img = sharp({ create: { width, height, channels: 3, background: { r, g: 255 - r, b: 128 } } });
  return img.toFormat(format).toBuffer();
}

export interface MediaStack {
  stack: Stack;
  svc: StartedMedia;
  mediaDir: string;
  admin: string;
  user: string;
  gatewayOrigin: string;
  mediaOrigin: string;
  /** Rewrites an absolute URL under PUBLIC_URL (http://shop.test) onto the test gateway's origin. */
  viaGateway(url: string): string;
  gql: Stack['gql'];
  stop(): Promise<void>;
}

/** The media subgraph + gateway on the real services, with a private MEDIA_DIR and KEYS_DIR. */
export async function startMediaStack(options: MediaModuleOptions = {}): Promise<MediaStack> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'media-test-'));
  const mediaDir = path.join(root, 'media');
  const stack = await startStack({
    subgraphs: [createMediaSubgraph(options)],
    gateway: startGateway,
    env: { MEDIA_DIR: mediaDir, KEYS_DIR: path.join(root, 'keys') },
  });
  const gatewayOrigin = new URL(stack.gatewayUrl).origin;
  const svc = stack.services.media as StartedMedia;
  return {
    stack,
    svc,
    mediaDir,
    admin: signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' }),
    user: signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'USER' }),
    gatewayOrigin,
    mediaOrigin: new URL(svc.url).origin,
    viaGateway: (url) => {
      const u = new URL(url);
      return `${gatewayOrigin}${u.pathname}${u.search}`;
    },
    gql: stack.gql,
    async stop() {
      await stack.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** GraphQL straight to the media subgraph, as the gateway would send it (for `_entities`). */
export function subgraphGql(ms: MediaStack, query: string, variables: Record<string, unknown> = {}) {
  return kernelSubgraphGql(ms.stack, 'media', query, variables);
}

export async function createUpload(ms: MediaStack, contentType = 'image/png', filename = 'photo.png') {
  const res = await ms.gql(CREATE_UPLOAD, { contentType, filename }, ms.admin);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.createImageUpload as { imageId: string; uploadUrl: string; expiresAt: string };
}

/** createImageUpload + PUT through the gateway; returns the PUT's status and JSON. */
export async function upload(ms: MediaStack, data: Buffer, contentType = 'image/png', filename = 'photo.png') {
  const ticket = await createUpload(ms, contentType, filename);
  const res = await fetch(ms.viaGateway(ticket.uploadUrl), {
    method: 'PUT',
    body: bytes(data),
    headers: { 'content-type': contentType },
  });
  return { ticket, status: res.status, body: (await res.json()) as any };
}

/** An uploaded, READY image id. */
export async function readyImage(
  ms: MediaStack,
  format: ImageFormat = 'png',
  width = 400,
  height = 300,
): Promise<string> {
  const r = await upload(ms, await makeImage(format, width, height), CONTENT_TYPES[format], `p.${format}`);
  if (r.status !== 201) throw new Error(`upload failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.ticket.imageId;
}

/** Files (not directories) under a directory, recursively. */
export function countFiles(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .reduce((n, e) => n + (e.isDirectory() ? countFiles(path.join(dir, e.name)) : 1), 0);
}

/**
 * A stand-in for the product subgraph's `product.exists` command (that service is not in this folder):
 * answers from a fixed set of ids on the test environment's NATS prefix.
 */
export async function fakeProductService(
  ms: MediaStack,
  ids: Iterable<string>,
): Promise<{ known: Set<string>; close(): Promise<void> }> {
  const known = new Set(ids);
  const bus = await Bus.connect(ms.stack.env.config);
  bus.serve<{ ids: string[] }, { existing: string[] }>('product.exists', async ({ ids: asked }) => ({
    existing: asked.filter((id) => known.has(id)),
  }));
  await bus.nc.flush();
  return { known, close: () => bus.close() };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

/**
 * A raw HTTP request where the test controls the body: `write` gets the request and decides what to send
 * (and when to end). Resolves on the response, even one that arrives before the body was finished.
 */
export function rawRequest(
  url: string,
  opts: { method: string; headers?: http.OutgoingHttpHeaders },
  write: (req: http.ClientRequest) => void,
): Promise<RawResponse> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method, headers: opts.headers, agent: false });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: Date.now() - started,
        });
        req.destroy();
      });
      res.on('error', reject);
    });
    // Writes after an early answer may fail with EPIPE/ECONNRESET: the answer is what the test looks at
    // (rejecting after it resolved is a no-op).
    req.on('error', (err) => setTimeout(() => reject(err), 1000));
    write(req);
  });
}

export { codes } from '@shop/kernel/testing';
