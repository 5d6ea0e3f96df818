import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/**
 * TEST DOUBLE of the few Stripe API endpoints the order subgraph's provider calls, served over HTTP on 127.0.0.1 so
 * the REAL `stripe` SDK talks to it (STRIPE_API_BASE): `POST /v1/payment_intents` (create + confirm, honouring
 * `Idempotency-Key` like Stripe: the same key returns the first answer), `GET /v1/payment_intents/:id`,
 * `POST /v1/payment_intents/:id/cancel`, `POST /v1/refunds`. Stripe's test PaymentMethods decide the outcome:
 * `pm_card_visa` succeeds, `pm_card_chargeDeclined` is declined (402 card_error), `pm_card_threeDSecure2Required`
 * requires action; any other id is an unknown PaymentMethod (400 on `payment_method`). It also builds webhook events
 * (payment_intent.succeeded / payment_failed, charge.refunded) signed with the webhook secret, as Stripe signs them.
 */
export interface FakeIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  currency: string;
  status: 'succeeded' | 'requires_action' | 'requires_payment_method' | 'canceled';
  client_secret: string;
  payment_method: string;
  metadata: Record<string, string>;
  next_action: { type: string } | null;
  last_payment_error: { message: string } | null;
  latest_charge: string | null;
}

export class FakeStripe {
  readonly intents = new Map<string, FakeIntent>();
  readonly refunds: { id: string; payment_intent: string; amount: number; idempotencyKey?: string }[] = [];
  /** Every request: method, path, form body and Idempotency-Key. */
  readonly requests: { method: string; path: string; body: URLSearchParams; idempotencyKey?: string }[] = [];
  private readonly idempotent = new Map<string, { status: number; body: unknown }>();
  private seq = 0;

  private constructor(
    private readonly server: http.Server,
    readonly webhookSecret: string,
  ) {}

