import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Identity, Logger, OutboxRelay } from '@shop/kernel';
import type { Ports } from '../ports';
import type { BuyerDirectory, BuyerRow } from './buyers';
import type { OrderEntity, OrderStatusValue } from '../store/entities';
import { Checkout } from './checkout';
import { CartCompletion } from './checkout/complete-cart';
import { FollowUps } from './follow-ups';
import { IdempotencyKeys } from './idempotency';
import type { PaymentProvider } from './payment';
import { OrderReads } from './reads';
import { OrderStatusChanges } from './status';
import { PaymentWebhooks } from './webhooks';
import { PlaceOrderValue, requestHash, validatePlaceOrder } from './validation';

export type { ListArgs } from './reads';

export interface OrderServiceOptions {
  /** How long a request waits for a concurrent request with the same idempotency key (ms). */
  idempotencyWaitMs: number;
  /** How often the background pass retries unfinished follow-ups (cart completion, stock return, refund). */
  sweepMs: number;
  /** Follow-ups younger than this are left to the request that started them (ms). */
  sweepGraceMs: number;
  /** A PENDING order (payment waiting for the buyer's action) older than this fails and returns its stock (ms). */
  pendingTimeoutMs: number;
}

const DEFAULTS: OrderServiceOptions = {
  idempotencyWaitMs: 30_000,
  sweepMs: 5_000,
  sweepGraceMs: 10_000,
  pendingTimeoutMs: 3_600_000,
};

/**
 * Orders, put together from one part per job: idempotency keys (./idempotency), the checkout saga (./checkout),
 * status changes and cancellation (./status), the background follow-ups (./follow-ups) and the reads (./reads, which
 * this class extends: the resolvers batch through them). Cross-service effects go through `ports` (NATS commands);
 * every state change and its event are one PostgreSQL transaction (outbox).
 */
export class OrderService extends OrderReads {
  private readonly keys: IdempotencyKeys;
  private readonly checkout: Checkout;
  private readonly status: OrderStatusChanges;
  private readonly followUps: FollowUps;
  /** `POST /webhooks/payments` (resolvers/routes.ts): the provider's asynchronous answers. */
  readonly webhooks: PaymentWebhooks;

  constructor(
    private readonly db: MikroORM,
    ports: Ports,
    private readonly buyers: BuyerDirectory,
    readonly payments: PaymentProvider,
    relay: OutboxRelay,
    private readonly logger: Logger,
    options: Partial<OrderServiceOptions> = {},
  ) {
    super(db);
    const opts = { ...DEFAULTS, ...options };
    // The buyer's directory row comes with the claim: the checkout reads no row of its own.
    this.keys = new IdempotencyKeys(db, opts.idempotencyWaitMs, (userId) => buyers.rowSql(userId));
    const carts = new CartCompletion(db, ports.cart, logger);
    this.checkout = new Checkout({ orm: db, ports, buyers, payments, keys: this.keys }, carts, relay, logger);
    this.status = new OrderStatusChanges(db, ports.product, payments, relay, logger);
    this.followUps = new FollowUps(db, carts, this.status, logger, opts);
    this.webhooks = new PaymentWebhooks(db, payments, this.status, relay, logger);
  }

  /**
   * placeOrder: validates the input (BAD_USER_INPUT naming the field; nothing touched yet), then runs the checkout
   * saga once per idempotency key — a repeat or a concurrent duplicate gets the same order (see ./idempotency.ts
   * and ./checkout/index.ts for the steps and their compensations).
   */
  async placeOrder(identity: Identity, rawInput: PlaceOrderValue, idempotencyKey: string): Promise<OrderEntity> {
    const userId = identity.userId!;
    const input = validatePlaceOrder(rawInput, idempotencyKey);
    const key = idempotencyKey.trim();
    return this.keys.once(userId, key, requestHash(input), {
      // The order as the checkout wrote it: reading it back would only cost a round trip.
      place: (orderId, buyer) => this.checkout.run(userId, key, input, orderId, buyer as BuyerRow | null),
      completed: (orderId) => this.mustFind(orderId),
      onReleaseError: (err, orderId) => this.logger.error({ err, orderId }, 'releasing the idempotency key failed'),
    });
  }

  /** Admin status change; legal transitions only (./status.ts). CANCELLED also returns the stock and refunds. */
  async updateStatus(id: string, status: OrderStatusValue): Promise<OrderEntity> {
    return this.mustFind(await this.status.updateStatus(id, status));
  }

  /** The owner (or an admin) cancels before shipping: CANCELLED, stock back, refund. Idempotent. */
  async cancel(identity: Identity, id: string): Promise<OrderEntity> {
    return this.mustFind(await this.status.cancel(identity, id));
  }

  /** Starts the sweep that retries cart completion and closed orders' stock return / refund / void. */
  startSweeper(): void {
    this.followUps.start();
  }

  async stopSweeper(): Promise<void> {
    await this.followUps.stop();
  }

  /** One pass of the background follow-ups (exposed for tests). */
  sweep(graceMs?: number, pendingTimeoutMs?: number): Promise<void> {
    return this.followUps.sweep(graceMs, pendingTimeoutMs);
  }

  /** Test/maintenance helper: forks an EntityManager. */
  em(): EntityManager {
    return this.db.em.fork();
  }
}
