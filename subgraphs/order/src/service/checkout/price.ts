import { priceLines } from '../pricing';
import type { SagaStep } from './saga';
import { CheckoutContext, need } from './context';

/** Step 2, a computation (nothing to compensate): deal discount half up per unit, exact integer totals. */
export function price(): SagaStep<CheckoutContext> {
  return {
    name: 'price',
    async run(ctx) {
      ctx.priced = priceLines(need(ctx.cart, 'the cart').lines, need(ctx.names, 'the product names'));
    },
  };
}
