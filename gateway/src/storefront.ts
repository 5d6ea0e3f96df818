import fs from 'node:fs';
import path from 'node:path';
import express, { type Express, type Request } from 'express';
import type { Logger } from '@shop/kernel';

/** Paths that belong to the gateway itself; everything else that asks for HTML is a storefront page. */
const GATEWAY_PATHS = /^\/(graphql|media|dev|health|ready|webhooks|metrics)(\/|$)/;

/**
 * The storefront's pages send the same-origin requests of a browser app and nothing else: scripts and styles from this
 * origin only, API calls to this origin (HTTP and WebSocket), no framing. `no-referrer` keeps the tokens of emailed
 * links (`/verify-email?token=…`) out of any Referer header.
 */
const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
};

function wantsPage(req: Request): boolean {
  return (
    (req.method === 'GET' || req.method === 'HEAD') && !GATEWAY_PATHS.test(req.path) && req.accepts('html') === 'html'
  );
}

/**
 * Serves the built storefront (Vite's `dist/`) at `/`: hashed assets cached for a year, and `index.html` for every
 * other page path (the app routes on the client: `/products/…`, `/verify-email?token=…`, …), never cached so a new
 * build is picked up at once. Without a build, development answers page paths with how to make one.
 */
export function mountStorefront(app: Express, dir: string | undefined, logger: Logger): void {
  if (!dir || dir === 'off') return;
  const index = path.join(dir, 'index.html');
  if (!fs.existsSync(index)) {
    logger.warn({ dir }, 'storefront not built: run `npm run build:storefront` (npm start does)');
    app.use((req, res, next) => {
      if (!wantsPage(req)) return next();
      res
        .status(404)
        .type('text')
        .send('The storefront is not built: run `npm run build:storefront` (npm start does), then reload.\n');
    });
    return;
  }
  app.use(
    '/assets',
    express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }),
  );
  app.use(express.static(dir, { index: false, maxAge: '1h' }));
  app.use((req, res, next) => {
    if (!wantsPage(req)) return next();
    res.set({ ...PAGE_HEADERS, 'Cache-Control': 'no-cache' });
    res.sendFile(index);
  });
  logger.info({ dir }, 'storefront served at /');
}
