import Stripe from 'stripe';
import { AppError, badInput, ErrorCode, Logger } from '@shop/kernel';
import { Charge, PaymentProvider, PaymentWebhookEvent, Refund, WebhookSignatureError } from './payment';

export interface StripeOptions {
  secretKey: string;
  webhookSecret: string;
  /** STRIPE_API_BASE: where the SDK sends its requests (tests: a local fake). Unset: Stripe's own API. */
  apiBase?: string;
  /** Oldest webhook signature timestamp accepted, in seconds (replay window; the SDK's default is 300). */
  toleranceSeconds?: number;
}

/**
 * Stripe through the official SDK: one PaymentIntent per order, created AND confirmed in one call with the
 * buyer's PaymentMethod (`pm_…`, the order's `paymentToken`), the server's amount and currency, the order id in
 * its metadata, and the saga's idempotency key (`order:<orderId>`) as Stripe's `Idempotency-Key`: a retried
 * checkout gets the same PaymentIntent, never a second charge. Automatic capture: `succeeded` means paid.
 * `requires_action` (3-D Secure) or `processing` → PENDING with the client secret; the webhook settles it.
 */
export class StripePaymentProvider implements PaymentProvider {
  readonly name = 'stripe';
  private readonly stripe: Stripe;

  constructor(
    private readonly opts: StripeOptions,
    private readonly logger?: Logger,
  ) {
    const base = opts.apiBase ? new URL(opts.apiBase) : undefined;
    this.stripe = new Stripe(opts.secretKey, {
      // The SDK retries network failures and 409/5xx itself, with the same idempotency key.
      maxNetworkRetries: 2,
      timeout: 20_000,
      appInfo: { name: 'shop-order' },
      ...(base
        ? {
            host: base.hostname,
            port: base.port || (base.protocol === 'https:' ? 443 : 80),
            protocol: base.protocol === 'https:' ? 'https' : 'http',
          }
        : {}),
    });
  }

  async charge(amount: number, currency: string, token: string, idempotencyKey: string, orderId: string) {
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.stripe.paymentIntents.create(
        {
          amount,
          currency: currency.toLowerCase(),
          payment_method: token,
          confirm: true,
          // No redirect back to a return URL: 3-D Secure is completed in the page with the client secret.
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          metadata: { orderId },
        },
        { idempotencyKey },
      );
    } catch (err) {
      throw this.chargeError(err);
    }
    return this.outcome(intent);
  }

  private outcome(intent: Stripe.PaymentIntent): Charge {
    switch (intent.status) {
      case 'succeeded':
        return { reference: intent.id, status: 'CAPTURED' };
      case 'requires_action':
      case 'processing':
        return {
          reference: intent.id,
          status: 'PENDING',
          action: { clientSecret: intent.client_secret ?? '', nextAction: intent.next_action?.type ?? null },
        };
      case 'requires_payment_method':
        // A confirmation that failed without an error (the card was refused): the intent waits for another method.
        throw new AppError(ErrorCode.PAYMENT_DECLINED, intent.last_payment_error?.message ?? 'The card was declined', {
          field: 'paymentToken',
        });
      default:
        throw new Error(`Stripe PaymentIntent ${intent.id} is ${intent.status} after confirmation`);
    }
  }

  /** Stripe's errors in the API's codes: a card error is a decline, a bad PaymentMethod is the client's input. */
  private chargeError(err: unknown): unknown {
    if (err instanceof Stripe.errors.StripeCardError) {
      return new AppError(ErrorCode.PAYMENT_DECLINED, err.message || 'The card was declined', {
        field: 'paymentToken',
        ...(err.decline_code ? { declineCode: err.decline_code } : {}),
      });
    }
    if (err instanceof Stripe.errors.StripeInvalidRequestError && err.param === 'payment_method') {
      return badInput('paymentToken', 'paymentToken is not a usable payment method');
    }
    return err;
  }

  /**
   * Cancels the PaymentIntent. One that already succeeded cannot be cancelled: it is refunded in full instead (a
   * later checkout step failed after the money was taken). Already cancelled → nothing to do.
   */
  async void(reference: string, idempotencyKey: string): Promise<void> {
    try {
      await this.stripe.paymentIntents.cancel(reference, {}, { idempotencyKey });
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw err;
      const intent = await this.stripe.paymentIntents.retrieve(reference);
      if (intent.status === 'canceled') return;
      if (intent.status !== 'succeeded') throw err;
      await this.refund(reference, intent.amount, intent.currency, `${idempotencyKey}:refund`);
    }
  }

  async refund(reference: string, amount: number, _currency: string, idempotencyKey: string): Promise<Refund> {
    try {
      const refund = await this.stripe.refunds.create({ payment_intent: reference, amount }, { idempotencyKey });
      return { reference: refund.id };
    } catch (err) {
      // Refunded already (from the Dashboard, or by an earlier attempt under another key): the money is back.
      if (err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'charge_already_refunded') {
        this.logger?.info({ reference }, 'stripe: the payment was already refunded');
        return { reference: `${reference}:already-refunded` };
      }
      throw err;
    }
  }

  parseWebhook(rawBody: Buffer, signature: string | undefined): PaymentWebhookEvent {
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(
        rawBody,
        signature ?? '',
        this.opts.webhookSecret,
        this.opts.toleranceSeconds ?? 300,
      );
    } catch (err) {
      throw new WebhookSignatureError((err as Error).message);
    }
    switch (event.type) {
      case 'payment_intent.succeeded': {
        const pi = event.data.object;
        return { id: event.id, kind: 'succeeded', reference: pi.id, orderId: pi.metadata?.orderId };
      }
      case 'payment_intent.payment_failed': {
        const pi = event.data.object;
        return {
          id: event.id,
          kind: 'failed',
          reference: pi.id,
          orderId: pi.metadata?.orderId,
          reason: pi.last_payment_error?.message ?? 'The payment failed',
        };
      }
      case 'charge.refunded': {
        const charge = event.data.object;
        const pi = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
        if (!pi) return { id: event.id, kind: 'ignored', type: event.type };
        return {
          id: event.id,
          kind: 'refunded',
          reference: pi,
          orderId: charge.metadata?.orderId,
          amountRefunded: charge.amount_refunded,
          refund: charge.refunds?.data?.[0]?.id,
        };
      }
      default:
        return { id: event.id, kind: 'ignored', type: event.type };
    }
  }
}
