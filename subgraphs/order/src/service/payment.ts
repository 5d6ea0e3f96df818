import { createHash } from 'node:crypto';
import { AppError, badInput, ErrorCode } from '@shop/kernel';

/**
 * The outcome of a charge. `CAPTURED`: the money is taken (the order is PAID). `PENDING`: the provider needs the
 * buyer to do something first (3-D Secure: `action` says what) or is still processing; the order stays PENDING and
 * the provider's webhook settles it (subgraphs/order/README.md, "Payments").
 */
export interface Charge {
  /** The provider's reference of the charge (for void/refund, webhooks and support). */
  reference: string;
  status: 'CAPTURED' | 'PENDING';
  /** PENDING only: what the client needs to continue. */
  action?: PaymentAction;
}

/** What a client needs to finish a payment the provider holds for the buyer (Stripe: `stripe.handleNextAction`). */
export interface PaymentAction {
  /** The provider's client secret of the payment (Stripe: the PaymentIntent's `client_secret`). */
  clientSecret: string;
  /** The provider's next-action type, e.g. `use_stripe_sdk` or `redirect_to_url`; null while it is only processing. */
  nextAction: string | null;
}

/** A refund the provider made. */
export interface Refund {
  /** The provider's reference of the refund. */
  reference: string;
}

/** An event the provider sent to `POST /webhooks/payments`, once its signature is verified, in the provider's words. */
export type PaymentWebhookEvent =
  | { id: string; kind: 'succeeded'; reference: string; orderId?: string }
  | { id: string; kind: 'failed'; reference: string; orderId?: string; reason: string }
  | { id: string; kind: 'refunded'; reference: string; orderId?: string; amountRefunded: number; refund?: string }
  /** Any other event type: acknowledged and ignored. */
  | { id: string; kind: 'ignored'; type: string };

/**
 * A payment provider. `idempotencyKey` makes a retried call return the first result instead of charging twice.
 * Adding a provider = one class implementing this interface, selected in `createPaymentProvider`.
 */
export interface PaymentProvider {
  readonly name: string;
  /**
   * Charges `amount` minor units with the buyer's payment method `token` (Stripe: a PaymentMethod id, `pm_…`).
   * Declined → PAYMENT_DECLINED; unusable token → BAD_USER_INPUT (field paymentToken). `orderId` is recorded with
   * the provider so its webhooks name the order.
   */
  charge(amount: number, currency: string, token: string, idempotencyKey: string, orderId: string): Promise<Charge>;
  /** Cancels a charge that must not stand (a later checkout step failed, a pending order was cancelled). Idempotent. */
  void(reference: string, idempotencyKey: string): Promise<void>;
  /** Gives the money of a charge back (cancelled order). Idempotent. */
  refund(reference: string, amount: number, currency: string, idempotencyKey: string): Promise<Refund>;
  /**
   * Verifies a webhook request (raw body, signature header) → the event; a bad or stale signature throws
   * `WebhookSignatureError`. Providers without webhooks throw it always.
   */
  parseWebhook(rawBody: Buffer, signature: string | undefined): PaymentWebhookEvent;
}

/** A webhook whose signature does not verify (answered 401; nothing changes). */
export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError';
}

/**
 * The DEFAULT provider: a simulation, no money moves. `tok_visa` succeeds, `tok_chargeDeclined` is declined,
 * any other token is invalid input. Keeps a ledger in memory so tests can see what happened. Sends no webhooks.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  readonly name = 'simulated';
  readonly charges = new Map<
    string,
    { reference: string; amount: number; currency: string; status: 'CAPTURED' | 'VOIDED' | 'REFUNDED' }
  >();
  readonly declined: { amount: number; idempotencyKey: string }[] = [];

  async charge(amount: number, currency: string, token: string, idempotencyKey: string): Promise<Charge> {
    if (token === 'tok_chargeDeclined') {
      this.declined.push({ amount, idempotencyKey });
      throw new AppError(ErrorCode.PAYMENT_DECLINED, 'The card was declined', { field: 'paymentToken' });
    }
    if (token !== 'tok_visa') throw badInput('paymentToken', 'paymentToken is not a usable payment method');
    const existing = this.charges.get(idempotencyKey);
    if (existing) return { reference: existing.reference, status: 'CAPTURED' };
    const reference = `sim_ch_${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24)}`;
    this.charges.set(idempotencyKey, { reference, amount, currency, status: 'CAPTURED' });
    return { reference, status: 'CAPTURED' };
  }

  private byReference(reference: string) {
    return [...this.charges.values()].find((c) => c.reference === reference);
  }

  async void(reference: string): Promise<void> {
    const c = this.byReference(reference);
    if (c && c.status === 'CAPTURED') c.status = 'VOIDED';
  }

  async refund(reference: string): Promise<Refund> {
    const c = this.byReference(reference);
    if (c && c.status === 'CAPTURED') c.status = 'REFUNDED';
    return { reference: `sim_re_${reference.slice('sim_ch_'.length)}` };
  }

  parseWebhook(): PaymentWebhookEvent {
    throw new WebhookSignatureError('the simulated provider sends no webhooks');
  }
}
