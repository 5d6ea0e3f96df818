import type { SagaStep } from './saga';
import { CheckoutContext, CheckoutDeps, need } from './context';

/**
 * Step 4: `product.commit` keyed by the order id turns the cart's holds into sold stock (idempotent per order id;
 * INSUFFICIENT_STOCK / CART_EXPIRED when the stock is not there). Each line names the unit price and deal it was
 * charged at: the cart priced them from what it cached, so the product checks them under its lock and refuses with
 * PRICE_CHANGED when one moved meanwhile (the charge is then voided). Compensation: `product.uncommit` (idempotent).
 */
export function commitStock({ ports }: CheckoutDeps): SagaStep<CheckoutContext> {
  return {
    name: 'commit stock',
    async run(ctx) {
      const lines = need(ctx.cart, 'the cart').lines.map((l) => ({
        productId: l.productId,
        quantity: l.quantity,
        unitPrice: l.unitPrice,
        discountPercent: l.discountPercent,
      }));
      await ports.product.commit({ orderId: ctx.orderId, cartId: ctx.input.cartId, lines });
    },
    async compensate(ctx) {
      await ports.product.uncommit({ orderId: ctx.orderId });
    },
  };
}
