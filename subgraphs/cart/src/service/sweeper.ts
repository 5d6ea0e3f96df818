import { counter, Logger } from '@shop/kernel';
import type { CartStore } from '../store/cart.store';
import type { CartService } from './cart.service';

const expiredCartsCounter = () =>
  counter({
    name: 'shop_carts_expired_total',
    help: 'Carts expired by the sweeper (holds released, cart.expired published).',
  });

export interface SweeperOptions {
  /** How often due deadlines are looked for (the expiry happens within this of the deadline). */
  intervalMs: number;
  /** A claimed cart not finished within this is retried by any sweeper (a crashed instance's claim). */
  leaseMs: number;
  batch: number;
}

/**
 * Expires due carts. Deadlines are a sorted set in Redis (not keyspace notifications, which are fire-and-forget);
 * each due entry is claimed atomically by one sweeper, so any number of cart instances can run one.
 */
export class CartSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  readonly options: SweeperOptions;
  /** Created with the sweeper: the series reads 0 before the first expiry. */
  private readonly expiredCarts = expiredCartsCounter();

  constructor(
    private readonly store: CartStore,
    private readonly service: CartService,
    private readonly logger: Logger,
    options: Partial<SweeperOptions> = {},
  ) {
    this.options = { intervalMs: 250, leaseMs: 30_000, batch: 100, ...options };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.sweepOnce()
        .catch((err) => this.logger.error({ err }, 'cart sweep failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.options.intervalMs);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: returns how many carts this sweeper expired. */
  async sweepOnce(): Promise<number> {
    const now = Date.now();
    let expired = 0;
    for (const id of await this.store.due(now, this.options.batch)) {
      if (!(await this.store.claim(id, now, this.options.leaseMs))) continue;
      try {
        const result = await this.service.expire(id, { lockWaitMs: 200 });
        if (result === 'busy') await this.store.reschedule(id, Date.now() + this.options.intervalMs);
        if (result === 'expired') {
          expired++;
          this.expiredCarts.inc();
        }
      } catch (err) {
        // Holds not released or the event not acknowledged: try again soon (both steps are idempotent).
        this.logger.warn({ err, cartId: id }, 'cart expiry failed; retrying');
        await this.store.reschedule(id, Date.now() + 2000).catch(() => undefined);
      }
    }
    return expired;
  }
}
