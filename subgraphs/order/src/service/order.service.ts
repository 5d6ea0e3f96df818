import { randomUUID } from 'node:crypto';
import { LockMode, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import {
  AppError, badInput, enqueueEvent, ErrorCode, forbidden, Identity, Logger, notFound, OutboxRelay,
} from '@shop/kernel';
import { ORDER_EVENTS, orderPayload } from '../events';
import type { Ports } from '../ports';
import {
  IdempotencyKeyEntity, OrderDiscountEntity, OrderEntity, OrderItemEntity, OrderStatusValue, PaymentEntity,
} from '../store/entities';
import type { Charge, PaymentProvider } from './payment';
import { priceLines, PricedOrder } from './pricing';
import { PlaceOrderValue, requestHash, validatePlaceOrder } from './validation';

/** Legal status changes (updateOrderStatus); anything else is BAD_USER_INPUT on `status`. */
export const TRANSITIONS: Record<OrderStatusValue, OrderStatusValue[]> = {
  PENDING: ['PAID', 'PAYMENT_FAILED', 'CANCELLED'],
  PAID: ['SHIPPED', 'CANCELLED'],
  SHIPPED: ['DELIVERED'],
  DELIVERED: [],
  CANCELLED: [],
  PAYMENT_FAILED: [],
};
/** The owner may cancel until the order ships. */
const CANCELLABLE: OrderStatusValue[] = ['PENDING', 'PAID'];

export interface OrderServiceOptions {
  /** How long a request waits for a concurrent request with the same idempotency key (ms). */
  idempotencyWaitMs: number;
  /** How often the background pass retries unfinished follow-ups (cart completion, stock return, refund). */
  sweepMs: number;
  /** Follow-ups younger than this are left to the request that started them (ms). */
  sweepGraceMs: number;
}

const DEFAULTS: OrderServiceOptions = { idempotencyWaitMs: 30_000, sweepMs: 5_000, sweepGraceMs: 10_000 };
const KEY_TTL = "interval '24 hours'";

export interface ListArgs {
  first: number;
  after?: [string, string];
  status?: OrderStatusValue | null;
  userId?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Orders: the placeOrder saga, status changes, cancellation, reads. Cross-service effects go through `ports`
 * (NATS commands); every state change and its event are one PostgreSQL transaction (outbox).
 */
export class OrderService {
  private sweeper?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private readonly busy = new Set<string>();
  private readonly opts: OrderServiceOptions;

  constructor(
    private readonly orm: MikroORM,
    private readonly ports: Ports,
    readonly payments: PaymentProvider,
    private readonly relay: OutboxRelay,
    private readonly logger: Logger,
    opts: Partial<OrderServiceOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // placeOrder
  // ---------------------------------------------------------------------------------------------------------------

  /**
   * The placeOrder saga. Steps are ordered so that every failure leaves a consistent state:
   *
   *  1. Validate the input (BAD_USER_INPUT naming the field). Nothing touched yet.
   *  2. Idempotency: INSERT (user, key, request hash) as IN_PROGRESS. An existing row with another hash →
   *     IDEMPOTENCY_CONFLICT; COMPLETED with the same hash → the same order; IN_PROGRESS (a concurrent request)
   *     → poll until it completes (same order) or is released (its attempt failed: we try ourselves).
   *  3. `cart.checkout.begin` → the cart's lines (CART_EMPTY / CART_EXPIRED / FORBIDDEN / NOT_FOUND).
   *     Then `user.get` (buyer email for the emails) and `product.get` (names to snapshot). Read-only.
   *  4. Price the lines: deal discount half up per unit, exact integer totals.
   *  5. Charge (idempotency key = the pre-generated order id). Declined → PAYMENT_DECLINED; the key row is deleted
   *     and NOTHING else changed (no order row, cart and holds untouched).
   *  6. `product.commit` keyed by the order id (holds → sold). Failure → void the charge, release the key, rethrow.
   *  7. ONE transaction: order (PAID) + items + order_discounts + payment + `order.placed` outbox row + key
   *     COMPLETED. Failure → `product.uncommit` + void + release the key, rethrow.
   *  8. `cart.checkout.complete`: the order stands whatever happens here; a failure is logged and the background
   *     sweep retries it (orders.cart_completed_at IS NULL).
   */
  async placeOrder(identity: Identity, rawInput: PlaceOrderValue, idempotencyKey: string): Promise<OrderEntity> {
    const userId = identity.userId!;
    const input = validatePlaceOrder(rawInput, idempotencyKey);
    const key = idempotencyKey.trim();
    const hash = requestHash(input);
    const deadline = Date.now() + this.opts.idempotencyWaitMs;
    for (;;) {
      // The order id is chosen before anything happens and recorded on the key row: the charge and the stock
      // commit are keyed by it, so an interrupted attempt can be traced (and compensated) from the key row.
      const orderId = randomUUID();
      const claim = await this.claimKey(userId, key, hash, orderId);
      if (claim.kind === 'owner') return this.runSaga(userId, key, input, orderId);
      if (claim.kind === 'completed') return this.mustFind(claim.orderId);
      // Someone else is placing this very order: wait for their outcome.
      if (Date.now() > deadline) {
        throw new AppError(ErrorCode.IDEMPOTENCY_CONFLICT, 'A request with this idempotency key is still in progress; retry later', { field: 'idempotencyKey', inProgress: true });
      }
      await sleep(50);
    }
  }

  private async claimKey(userId: string, key: string, hash: string, orderId: string): Promise<{ kind: 'owner' } | { kind: 'completed'; orderId: string } | { kind: 'wait' }> {
    const conn = this.orm.em.getConnection();
    const inserted = await conn.execute(
      `INSERT INTO idempotency_keys (user_id, key, request_hash, order_id, status, created_at, expires_at)
       VALUES (?, ?, ?, ?, 'IN_PROGRESS', now(), now() + ${KEY_TTL}) ON CONFLICT (user_id, key) DO NOTHING RETURNING key`,
      [userId, key, hash, orderId],
    );
    if (inserted.length) return { kind: 'owner' };
    const rows: { request_hash: string; status: string; order_id: string | null; expired: boolean }[] = await conn.execute(
      `SELECT request_hash, status, order_id, expires_at < now() AS expired FROM idempotency_keys WHERE user_id = ? AND key = ?`,
      [userId, key],
    );
    if (!rows.length) return { kind: 'wait' }; // released between our INSERT and SELECT: try again
    const row = rows[0];
    if (row.expired) {
      // Past its 24 h: the key may be reused for a new request.
      await conn.execute(`DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND expires_at < now()`, [userId, key]);
      return { kind: 'wait' };
    }
    if (row.request_hash !== hash) {
      throw new AppError(ErrorCode.IDEMPOTENCY_CONFLICT, 'This idempotency key was used for a different request', { field: 'idempotencyKey' });
    }
    if (row.status === 'COMPLETED' && row.order_id) return { kind: 'completed', orderId: row.order_id };
    return { kind: 'wait' };
  }

  private async releaseKey(userId: string, key: string, orderId: string): Promise<void> {
    await this.orm.em.getConnection().execute(`DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND order_id = ? AND status = 'IN_PROGRESS'`, [userId, key, orderId]);
  }

  private async runSaga(userId: string, key: string, input: PlaceOrderValue, orderId: string): Promise<OrderEntity> {
    let charge: Charge | undefined;
    let committed = false;
    let order: OrderEntity;
    try {
      // 3. The cart (read-only) and what the order snapshots.
      const cart = await this.ports.cart.beginCheckout({ cartId: input.cartId, userId });
      if (!cart.lines?.length) throw new AppError(ErrorCode.CART_EMPTY, 'The cart is empty');
      const ids = cart.lines.map((l) => l.productId);
      const [buyer, products] = await Promise.all([this.ports.user.get({ id: userId }), this.ports.product.get({ ids })]);
      const names = new Map(products.map((p) => [p.id, p.name]));
      const missing = ids.find((id) => !names.has(id) || products.find((p) => p.id === id)?.archived);
      if (missing) throw badInput('cartId', `Product ${missing} in the cart is no longer sold`);
      // 4. Price.
      const priced = priceLines(cart.lines, names);
      // 5. Charge.
      charge = await this.payments.charge(priced.total, cart.currency, input.paymentToken, `order:${orderId}`);
      // 6. Stock: holds → sold.
      await this.ports.product.commit({ orderId, cartId: input.cartId, lines: cart.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })) });
      committed = true;
      // 7. One transaction: the order, its rows, its event, the key.
      order = await this.persistOrder({ orderId, userId, key, input, currency: cart.currency, priced, buyer, charge });
    } catch (err) {
      if (committed) await this.ports.product.uncommit({ orderId }).catch((e) => this.logger.error({ err: e, orderId }, 'compensation product.uncommit failed'));
      if (charge) await this.payments.void(charge.reference, `void:${orderId}`).catch((e) => this.logger.error({ err: e, orderId }, 'compensation void failed'));
      await this.releaseKey(userId, key, orderId).catch((e) => this.logger.error({ err: e, orderId }, 'releasing the idempotency key failed'));
      throw err;
    }
    this.relay.kick();
    // 8. The order stands; the cart is told now, or by the background sweep.
    await this.completeCart(order.id, order.cartId);
    return this.mustFind(order.id);
  }

  private async persistOrder(a: {
    orderId: string; userId: string; key: string; input: PlaceOrderValue; currency: string; priced: PricedOrder;
    buyer: { email: string; firstName: string | null }; charge: Charge;
  }): Promise<OrderEntity> {
    return this.orm.em.fork().transactional(async (em) => {
      const conn = em.getConnection();
      const ctx = em.getTransactionContext();
      const [{ n }] = await conn.execute(`SELECT nextval('order_number_seq')::text AS n`, [], 'all', ctx);
      const now = new Date();
      const addr = a.input.shippingAddress;
      const order = em.create(OrderEntity, {
        id: a.orderId,
        number: `SH-${now.getUTCFullYear()}-${String(n).padStart(6, '0')}`,
        userId: a.userId,
        status: 'PAID',
        currency: a.currency,
        subtotal: a.priced.subtotal,
        discountTotal: a.priced.discountTotal,
        total: a.priced.total,
        buyerEmail: a.buyer.email,
        buyerFirstName: a.buyer.firstName ?? null,
        shipName: addr.name,
        shipLine1: addr.line1,
        shipLine2: addr.line2 ?? null,
        shipCity: addr.city,
        shipPostalCode: addr.postalCode,
        shipCountry: addr.country,
        cartId: a.input.cartId,
        cartCompletedAt: null,
        stockReturnedAt: null,
        createdAt: now,
        updatedAt: now,
      });
      // The child tables reference orders(id) and the ORM knows no relation between them: the parent goes first.
      await em.flush();
      const items = a.priced.lines.map((l, position) =>
        em.create(OrderItemEntity, {
          id: randomUUID(), orderId: a.orderId, position, productId: l.productId, productName: l.productName,
          quantity: l.quantity, unitPrice: l.unitPrice, discountPercent: l.discountPercent, lineTotal: l.lineTotal,
        }),
      );
      for (const l of a.priced.lines) {
        if (l.discountPercent > 0) em.create(OrderDiscountEntity, { orderId: a.orderId, productId: l.productId, percent: l.discountPercent, amountSaved: l.amountSaved });
      }
      em.create(PaymentEntity, {
        id: randomUUID(), orderId: a.orderId, provider: this.payments.name, status: 'CAPTURED', reference: a.charge.reference,
        amount: a.priced.total, currency: a.currency, createdAt: now, updatedAt: now,
      });
      enqueueEvent(em, ORDER_EVENTS.placed, orderPayload(order, items));
      await em.flush();
      const done = await conn.execute(
        `UPDATE idempotency_keys SET status = 'COMPLETED' WHERE user_id = ? AND key = ? AND order_id = ? AND status = 'IN_PROGRESS'`,
        [a.userId, a.key, a.orderId], 'run', ctx,
      );
      if (!(done as { affectedRows?: number }).affectedRows) throw new Error('idempotency key row vanished during checkout');
      return order;
    });
  }

  /** `cart.checkout.complete`, then records it; failures are logged (the sweep retries). */
  private async completeCart(orderId: string, cartId: string): Promise<void> {
    if (this.busy.has(`cart:${orderId}`)) return;
    this.busy.add(`cart:${orderId}`);
    try {
      try {
        await this.ports.cart.completeCheckout({ cartId, orderId });
      } catch (err) {
        // A cart that no longer exists has nothing left to check out; anything else is retried.
        if (!(err instanceof AppError && err.code === ErrorCode.NOT_FOUND)) throw err;
        this.logger.warn({ orderId, cartId }, 'cart.checkout.complete: cart not found; nothing to complete');
      }
      await this.orm.em.getConnection().execute(`UPDATE orders SET cart_completed_at = now() WHERE id = ? AND cart_completed_at IS NULL`, [orderId]);
    } catch (err) {
      this.logger.warn({ err, orderId, cartId }, 'cart.checkout.complete failed; will retry in the background');
    } finally {
      this.busy.delete(`cart:${orderId}`);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Status changes and cancellation
  // ---------------------------------------------------------------------------------------------------------------

  /** Admin status change; legal transitions only. CANCELLED also returns the stock and refunds. */
  async updateStatus(id: string, status: OrderStatusValue): Promise<OrderEntity> {
    const order = await this.changeStatus(id, (o) => {
      if (!TRANSITIONS[o.status].includes(status)) {
        throw badInput('status', `An order cannot go from ${o.status} to ${status}`);
      }
      return status;
    });
    if (order.status === 'CANCELLED') await this.compensateCancelled(order.id);
    return this.mustFind(order.id);
  }

  /** The owner cancels before shipping: CANCELLED, stock back (`product.uncommit`), refund through the provider. */
  async cancel(identity: Identity, id: string): Promise<OrderEntity> {
    const order = await this.changeStatus(id, (o) => {
      if (o.userId !== identity.userId && identity.role !== 'ADMIN') throw forbidden('This order belongs to someone else');
      if (o.status === 'CANCELLED') return null; // already cancelled: idempotent
      if (!CANCELLABLE.includes(o.status)) throw badInput('id', `An order that is ${o.status} can no longer be cancelled`);
      return 'CANCELLED';
    });
    if (order.status === 'CANCELLED') await this.compensateCancelled(order.id);
    return this.mustFind(order.id);
  }

  /**
   * Locks the order row, asks `decide` for the new status (null = leave it), writes it with its events in one
   * transaction: `order.status_changed` on every change, plus `order.cancelled` when it becomes CANCELLED.
   */
  private async changeStatus(id: string, decide: (o: OrderEntity) => OrderStatusValue | null): Promise<OrderEntity> {
    if (!isUuid(id)) throw notFound('Order');
    const order = await this.orm.em.fork().transactional(async (em) => {
      const o = await em.findOne(OrderEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!o) throw notFound('Order');
      const next = decide(o);
      if (!next || next === o.status) return o;
      const previous = o.status;
      o.status = next;
      o.updatedAt = new Date();
      const items = await em.find(OrderItemEntity, { orderId: id }, { orderBy: { position: 'asc' } });
      enqueueEvent(em, ORDER_EVENTS.statusChanged, orderPayload(o, items, previous));
      if (next === 'CANCELLED') enqueueEvent(em, ORDER_EVENTS.cancelled, orderPayload(o, items, previous));
      return o;
    });
    this.relay.kick();
    return order;
  }

  /** Returns a cancelled order's stock and refunds its captured payments; idempotent, retried by the sweep. */
  private async compensateCancelled(orderId: string): Promise<void> {
    if (this.busy.has(`cancel:${orderId}`)) return;
    this.busy.add(`cancel:${orderId}`);
    const em = this.orm.em.fork();
    try {
      const order = await em.findOne(OrderEntity, { id: orderId });
      if (!order || order.status !== 'CANCELLED') return;
      if (!order.stockReturnedAt) {
        await this.ports.product.uncommit({ orderId });
        await em.getConnection().execute(`UPDATE orders SET stock_returned_at = now() WHERE id = ?`, [orderId]);
      }
      const captured = await em.find(PaymentEntity, { orderId, status: 'CAPTURED' });
      for (const p of captured) {
        if (p.reference) await this.payments.refund(p.reference, p.amount, p.currency, `refund:${p.id}`);
        await em.getConnection().execute(`UPDATE payments SET status = 'REFUNDED', updated_at = now() WHERE id = ? AND status = 'CAPTURED'`, [p.id]);
      }
    } catch (err) {
      this.logger.warn({ err, orderId }, 'returning stock / refunding a cancelled order failed; will retry in the background');
    } finally {
      this.busy.delete(`cancel:${orderId}`);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Background follow-ups
  // ---------------------------------------------------------------------------------------------------------------

  /** Starts the sweep that retries cart completion and cancelled orders' stock return / refund. */
  startSweeper(): void {
    this.sweeper = setInterval(() => {
      if (!this.sweeping) this.sweeping = this.sweep().catch((err) => this.logger.warn({ err }, 'order sweep failed')).finally(() => (this.sweeping = undefined));
    }, this.opts.sweepMs);
    this.sweeper.unref();
  }

  async stopSweeper(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.sweeping;
  }

  /** One pass of the background follow-ups (exposed for tests). */
  async sweep(graceMs = this.opts.sweepGraceMs): Promise<void> {
    const conn = this.orm.em.getConnection();
    const before = new Date(Date.now() - graceMs).toISOString();
    const carts: { id: string; cart_id: string }[] = await conn.execute(
      `SELECT id, cart_id FROM orders WHERE cart_completed_at IS NULL AND created_at < ?::timestamptz ORDER BY created_at LIMIT 50`, [before],
    );
    for (const o of carts) await this.completeCart(o.id, o.cart_id);
    const cancelled: { id: string }[] = await conn.execute(
      `SELECT o.id FROM orders o WHERE o.status = 'CANCELLED' AND o.updated_at < ?::timestamptz
         AND (o.stock_returned_at IS NULL OR EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status = 'CAPTURED'))
       ORDER BY o.updated_at LIMIT 50`, [before],
    );
    for (const o of cancelled) await this.compensateCancelled(o.id);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Reads (batched by the resolvers' DataLoaders)
  // ---------------------------------------------------------------------------------------------------------------

  async mustFind(id: string): Promise<OrderEntity> {
    const [o] = await this.findByIds([id]);
    if (!o) throw notFound('Order');
    return o;
  }

  async findByIds(ids: readonly string[]): Promise<OrderEntity[]> {
    const valid = ids.filter(isUuid);
    if (!valid.length) return [];
    return this.orm.em.fork().find(OrderEntity, { id: { $in: valid } });
  }

  async itemsByOrderIds(ids: readonly string[]): Promise<OrderItemEntity[]> {
    if (!ids.length) return [];
    return this.orm.em.fork().find(OrderItemEntity, { orderId: { $in: [...ids] } }, { orderBy: { orderId: 'asc', position: 'asc' } });
  }

  async paymentsByOrderIds(ids: readonly string[]): Promise<PaymentEntity[]> {
    if (!ids.length) return [];
    return this.orm.em.fork().find(PaymentEntity, { orderId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc' } });
  }

  /** One page, newest first, keyset (created_at, id): `first + 1` rows (the extra one says there is a next page). */
  async list(args: ListArgs): Promise<OrderEntity[]> {
    const where: Record<string, unknown> = {};
    if (args.status) where.status = args.status;
    if (args.userId) where.userId = args.userId;
    if (args.after) {
      const [at, id] = args.after;
      const d = new Date(at);
      if (Number.isNaN(d.getTime()) || !isUuid(id)) throw badInput('after', 'after is not a valid cursor');
      where.$or = [{ createdAt: { $lt: d } }, { createdAt: d, id: { $lt: id } }];
    }
    return this.orm.em.fork().find(OrderEntity, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: args.first + 1 });
  }

  /**
   * The same page for many users in ONE statement (User.orders across a list of users): a LATERAL join picks
   * each user's `first + 1` newest orders after the cursor.
   */
  async listForUsers(userIds: readonly string[], first: number, after?: [string, string]): Promise<Map<string, OrderEntity[]>> {
    const out = new Map<string, OrderEntity[]>(userIds.map((u) => [u, []]));
    const valid = [...new Set(userIds.filter(isUuid))];
    if (!valid.length) return out;
    const em = this.orm.em.fork();
    let cursorSql = '';
    const params: unknown[] = [valid];
    if (after) {
      const d = new Date(after[0]);
      if (Number.isNaN(d.getTime()) || !isUuid(after[1])) throw badInput('after', 'after is not a valid cursor');
      cursorSql = 'AND (o.created_at, o.id) < (?::timestamptz, ?::uuid)';
      params.push(d.toISOString(), after[1]);
    }
    params.push(first + 1);
    const rows: Record<string, unknown>[] = await em.getConnection().execute(
      `SELECT o.* FROM unnest(ARRAY[?]::uuid[]) AS u(id)
       CROSS JOIN LATERAL (SELECT * FROM orders o WHERE o.user_id = u.id ${cursorSql} ORDER BY o.created_at DESC, o.id DESC LIMIT ?) o`,
      params,
    );
    for (const row of rows) {
      const o = em.map(OrderEntity, row);
      out.get(o.userId)?.push(o);
    }
    return out;
  }

  async count(args: { status?: OrderStatusValue | null; userId?: string }): Promise<number> {
    const where: Record<string, unknown> = {};
    if (args.status) where.status = args.status;
    if (args.userId) where.userId = args.userId;
    return this.orm.em.fork().count(OrderEntity, where);
  }

  async countForUsers(userIds: readonly string[]): Promise<Map<string, number>> {
    const valid = [...new Set(userIds.filter(isUuid))];
    const out = new Map<string, number>();
    if (!valid.length) return out;
    const rows: { user_id: string; n: string }[] = await this.orm.em.getConnection().execute(
      `SELECT user_id, count(*)::text AS n FROM orders WHERE user_id = ANY(ARRAY[?]::uuid[]) GROUP BY user_id`, [valid],
    );
    for (const r of rows) out.set(r.user_id, Number(r.n));
    return out;
  }

  /** Test/maintenance helper: forks an EntityManager. */
  em(): EntityManager {
    return this.orm.em.fork();
  }
}

export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
}

export { IdempotencyKeyEntity };