  static async start(webhookSecret = 'whsec_testsecret'): Promise<FakeStripe> {
    const server = http.createServer();
    const fake = new FakeStripe(server, webhookSecret);
    server.on('request', (req, res) => fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private next(prefix: string): string {
    return `${prefix}_fake${String(++this.seq).padStart(8, '0')}`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const path = (req.url ?? '').split('?')[0];
      const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
      this.requests.push({ method: req.method ?? '', path, body, idempotencyKey });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': this.next('req') });
        res.end(JSON.stringify(payload));
      };
      const replay = idempotencyKey && this.idempotent.get(`${path}:${idempotencyKey}`);
      if (replay) return send(replay.status, replay.body);
      const { status, body: out } = this.route(req.method ?? '', path, body, idempotencyKey);
      if (idempotencyKey && req.method === 'POST')
        this.idempotent.set(`${path}:${idempotencyKey}`, { status, body: out });
      send(status, out);
    });
  }

  private route(
    method: string,
    path: string,
    body: URLSearchParams,
    idempotencyKey?: string,
  ): { status: number; body: unknown } {
    const invalid = (message: string, extra: Record<string, unknown> = {}) => ({
      status: 400,
      body: { error: { type: 'invalid_request_error', message, ...extra } },
    });
    if (method === 'POST' && path === '/v1/payment_intents') {
      const pm = body.get('payment_method') ?? '';
      if (!['pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_threeDSecure2Required'].includes(pm))
        return invalid(`No such PaymentMethod: '${pm}'`, { code: 'resource_missing', param: 'payment_method' });
      const id = this.next('pi');
      const intent: FakeIntent = {
        id,
        object: 'payment_intent',
        amount: Number(body.get('amount')),
        currency: body.get('currency') ?? '',
        status: 'succeeded',
        client_secret: `${id}_secret_${this.next('cs')}`,
        payment_method: pm,
        metadata: Object.fromEntries(
          [...body.entries()]
            .filter(([k]) => k.startsWith('metadata['))
            .map(([k, v]) => [k.slice('metadata['.length, -1), v]),
        ),
        next_action: null,
        last_payment_error: null,
        latest_charge: null,
      };
      this.intents.set(id, intent);
      if (pm === 'pm_card_chargeDeclined') {
        intent.status = 'requires_payment_method';
        intent.last_payment_error = { message: 'Your card was declined.' };
        return {
          status: 402,
          body: {
            error: {
              type: 'card_error',
              code: 'card_declined',
              decline_code: 'generic_decline',
              message: 'Your card was declined.',
              payment_intent: intent,
            },
          },
        };
      }
      if (pm === 'pm_card_threeDSecure2Required') {
        intent.status = 'requires_action';
        intent.next_action = { type: 'use_stripe_sdk' };
      } else {
        intent.latest_charge = this.next('ch');
      }
      return { status: 200, body: intent };
    }
    const m = /^\/v1\/payment_intents\/([^/]+)(\/cancel)?$/.exec(path);
    if (m) {
      const intent = this.intents.get(m[1]);
      if (!intent) return invalid(`No such payment_intent: '${m[1]}'`, { code: 'resource_missing', param: 'intent' });
      if (method === 'GET' && !m[2]) return { status: 200, body: intent };
      if (method === 'POST' && m[2]) {
        if (intent.status === 'succeeded' || intent.status === 'canceled')
          return invalid(`This PaymentIntent's status is ${intent.status}`, {
            code: 'payment_intent_unexpected_state',
          });
        intent.status = 'canceled';
        intent.next_action = null;
        return { status: 200, body: intent };
      }
    }
    if (method === 'POST' && path === '/v1/refunds') {
      const intent = this.intents.get(body.get('payment_intent') ?? '');
      if (!intent || intent.status !== 'succeeded')
        return invalid('No succeeded payment', { code: 'resource_missing' });
      const refunded = this.refunds.filter((r) => r.payment_intent === intent.id).reduce((a, r) => a + r.amount, 0);
      const amount = body.has('amount') ? Number(body.get('amount')) : intent.amount - refunded;
      if (refunded + amount > intent.amount)
        return invalid('Charge has already been refunded.', { code: 'charge_already_refunded' });
      const refund = { id: this.next('re'), payment_intent: intent.id, amount, idempotencyKey };
      this.refunds.push(refund);
      return { status: 200, body: { object: 'refund', status: 'succeeded', currency: intent.currency, ...refund } };
    }
    return { status: 404, body: { error: { type: 'invalid_request_error', message: `Unrecognized request URL` } } };
  }

  /** The buyer finished 3-D Secure in the page (what Stripe.js does): the intent succeeds. */
  completeAction(id: string): FakeIntent {
    const intent = this.intents.get(id)!;
    intent.status = 'succeeded';
    intent.next_action = null;
    intent.latest_charge = this.next('ch');
    return intent;
  }

  /** The buyer failed 3-D Secure: the intent waits for another payment method. */
  failAction(id: string): FakeIntent {
    const intent = this.intents.get(id)!;
    intent.status = 'requires_payment_method';
    intent.next_action = null;
    intent.last_payment_error = { message: 'We are unable to authenticate your payment method.' };
    return intent;
  }

  /** A webhook event as Stripe sends it: the JSON body, and its `Stripe-Signature` (or one made with `secret`). */
  event(type: string, object: object, secret = this.webhookSecret): { id: string; body: string; signature: string } {
    const id = this.next('evt');
    const body = JSON.stringify({
      id,
      object: 'event',
      type,
      api_version: '2026-11-18.endive',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      data: { object },
    });
    return { id, body, signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret }) };
  }

  /** Any body signed as Stripe signs it (for bodies shaped by hand). */
  sign(body: string, secret = this.webhookSecret): string {
    return Stripe.webhooks.generateTestHeaderString({ payload: body, secret });
  }

  /** `charge.refunded` for an intent: its charge with everything refunded so far. */
  chargeRefunded(intentId: string) {
    const intent = this.intents.get(intentId)!;
    const refunds = this.refunds.filter((r) => r.payment_intent === intentId);
    return this.event('charge.refunded', {
      id: intent.latest_charge,
      object: 'charge',
      amount: intent.amount,
      amount_refunded: refunds.reduce((a, r) => a + r.amount, 0),
      currency: intent.currency,
      payment_intent: intentId,
      metadata: {},
      refunded: true,
      refunds: { object: 'list', data: [...refunds].reverse() },
    });
  }
}
