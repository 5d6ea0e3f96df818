import type { MikroORM } from '@mikro-orm/postgresql';
import { AppError, ErrorCode, Logger } from '@shop/kernel';
import type { CartPort } from '../../ports';

/**
 * Step 6, after the pivot: `cart.checkout.complete` (the cart becomes CHECKED_OUT and empty), recorded as
 * `orders.cart_completed_at`. The order stands whatever happens here, so there is nothing to compensate: a failure
 * is logged and the background sweep retries it (orders whose `cart_completed_at` IS NULL).
 */
export class CartCompletion {
  /** Orders whose completion is running in this process (the request and the sweep must not race on one). */
  private readonly busy = new Set<string>();
  /** Completed carts waiting to be recorded, and the recording statement in flight (see `recorded`). */
  private waiting: { orderId: string; done: (err?: unknown) => void }[] = [];
  private recording = false;

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
      await this.recorded(orderId);
    } catch (err) {
      this.logger.warn({ err, orderId, cartId }, 'cart.checkout.complete failed; will retry in the background');
    } finally {
      this.busy.delete(orderId);
    }
  }

  /**
   * Records `orders.cart_completed_at`, group-committed: the first waiting order goes at once, and those completed
   * while its statement runs go together in the next one (under a sale's load one statement, and one transaction,
   * records several checkouts). A failed statement fails each of its orders' `complete`, which the sweep retries.
   */
  private recorded(orderId: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ orderId, done: (err) => (err ? reject(err) : resolve()) });
      if (!this.recording) {
        this.recording = true;
        void this.record();
      }
    });
  }

  private async record(): Promise<void> {
    while (this.waiting.length) {
      const batch = this.waiting;
      this.waiting = [];
      try {
        await this.orm.em
          .getConnection()
          .execute(
            `UPDATE orders SET cart_completed_at = now() WHERE id = ANY(ARRAY[?]::uuid[]) AND cart_completed_at IS NULL`,
            [batch.map((w) => w.orderId)],
          );
        for (const w of batch) w.done();
      } catch (err) {
        for (const w of batch) w.done(err);
      }
    }
    // In the same synchronous stretch as the last look at `waiting`: an order queued after it starts a new run.
    this.recording = false;
  }
}
