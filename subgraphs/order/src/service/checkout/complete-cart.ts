import type { MikroORM } from '@mikro-orm/postgresql';
import { AppError, ErrorCode, executePrepared, GroupCommit, Logger, pgArray } from '@shop/kernel';
import type { CartPort } from '../../ports';

/**
 * Step 6, after the pivot: `cart.checkout.complete` (the cart becomes CHECKED_OUT and empty), recorded as
 * `orders.cart_completed_at`. The order stands whatever happens here, so there is nothing to compensate: a failure
 * is logged and the background sweep retries it (orders whose `cart_completed_at` IS NULL).
 */
export class CartCompletion {
  /** Orders whose completion is running in this process (the request and the sweep must not race on one). */
  private readonly busy = new Set<string>();
  /**
   * Records `orders.cart_completed_at`, group-committed: the completions that finish while one statement runs are
   * recorded together by the next (under a sale's load one statement, and one transaction, covers several checkouts).
   * A failed statement fails each of its orders' `complete`, which the sweep retries.
   */
  private readonly recorded = new GroupCommit<string>(async (orderIds) => {
    // Prepared, the ids one array parameter: one plan per connection for any batch size (it was planned every time).
    await executePrepared(this.orm, {
      text: `UPDATE orders SET cart_completed_at = now() WHERE id = ANY(?::uuid[]) AND cart_completed_at IS NULL`,
      params: [pgArray(orderIds)],
    });
    return orderIds.map(() => undefined);
  });

  constructor(
    private readonly orm: MikroORM,
    private readonly cart: CartPort,
    private readonly logger: Logger,
  ) {}

  /** `sold`: the lines the order's stock commit sold, when known (the background retry does not know them). */
  async complete(orderId: string, cartId: string, sold?: { productId: string; quantity: number }[]): Promise<void> {
    if (this.busy.has(orderId)) return;
    this.busy.add(orderId);
    try {
      try {
        await this.cart.completeCheckout({ cartId, orderId, ...(sold ? { sold } : {}) });
      } catch (err) {
        // A cart that no longer exists has nothing left to check out; anything else is retried.
        if (!(err instanceof AppError && err.code === ErrorCode.NOT_FOUND)) throw err;
        this.logger.warn({ orderId, cartId }, 'cart.checkout.complete: cart not found; nothing to complete');
      }
      await this.recorded.submit(orderId);
    } catch (err) {
      this.logger.warn({ err, orderId, cartId }, 'cart.checkout.complete failed; will retry in the background');
    } finally {
      this.busy.delete(orderId);
    }
  }
}
