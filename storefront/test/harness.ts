import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createLogger } from '@shop/kernel';
import { freePort, Stack, startStack, subgraphGql } from '@shop/kernel/testing';
import { startGateway } from '../../gateway/src';
import { readManifest } from '../../gateway/src/edge';
import { seedDemo } from '../../scripts/lib/seed';
import { subgraphs } from '../../scripts/subgraphs';

/**
 * The browser journeys' stand: the built storefront served by the real gateway (SAFELIST=on with the repository's
 * manifest, so every operation the app sends must be on it) in front of all six subgraphs, a small seeded catalog
 * with images and deals, and Debian's Chromium driven by playwright-core. Pages are always opened on
 * `http://localhost:<port>`, which is also PUBLIC_URL: the emailed links open the storefront, and cookies (per host)
 * stay on one origin.
 */
const REPO = path.resolve(__dirname, '../..');
const DIST = path.join(REPO, 'storefront/dist');
const ARTIFACTS = path.join(REPO, 'test-artifacts/storefront');

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The newest modification time under `dir` (files only). */
function newest(dir: string): number {
  let t = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/** Builds the storefront when there is no build or its sources changed since (a stale build would test old code). */
export function ensureStorefrontBuilt(): void {
  const index = path.join(DIST, 'index.html');
  const built = fs.existsSync(index) ? fs.statSync(index).mtimeMs : 0;
  const sources = Math.max(
    newest(path.join(REPO, 'storefront/src')),
    fs.statSync(path.join(REPO, 'storefront/index.html')).mtimeMs,
  );
  if (built > sources) return;
  execFileSync('npm', ['run', 'build:storefront', '--silent'], { cwd: REPO, stdio: 'inherit' });
}

export interface Journey {
  stack: Stack;
  /** `http://localhost:<port>`: the storefront and the API. */
  origin: string;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Errors thrown in the page and operations the safelist refused: each fails the journey at the end. */
  problems: string[];
  /** Saves a screenshot as test-artifacts/storefront/<journey>/<nn>-<step>.png (and one at 375 px with `mobile`). */
  shot(step: string, opts?: { mobile?: boolean; page?: Page }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the stand for one journey. `env` adds configuration (e.g. a short CART_HOLD_SECONDS). The catalog: `products`
 * seeded demo products (scripts/lib/seed.ts, each with a generated image) and DEALS_COUNT of them on today's deals.
 */
export async function startJourney(
  name: string,
  opts: { env?: Record<string, string>; products?: number } = {},
): Promise<Journey> {
  ensureStorefrontBuilt();
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const mediaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'storefront-media-'));
  const safelist = readManifest(path.join(REPO, 'schema/persisted-queries.json'));
  const stack = await startStack({
    subgraphs,
    gateway: (deps) => startGateway({ ...deps, port, storefrontDir: DIST, safelist }),
    env: {
      PUBLIC_URL: origin,
      SAFELIST: 'on',
      MEDIA_DIR: mediaDir,
      DEALS_COUNT: '4',
      ...opts.env,
    },
  });
  let browser: Browser | undefined;
  try {
    await seedDemo(stack.env.config, createLogger('seed', 'silent'), { products: opts.products ?? 30, images: true });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    const consoleErrors: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('response', (res) => {
      if (new URL(res.url()).pathname === '/graphql' && res.status() === 403)
        problems.push(`refused operation (403): ${res.request().postData()?.slice(0, 3000)}`);
    });

    const dir = path.join(ARTIFACTS, name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    let n = 0;
    const shot = async (step: string, o: { mobile?: boolean; page?: Page } = {}) => {
      const target = o.page ?? page;
      n += 1;
      const file = `${String(n).padStart(2, '0')}-${step}`;
      await target.screenshot({ path: path.join(dir, `${file}.png`), fullPage: true });
      if (o.mobile) {
        await target.setViewportSize({ width: 375, height: 812 });
        await target.screenshot({ path: path.join(dir, `${file}-375px.png`), fullPage: true });
        await target.setViewportSize({ width: 1280, height: 900 });
      }
    };

    const b = browser;
    return {
      stack,
      origin,
      browser: b,
      context,
      page,
      problems,
      shot,
      async stop() {
        // What the page looked like at the end (the failure, when there was one) and what its console complained of.
        await page.screenshot({ path: path.join(dir, '99-last.png'), fullPage: true }).catch(() => undefined);
        if (problems.length) console.warn(`journey problems:\n${problems.join('\n')}`);
        if (consoleErrors.length) console.warn(`browser console errors:\n${consoleErrors.join('\n')}`);
        await b.close().catch(() => undefined);
        await stack.stop();
        fs.rmSync(mediaDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await browser?.close().catch(() => undefined);
    await stack.stop().catch(() => undefined);
    fs.rmSync(mediaDir, { recursive: true, force: true });
    throw err;
  }
}

/** m:ss → seconds. */
export function seconds(text: string): number {
  const m = /(\d+):(\d{2})/.exec(text);
  if (!m) throw new Error(`not a countdown: ${JSON.stringify(text)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** A product the journeys can buy: in stock with a few units, found through the API as a shopper would see it. */
export async function pickProduct(
  stack: Stack,
  opts: { deal?: boolean } = {},
): Promise<{
  id: string;
  name: string;
  price: number;
  stock: number;
  category: { slug: string; name: string };
  deal: boolean;
}> {
  // Straight to the product subgraph: the gateway's safelist runs only the storefront's own operations.
  const res = await subgraphGql(
    stack,
    'product',
    `query Pick { products(first: 100, filter: { inStock: true }) { edges { node { id name stock price { amount } category { slug name } deal { discountPercent } } } } }`,
  );
  if (res.errors) throw new Error(`cannot list products: ${JSON.stringify(res.errors)}`);
  const nodes: any[] = res.data!.products.edges.map((e: any) => e.node);
  const found = nodes.find((p) => p.stock >= 5 && (opts.deal === undefined || !!p.deal === opts.deal));
  if (!found) throw new Error('the seeded catalog has no product with 5 units in stock');
  return {
    id: found.id,
    name: found.name,
    price: found.price.amount,
    stock: found.stock,
    category: found.category,
    deal: !!found.deal,
  };
}
