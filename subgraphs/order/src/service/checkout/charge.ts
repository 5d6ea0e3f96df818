import type { SagaStep } from './saga';
import { CheckoutContext, CheckoutDeps, need } from './context';

/**
 * Step 3: charges the total (provider idempotency key `order:<orderId>`, the order id recorded with the provider).
 * CAPTURED (paid now) or PENDING (the buyer must act, e.g. 3-D Secure; the webhook settles it). Declined →
 * PAYMENT_DECLINED, and nothing else has changed yet. Compensation: void the charge (key `void:<orderId>`; a charge
 * already taken is refunded).
 */
export function charge({ payments }: CheckoutDeps): SagaStep<CheckoutContext> {
  return {
    name: 'charge',
    async run(ctx) {
      const cart = need(ctx.cart, 'the cart');
      ctx.charge = await payments.charge(
        need(ctx.priced, 'the price').total,
        cart.currency,
        ctx.input.paymentToken,
        `order:${ctx.orderId}`,
        ctx.orderId,
      );
    },
    async compensate(ctx) {
      if (ctx.charge) await payments.void(ctx.charge.reference, `void:${ctx.orderId}`);
    },
  };
}
