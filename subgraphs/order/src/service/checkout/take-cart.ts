import { AppError, badInput, ErrorCode } from '@shop/kernel';
import type { SagaStep } from './saga';
import type { CheckoutContext, CheckoutDeps } from './context';

/**
 * Step 1, read-only (nothing to compensate): `cart.checkout.begin` → the cart's lines priced, with each product's
 * name and archived flag from the product lookup the cart priced them with (CART_EMPTY / CART_EXPIRED / FORBIDDEN /
 * NOT_FOUND), and the buyer's email and first name for the emails (the buyer directory's row, which the idempotency
 * claim read; `user.get` for a buyer it does not have yet), at the same time. An archived product → BAD_USER_INPUT on `cartId`.
 */
export function takeCart({ ports, buyers }: CheckoutDeps): SagaStep<CheckoutContext> {
  return {
    name: 'take cart',
    async run(ctx) {
      // Both read at once: independent reads, answered side by side. The cart's refusals still come first; a buyer
      // lookup failing after one is dropped.
      const buyer = buyers.contact(ctx.userId, ctx.buyerRow);
      buyer.catch(() => undefined);
      const cart = await ports.cart.beginCheckout({ cartId: ctx.input.cartId, userId: ctx.userId });
      if (!cart.lines?.length) throw new AppError(ErrorCode.CART_EMPTY, 'The cart is empty');
      const gone = cart.lines.find((l) => l.archived);
      if (gone) throw badInput('cartId', `Product ${gone.productId} in the cart is no longer sold`);
      ctx.buyer = await buyer;
      ctx.cart = cart;
      ctx.names = new Map(cart.lines.map((l) => [l.productId, l.productName]));
    },
  };
}
