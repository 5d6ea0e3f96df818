import { AppError, badInput, ErrorCode } from '@shop/kernel';
import type { SagaStep } from './saga';
import type { CheckoutContext, CheckoutDeps } from './context';

/**
 * Step 1, read-only (nothing to compensate): `cart.checkout.begin` → the cart's lines priced, with each product's
 * name and archived flag from the product lookup the cart priced them with (CART_EMPTY / CART_EXPIRED / FORBIDDEN /
 * NOT_FOUND), and `user.get` (the buyer's email and first name for the emails), at once. An archived product →
 * BAD_USER_INPUT on `cartId`.
 */
export function takeCart({ ports }: CheckoutDeps): SagaStep<CheckoutContext> {
  return {
    name: 'take cart',
    async run(ctx) {
      // user.get runs beside the cart; its answer is only used once the cart is known to be this buyer's.
      const buyerP = ports.user.get({ id: ctx.userId });
      buyerP.catch(() => undefined);
      const cart = await ports.cart.beginCheckout({ cartId: ctx.input.cartId, userId: ctx.userId });
      if (!cart.lines?.length) throw new AppError(ErrorCode.CART_EMPTY, 'The cart is empty');
      const gone = cart.lines.find((l) => l.archived);
      if (gone) throw badInput('cartId', `Product ${gone.productId} in the cart is no longer sold`);
      ctx.buyer = await buyerP;
      ctx.cart = cart;
      ctx.names = new Map(cart.lines.map((l) => [l.productId, l.productName]));
    },
  };
}
