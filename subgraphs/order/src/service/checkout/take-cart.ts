import { AppError, badInput, ErrorCode } from '@shop/kernel';
import type { SagaStep } from './saga';
import type { CheckoutContext, CheckoutDeps } from './context';

/**
 * Step 1, read-only (nothing to compensate): `cart.checkout.begin` → the cart's lines (CART_EMPTY / CART_EXPIRED /
 * FORBIDDEN / NOT_FOUND), then `user.get` (the buyer's email and first name for the emails) and `product.get` (the
 * names to snapshot). A product that is gone or archived → BAD_USER_INPUT on `cartId`.
 */
export function takeCart({ ports }: CheckoutDeps): SagaStep<CheckoutContext> {
  return {
    name: 'take cart',
    async run(ctx) {
      const cart = await ports.cart.beginCheckout({ cartId: ctx.input.cartId, userId: ctx.userId });
      if (!cart.lines?.length) throw new AppError(ErrorCode.CART_EMPTY, 'The cart is empty');
      const ids = cart.lines.map((l) => l.productId);
      const [buyer, products] = await Promise.all([ports.user.get({ id: ctx.userId }), ports.product.get({ ids })]);
      const names = new Map(products.map((p) => [p.id, p.name]));
      const missing = ids.find((id) => !names.has(id) || products.find((p) => p.id === id)?.archived);
      if (missing) throw badInput('cartId', `Product ${missing} in the cart is no longer sold`);
      ctx.cart = cart;
      ctx.buyer = buyer;
      ctx.names = names;
    },
  };
}
