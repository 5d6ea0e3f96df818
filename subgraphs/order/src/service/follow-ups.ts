import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '@shop/kernel';
import type { CartCompletion } from './checkout/complete-cart';
import type { OrderStatusChanges } from './status';

/**
 * The background pass that retries unfinished follow-ups of requests that already answered: cart completion after
 * placeOrder (orders.cart_completed_at IS NULL) and the stock return / refund / void of a cancelled order or one
 * whose payment failed (webhook).
 */
export class FollowUps {
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    private readonly orm: MikroORM,
    private readonly carts: CartCompletion,
    private readonly status: OrderStatusChanges,
    private readonly logger: Logger,
    private readonly opts: { sweepMs: number; sweepGraceMs: number; pendingTimeoutMs: number },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (!this.sweeping)
        this.sweeping = this.sweep()
          .catch((err) => this.logger.warn({ err }, 'order sweep failed'))
          .finally(() => (this.sweeping = undefined));
    }, this.opts.sweepMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
  }

  /**
   * One pass; follow-ups younger than `graceMs` are left to the request that started them; PENDING orders (a payment
   * waiting for the buyer's action) older than `pendingTimeoutMs` fail and give their stock back.
   */
  async sweep(graceMs = this.opts.sweepGraceMs, pendingTimeoutMs = this.opts.pendingTimeoutMs): Promise<void> {
    const conn = this.orm.em.getConnection();
    const before = new Date(Date.now() - graceMs).toISOString();
    const carts: { id: string; cart_id: string }[] = await conn.execute(
      `SELECT id, cart_id FROM orders WHERE cart_completed_at IS NULL AND created_at < ?::timestamptz ORDER BY created_at LIMIT 50`,
      [before],
    );
    for (const o of carts) await this.carts.complete(o.id, o.cart_id);
    const closed: { id: string }[] = await conn.execute(
      `SELECT o.id FROM orders o WHERE o.status IN ('CANCELLED', 'PAYMENT_FAILED') AND o.updated_at < ?::timestamptz
         AND (o.stock_returned_at IS NULL
           OR EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status IN ('CAPTURED', 'PENDING')))
       ORDER BY o.updated_at LIMIT 50`,
      [before],
    );
    for (const o of closed) await this.status.compensateClosed(o.id);
    const abandoned: { id: string }[] = await conn.execute(
      `SELECT id FROM orders WHERE status = 'PENDING' AND created_at < ?::timestamptz ORDER BY created_at LIMIT 50`,
      [new Date(Date.now() - pendingTimeoutMs).toISOString()],
    );
    for (const o of abandoned) await this.status.expirePending(o.id);
    // Processed webhook ids are needed while the provider may redeliver (Stripe: up to 3 days); kept 30.
    await conn.execute(`DELETE FROM payment_webhook_events WHERE received_at < now() - interval '30 days'`);
  }
}
