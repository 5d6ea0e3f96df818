import type { Logger, OutboxRelay } from '@shop/kernel';
import type { OrderEntity } from '../../store/entities';
import type { BuyerRow } from '../buyers';
import type { PlaceOrderValue } from '../validation';
import { charge } from './charge';
import { commitStock } from './commit-stock';
import type { CartCompletion } from './complete-cart';
import type { CheckoutContext, CheckoutDeps } from './context';
import { price } from './price';
import { runSaga, SagaStep } from './saga';
import { takeCart } from './take-cart';
import { writeOrder } from './write-order';

/**
 * The placeOrder saga, one step per file. The caller has validated the input and owns the idempotency key (its row
 * is IN_PROGRESS with this order id; see ../idempotency.ts, which deletes it when this throws). Steps are ordered so
 * that every failure leaves a consistent state:
 *
 *  1. take cart    `cart.checkout.begin` (lines with prices and names), the buyer (the directory row the claim read, or
 *                  `user.get` for one it lacks) — read-only.
 *  2. price        deal discount half up per unit, exact integer totals — a computation.
 *  3. charge       provider key `order:<orderId>`; declined → PAYMENT_DECLINED.   Compensation: void the charge.
 *                  CAPTURED, or PENDING when the provider waits for the buyer (3-D Secure; its webhook settles it).
 *  4. commit stock `product.commit` keyed by the order id (holds → sold), at the    Compensation: `product.uncommit`.
 *                  prices charged: the cart priced from what it remembered, so a moved price → PRICE_CHANGED.
 *  5. write order  ONE transaction: order (PAID, or PENDING) + items + order_discounts + payment + `order.placed`
 *                  (+ `payment.succeeded` when PAID) outbox rows + idempotency key COMPLETED. The pivot: after it
 *                  the order stands. Its events are published right after, as written (the relay's poll is the net).
 *  6. complete cart `cart.checkout.complete` with the lines sold (the cart skips releasing holds when they are all
 *                  its lines) — after the pivot, never fails the order: a failure is logged and the background sweep
 *                  retries it (orders.cart_completed_at IS NULL).
 *
 * When step N throws, the compensations of steps N-1…1 run in reverse order (so a failed write undoes the stock
 * commit, then voids the charge; a failed commit voids the charge; a declined charge changes nothing), a failed
 * compensation is logged and does not stop the others, then the key is released and the step's error surfaces
 * unchanged (its code: CART_EMPTY, INSUFFICIENT_STOCK, PAYMENT_DECLINED, PRICE_CHANGED, …).
 */
export class Checkout {
  private readonly steps: readonly SagaStep<CheckoutContext>[];

  constructor(
    deps: CheckoutDeps,
    private readonly cartCompletion: CartCompletion,
    private readonly relay: OutboxRelay,
    private readonly logger: Logger,
  ) {
    this.steps = [takeCart(deps), price(), charge(deps), commitStock(deps), writeOrder(deps)];
  }

  /**
   * Places the order `orderId`; returns it as written (steps 1–5; no read back), after telling the cart (step 6).
   * `buyerRow`: the buyer's directory row as the idempotency claim read it (null: none).
   */
  async run(
    userId: string,
    key: string,
    input: PlaceOrderValue,
    orderId: string,
    buyerRow: BuyerRow | null,
  ): Promise<OrderEntity> {
    const ctx: CheckoutContext = { orderId, userId, key, input, buyerRow };
    await runSaga(this.steps, ctx, (step, err) =>
      this.logger.error({ err, orderId }, `compensation of checkout step "${step.name}" failed`),
    );
    const order = ctx.order!;
    // Its events leave now, as written, without a claiming pass (OutboxRelay.publishCommitted).
    this.relay.publishCommitted(ctx.events!);
    const sold = ctx.cart!.lines.map((l) => ({ productId: l.productId, quantity: l.quantity }));
    await this.cartCompletion.complete(order.id, order.cartId, sold);
    return order;
  }
}
