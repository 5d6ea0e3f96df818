import express, { type Express } from 'express';
import type { Logger } from '@shop/kernel';
import type { PaymentWebhooks } from '../service/webhooks';

/** The path of the payment provider's webhooks, on this subgraph and (proxied unchanged) on the gateway's origin. */
export const WEBHOOK_PATH = '/webhooks/payments';
/** Largest webhook body accepted (Stripe's events are a few kB; the gateway applies the same limit). */
export const WEBHOOK_MAX_BYTES = 256 * 1024;

/**
 * `POST /webhooks/payments`, mounted before GraphQL. No gateway token: the provider's signature over the RAW body
 * is the authorisation, so the body is read as bytes (never parsed before it is verified). 200 applied / duplicate /
 * ignored, 401 bad signature (nothing changed), 503 retry later, 413 too large.
 */
export function paymentRoutes(webhooks: PaymentWebhooks, logger: Logger): (app: Express) => void {
  return (app) => {
    app.post(WEBHOOK_PATH, express.raw({ type: () => true, limit: WEBHOOK_MAX_BYTES }), async (req, res) => {
      // Exact path only (Express would also route `/webhooks/payments/` and other cases here).
      if (req.path !== WEBHOOK_PATH) {
        res.status(404).json({ error: 'Not found', code: 'NOT_FOUND' });
        return;
      }
      try {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const outcome = await webhooks.handle(body, req.header('stripe-signature'));
        if (outcome.status === 'bad-signature') {
          res.status(401).json({ error: 'Invalid signature', code: 'UNAUTHENTICATED' });
        } else if (outcome.status === 'retry') {
          res.status(503).setHeader('Retry-After', '5').json({ error: 'Not ready; retry', code: 'RETRY' });
        } else {
          res.status(200).json({ received: true, outcome: outcome.status });
        }
      } catch (err) {
        logger.error({ err }, 'payment webhook failed');
        // 5xx: the provider redelivers it (the transaction rolled back; its event id is not recorded).
        res.status(500).json({ error: 'Internal server error', code: 'INTERNAL_SERVER_ERROR' });
      }
    });
  };
}
