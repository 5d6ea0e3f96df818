import { randomUUID } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { Logger, REQUEST_ID_HEADER } from '@shop/kernel';

/** The payment provider's webhooks on the gateway's origin (the order subgraph serves the same path). */
export const PAYMENT_WEBHOOK_PATH = '/webhooks/payments';
/** Largest body passed on (the order subgraph's own limit is the same; Stripe's events are a few kB). */
export const PAYMENT_WEBHOOK_MAX_BYTES = 256 * 1024;
/** The only request headers the order subgraph's webhook route reads: the body's type and the provider's signature. */
const FORWARDED = ['content-type', 'stripe-signature'];
/** The order subgraph's answer must come within this long; otherwise 504 (the provider retries). */
const UPSTREAM_TIMEOUT_MS = 15_000;

/**
 * `POST /webhooks/payments` on the gateway's origin → the order subgraph's route of the same path: the EXACT path
 * only (no trailing slash, other case, sub-path or query; anything else under `/webhooks` is 404), POST only (405),
 * the raw body passed on byte for byte (the signature covers it) up to PAYMENT_WEBHOOK_MAX_BYTES (413 beyond), with
 * the Stripe-Signature and Content-Type headers and nothing else the caller sent. No user auth: the provider's
 * signature, checked by the order subgraph, is the authorisation. `target` gives the order subgraph's GraphQL URL.
 */
export function mountPaymentWebhookProxy(app: Express, target: () => string | undefined, logger: Logger): void {
  const raw = express.raw({ type: () => true, limit: PAYMENT_WEBHOOK_MAX_BYTES });
  app.use('/webhooks', (req: Request, res: Response, next) => {
    // originalUrl is the request target as the client wrote it (Express only strips the mount path from req.url).
    if (req.originalUrl !== PAYMENT_WEBHOOK_PATH) {
      res.status(404).json({ error: 'Not found', code: 'NOT_FOUND' });
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      res.status(405).json({ error: 'Method not allowed', code: 'METHOD_NOT_ALLOWED' });
      return;
    }
    raw(req, res, (err?: unknown) => {
      if (!err) return next();
      const status = (err as { status?: number }).status ?? 400;
      res
        .status(status)
        .json(
          status === 413
            ? { error: 'Payload too large', code: 'PAYLOAD_TOO_LARGE' }
            : { error: 'Bad request', code: 'BAD_REQUEST' },
        );
    });
  });
  app.post(PAYMENT_WEBHOOK_PATH, async (req: Request, res: Response) => {
    const base = target();
    if (!base) {
      res.status(404).json({ error: 'Not found', code: 'NOT_FOUND' });
      return;
    }
    const requestId = randomUUID();
    const headers: Record<string, string> = { [REQUEST_ID_HEADER]: requestId };
    for (const name of FORWARDED) {
      const value = req.header(name);
      if (value !== undefined) headers[name] = value;
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const url = new URL(PAYMENT_WEBHOOK_PATH, new URL(base).origin);
    try {
      const up = await fetch(url, {
        method: 'POST',
        headers,
        body: new Uint8Array(body),
        signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
      });
      const text = await up.text();
      res.status(up.status);
      const type = up.headers.get('content-type');
      if (type) res.setHeader('Content-Type', type);
      res.send(text);
    } catch (err) {
      const timeout = (err as Error).name === 'TimeoutError';
      logger.warn({ err: String(err), requestId }, 'payment webhook proxy: the order subgraph failed');
      res
        .status(timeout ? 504 : 502)
        .json({ error: 'The order service is unavailable', code: timeout ? 'GATEWAY_TIMEOUT' : 'BAD_GATEWAY' });
    }
  });
}
