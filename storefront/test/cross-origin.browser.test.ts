import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { eventually, freePort, subgraphGql } from '@shop/kernel/testing';
import { Journey, pickProduct, seconds, startJourney } from './harness';

/**
 * Journey 3: the storefront on its own origin (as `npm run dev:storefront` or a CDN would serve it), the API on the
 * gateway's. The allowed origin browses, signs in (the session lives in the gateway's HttpOnly cookies, invisible to
 * the page), watches the countdown over a WebSocket the cookie authenticates, and keeps the session across a reload.
 * The same build served from an origin not on CORS_ORIGINS gets nothing: no data, no session, no cookies.
 */
jest.setTimeout(120_000);

const REPO = path.resolve(__dirname, '../..');
let j: Journey;
let allowed: string;
let foreign: string;
const servers: http.Server[] = [];
const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'storefront-cross-origin-'));
const email = `cross.origin.${Date.now()}@example.com`;
const password = 'correct horse battery staple 42';
const started = Date.now();

/** Serves the build like any static host would: its files, and index.html for page paths. */
async function serve(port: number): Promise<void> {
  const app = express();
  app.use(express.static(buildDir, { index: false }));
  app.use((_req, res) => res.sendFile(path.join(buildDir, 'index.html')));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  servers.push(server);
}

beforeAll(async () => {
  const [allowedPort, foreignPort] = [await freePort(), await freePort()];
  allowed = `http://localhost:${allowedPort}`;
  foreign = `http://localhost:${foreignPort}`;
  j = await startJourney('cross-origin', { env: { CORS_ORIGINS: allowed, CART_TIMER_TICK_SECONDS: '1' } });
  // The same sources, built to call the gateway across origins.
  execFileSync(
    process.execPath,
    [
      path.join(REPO, 'node_modules/vite/bin/vite.js'),
      'build',
      '--outDir',
      buildDir,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    { cwd: path.join(REPO, 'storefront'), env: { ...process.env, VITE_GATEWAY_URL: j.origin }, stdio: 'inherit' },
  );
  await serve(allowedPort);
  await serve(foreignPort);
  // A verified account, made through the user subgraph (the journey is about the browser, not sign-up).
  const reg = await subgraphGql(j.stack, 'user', 'mutation($i: RegisterInput!) { register(input: $i) { id } }', {
    i: { email, password, firstName: 'Grace', lastName: 'Hopper' },
  });
  expect(reg.errors).toBeUndefined();
  const mail = await eventually('the verification email', async () =>
    j.stack.env.mail.messages.find((m) => m.to.includes(email) && /verify-email\?token=/.test(m.text)),
  );
  const token = /verify-email\?token=([A-Za-z0-9_-]+)/.exec(mail.text)![1];
  const verified = await subgraphGql(j.stack, 'user', 'mutation($t: String!) { verifyEmail(token: $t) }', { t: token });
  expect(verified.data).toEqual({ verifyEmail: true });
});

afterAll(async () => {
  await j?.stop();
  for (const s of servers) await new Promise((r) => s.close(r));
  fs.rmSync(buildDir, { recursive: true, force: true });
  console.log(`cross-origin journey: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

const nav = () => j.page.getByRole('navigation', { name: 'Main' });

test('the allowed origin browses the catalog from the API on the other origin', async () => {
  const { page } = j;
  await page.goto(`${allowed}/`);
  await page.getByRole('heading', { name: 'Today’s deals' }).waitFor();
  await page.getByRole('list', { name: 'New in the shop' }).getByRole('listitem').first().waitFor();
  await j.shot('home-allowed-origin');
});

test('signing in there keeps the session in the gateway’s HttpOnly cookies, never in the page', async () => {
  const { page, context } = j;
  await nav().getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await nav().getByRole('link', { name: 'Account' }).waitFor();
  // Scoped to the API path: the gateway sends them with /graphql requests (and the WebSocket upgrade) only.
  const cookies = await context.cookies(`${j.origin}/graphql`);
  expect(await context.cookies(`${j.origin}/`)).toEqual([]);
  const session = cookies.find((c) => c.name === 'shop_session');
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/graphql' });
  expect(cookies.find((c) => c.name === 'shop_refresh')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
  // Neither the storefront's origin nor its scripts can read them.
  expect(await context.cookies(allowed)).toEqual([]);
  expect(await page.evaluate(() => document.cookie)).toBe('');
  expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toMatch(/eyJ/);
  await page.reload();
  await nav().getByRole('link', { name: 'Account' }).waitFor();
  await j.shot('signed-in-allowed-origin');
});

test('the countdown ticks over the WebSocket the cookie authenticates', async () => {
  const { page } = j;
  const product = await pickProduct(j.stack, { deal: false });
  await page.goto(`${allowed}/products/${product.id}`);
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await nav()
    .getByRole('link', { name: /^Cart \(\d+\)$/ })
    .waitFor();
  await nav().getByRole('link', { name: /^Cart/ }).click();
  const timer = page.getByRole('timer', { name: 'Time left to check out' });
  await timer.waitFor();
  const first = seconds(await timer.innerText());
  await eventually('two ticks', async () => seconds(await timer.innerText()) <= first - 2, 10_000);
  await j.shot('cart-countdown-allowed-origin');
});

test('an origin not on CORS_ORIGINS gets no data and cannot use the session', async () => {
  // Same browser profile: the gateway's session cookies are there and would go along if the browser let it.
  const page = await j.context.newPage();
  try {
    const refused: string[] = [];
    page.on('requestfailed', (r) => refused.push(r.url()));
    await page.goto(`${foreign}/`);
    await page.getByRole('alert').first().waitFor();
    expect(await page.getByRole('list', { name: 'New in the shop' }).count()).toBe(0);
    expect(refused.some((u) => u.startsWith(`${j.origin}/graphql`))).toBe(true);
    // Even a hand-made credentialed request from that page is stopped by the browser (no CORS headers for it).
    const outcome = await page.evaluate(async (gateway) => {
      try {
        const r = await fetch(`${gateway}/graphql`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ me { email } }' }),
        });
        return `answered ${r.status}`;
      } catch (e) {
        return `refused: ${(e as Error).message}`;
      }
    }, j.origin);
    expect(outcome).toMatch(/^refused/);
    await page.screenshot({ path: path.join(REPO, 'test-artifacts/storefront/cross-origin/05-foreign-origin.png') });
  } finally {
    await page.close();
  }
});
