import { createHash } from 'node:crypto';
import { AppError, badInput, Config, ConfigError, ErrorCode } from '@shop/kernel';

export interface Charge {
  /** The provider's reference of the charge (for void/refund and support). */
  reference: string;
}

/**
 * A payment provider. `idempotencyKey` makes a retried call return the first result instead of charging twice.
 * Adding a real provider = one class implementing this interface, selected in `createPaymentProvider`.
 */
export interface PaymentProvider {
  readonly name: string;
  /** Charges `amount` minor units. Declined → PAYMENT_DECLINED; unusable token → BAD_USER_INPUT (field paymentToken). */
  charge(amount: number, currency: string, token: string, idempotencyKey: string): Promise<Charge>;
  /** Cancels a charge that must not stand (a later checkout step failed). Idempotent. */
  void(reference: string, idempotencyKey: string): Promise<void>;
  /** Gives the money of a charge back (cancelled order). Idempotent. */
  refund(reference: string, amount: number, currency: string, idempotencyKey: string): Promise<void>;
}

/**
 * The DEFAULT provider: a simulation, no money moves. `tok_visa` succeeds, `tok_chargeDeclined` is declined,
 * any other token is invalid input. Keeps a ledger in memory so tests can see what happened.
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
    if (existing) return { reference: existing.reference };
    const reference = `sim_ch_${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24)}`;
    this.charges.set(idempotencyKey, { reference, amount, currency, status: 'CAPTURED' });
    return { reference };
  }

  private byReference(reference: string) {
    return [...this.charges.values()].find((c) => c.reference === reference);
  }

  async void(reference: string): Promise<void> {
    const c = this.byReference(reference);
    if (c && c.status === 'CAPTURED') c.status = 'VOIDED';
  }

  async refund(reference: string): Promise<void> {
    const c = this.byReference(reference);
    if (c && c.status === 'CAPTURED') c.status = 'REFUNDED';
  }
}

/**
 * The provider PAYMENT_PROVIDER names (lib/src/config.ts, which refuses anything unavailable). The simulation never
 * runs in production unless ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true (checked here too, for configurations that
 * did not come from the environment).
 */
export function createPaymentProvider(config: Pick<Config, 'payments' | 'isProduction'>): PaymentProvider {
  switch (config.payments.provider) {
    case 'simulated':
      if (config.isProduction && !config.payments.allowSimulatedInProduction) {
        throw new ConfigError([
          'PAYMENT_PROVIDER=simulated moves no money: refused when NODE_ENV=production unless ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true',
        ]);
      }
      return new SimulatedPaymentProvider();
  }
}
