import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { composeModules, createLogger } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import userSubgraph from '../../subgraphs/user/src';

/**
 * The gateway serves the built storefront at `/`: its files, `index.html` for every page path the app routes on the
 * client (the emailed `/verify-email` and `/reset-password` links among them), and nothing that shadows the API.
 */
let stack: Stack;
let origin: string;
const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'storefront-'));
const INDEX =
  '<!doctype html><html><body><div id="root"></div><script src="/assets/app-abc123.js"></script></body></html>';

beforeAll(async () => {
  fs.mkdirSync(path.join(dist, 'assets'));
  fs.writeFileSync(path.join(dist, 'index.html'), INDEX);
  fs.writeFileSync(path.join(dist, 'assets', 'app-abc123.js'), 'console.log("shop")');
  fs.writeFileSync(path.join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  stack = await startStack({
    subgraphs: [userSubgraph],
    gateway: (deps) => startGateway({ ...deps, storefrontDir: dist }),
  });
  origin = new URL(stack.gatewayUrl).origin;
});
afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dist, { recursive: true, force: true });
});

const page = (p: string) => fetch(`${origin}${p}`, { headers: { accept: 'text/html,application/xhtml+xml' } });

test.each(['/', '/catalog?q=lamp', '/products/9b7c', '/verify-email?token=abc', '/reset-password?token=abc'])(
  'the page %s is the app, never cached, with the page security headers',
  async (p) => {
    const r = await page(p);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(INDEX);
    expect(r.headers.get('cache-control')).toBe('no-cache');
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  },
);

test('hashed assets are cached for a year; a missing asset is 404, not the app', async () => {
  const js = await fetch(`${origin}/assets/app-abc123.js`);
  expect(js.status).toBe(200);
  expect(js.headers.get('cache-control')).toMatch(/max-age=31536000.*immutable/);
  expect(await js.text()).toContain('shop');
  const missing = await fetch(`${origin}/assets/app-gone.js`, { headers: { accept: 'text/html' } });
  expect(missing.status).toBe(404);
  expect(await missing.text()).not.toBe(INDEX);
  expect((await fetch(`${origin}/favicon.svg`)).status).toBe(200);
});

test('the API, health and development routes are not shadowed by the app', async () => {
  const sandbox = await page('/graphql');
  expect(await sandbox.text()).not.toBe(INDEX);
  expect(await (await page('/health')).json()).toEqual({ status: 'ok', service: 'gateway' });
  expect((await page('/media/nothing')).status).not.toBe(200);
  expect(await (await page('/dev/unknown')).text()).not.toBe(INDEX);
  const api = await stack.gql('{ me { id } }');
  expect(api.data).toEqual({ me: null });
});

test('a request that does not ask for HTML gets no page', async () => {
  const r = await fetch(`${origin}/catalog`, { headers: { accept: 'application/json' } });
  expect(r.status).toBe(404);
});

test('without a build, page paths say how to make one', async () => {
  const { supergraphSdl } = await composeModules([userSubgraph], { user: stack.services.user.url });
  const bare = await startGateway({
    config: stack.env.config,
    keys: stack.env.keys,
    logger: createLogger('gateway', 'silent'),
    port: 0,
    supergraphSdl,
    subgraphUrls: { user: stack.services.user.url },
    storefrontDir: path.join(dist, 'not-built'),
  });
  try {
    const r = await fetch(`http://127.0.0.1:${bare.port}/verify-email?token=x`, { headers: { accept: 'text/html' } });
    expect(r.status).toBe(404);
    expect(await r.text()).toMatch(/npm run build:storefront/);
  } finally {
    await bare.stop();
  }
});
