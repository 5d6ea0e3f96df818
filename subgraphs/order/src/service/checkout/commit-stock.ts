import type { SagaStep } from './saga';
import { CheckoutContext, CheckoutDeps, need } from './context';

/**
 * Step 4: `product.commit` keyed by the order id turns the cart's holds into sold stock (idempotent per order id;
 * INSUFFICIENT_STOCK / CART_EXPIRED when the stock is not there). Compensation: `product.uncommit` (idempotent).
 */
export function commitStock({ ports }: CheckoutDeps): SagaStep<CheckoutContext> {
  return {
    name: 'commit stock',
    async run(ctx) {
      const lines = need(ctx.cart, 'the cart').lines.map((l) => ({ productId: l.productId, quantity: l.quantity }));
      await ports.product.commit({ orderId: ctx.orderId, cartId: ctx.input.cartId, lines });
    },
    async compensate(ctx) {
      await ports.product.uncommit({ orderId: ctx.orderId });
    },
  };
}
