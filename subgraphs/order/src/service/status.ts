import { type EntityManager, LockMode, type MikroORM } from '@mikro-orm/postgresql';
import { badInput, enqueueEvent, forbidden, Identity, isUuid, Logger, notFound, OutboxRelay } from '@shop/kernel';
import { ORDER_EVENTS, orderPayload, PAYMENT_EVENTS, paymentPayload } from '../events/payloads';
import type { ProductPort } from '../ports';
import { OrderEntity, OrderItemEntity, OrderStatusValue, PaymentEntity } from '../store/entities';
import type { PaymentProvider } from './payment';

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
/** Orders that keep neither stock nor money: their follow-ups return the stock, refund or void the payment. */
export const CLOSED: OrderStatusValue[] = ['CANCELLED', 'PAYMENT_FAILED'];
/** The reason recorded (and sent in `payment.failed`) for a payment the buyer did not complete in time. */
export const PAYMENT_NOT_COMPLETED = 'The payment was not completed in time';

/**
 * Sets an order's new status and enqueues its events in the caller's transaction (the order row locked):
 * `order.status_changed` with the previous status on every change, plus `order.cancelled` for CANCELLED.
 */
export async function applyStatus(em: EntityManager, o: OrderEntity, next: OrderStatusValue): Promise<void> {
  const previous = o.status;
  o.status = next;
  o.updatedAt = new Date();
  const items = await em.find(OrderItemEntity, { orderId: o.id }, { orderBy: { position: 'asc' } });
  enqueueEvent(em, ORDER_EVENTS.statusChanged, orderPayload(o, items, previous));
  if (next === 'CANCELLED') enqueueEvent(em, ORDER_EVENTS.cancelled, orderPayload(o, items, previous));
}

/**
 * Records that `refundedTotal` minor units of a payment have been given back (the provider's figure: it only ever
 * grows), in the caller's transaction: a larger total than recorded updates the payment (REFUNDED once all of it is
 * back) and enqueues ONE `payment.refunded` for the difference; the same or a smaller total changes nothing. So the
 * refund our cancellation made and the provider's `charge.refunded` webhook for it record it once, in either order.
 */
export async function recordRefund(
  em: EntityManager,
  paymentId: string,
  refundedTotal: number,
  refundReference: string | null,
): Promise<boolean> {
  const p = await em.findOne(PaymentEntity, { id: paymentId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!p) return false;
  const total = Math.min(refundedTotal, p.amount);
  if (total <= p.refundedAmount) return false;
  const order = await em.findOneOrFail(OrderEntity, { id: p.orderId });
  const refundAmount = total - p.refundedAmount;
  p.refundedAmount = total;
  p.refundReference = refundReference ?? p.refundReference ?? null;
  p.refundedAt = new Date();
  p.updatedAt = new Date();
  if (total >= p.amount) p.status = 'REFUNDED';
  enqueueEvent(
    em,
    PAYMENT_EVENTS.refunded,
    paymentPayload(order, p, { refundAmount, refundedTotal: total, refundReference: p.refundReference ?? null }),
  );
  return true;
}

/**
 * Status changes and cancellation. The change and its events are one transaction under the order's row lock; a
 * cancellation's follow-ups (stock back, refund) run after it and are retried by the background sweep.
 */
export class OrderStatusChanges {
  /** Cancelled orders whose follow-ups are running in this process (the request and the sweep must not race on one). */
  private readonly busy = new Set<string>();

  constructor(
    private readonly orm: MikroORM,
    private readonly product: ProductPort,
    private readonly payments: PaymentProvider,
    private readonly relay: OutboxRelay,
    private readonly logger: Logger,
  ) {}

  /**
   * Admin status change; legal transitions only. CANCELLED and PAYMENT_FAILED also return the stock and refund (or
   * void) the payment. Returns the order's id.
   */
  async updateStatus(id: string, status: OrderStatusValue): Promise<string> {
    const order = await this.changeStatus(id, (o) => {
      if (!TRANSITIONS[o.status].includes(status)) {
        throw badInput('status', `An order cannot go from ${o.status} to ${status}`);
      }
      return status;
    });
    if (CLOSED.includes(order.status)) await this.compensateClosed(order.id);
    return order.id;
  }

  /** The owner cancels before shipping: CANCELLED, stock back (`product.uncommit`), refund through the provider. */
  async cancel(identity: Identity, id: string): Promise<string> {
    const order = await this.changeStatus(id, (o) => {
      if (o.userId !== identity.userId && identity.role !== 'ADMIN')
        throw forbidden('This order belongs to someone else');
      if (o.status === 'CANCELLED') return null; // already cancelled: idempotent
      if (!CANCELLABLE.includes(o.status))
        throw badInput('id', `An order that is ${o.status} can no longer be cancelled`);
      return 'CANCELLED';
    });
    if (order.status === 'CANCELLED') await this.compensateClosed(order.id);
    return order.id;
  }

  /**
   * Returns the stock of a CANCELLED or PAYMENT_FAILED order, refunds its captured payments through the provider
   * (recorded with one `payment.refunded`) and voids a pending one; idempotent, retried by the sweep.
   */
  async compensateClosed(orderId: string): Promise<void> {
    if (this.busy.has(orderId)) return;
    this.busy.add(orderId);
    const em = this.orm.em.fork();
    try {
      const order = await em.findOne(OrderEntity, { id: orderId });
      if (!order || !CLOSED.includes(order.status)) return;
      if (!order.stockReturnedAt) {
        await this.product.uncommit({ orderId });
        await em.getConnection().execute(`UPDATE orders SET stock_returned_at = now() WHERE id = ?`, [orderId]);
      }
      const open = await em.find(PaymentEntity, { orderId, status: { $in: ['CAPTURED', 'PENDING'] } });
      for (const p of open) {
        if (p.status === 'PENDING') {
          // Not taken yet: cancel it at the provider so the buyer cannot complete it any more.
          if (p.reference) await this.payments.void(p.reference, `void:${orderId}`);
          await em
            .getConnection()
            .execute(
              `UPDATE payments SET status = 'VOIDED', client_secret = NULL, next_action = NULL, updated_at = now() WHERE id = ? AND status = 'PENDING'`,
              [p.id],
            );
          continue;
        }
        const refund = p.reference
          ? await this.payments.refund(p.reference, p.amount - p.refundedAmount, p.currency, `refund:${p.id}`)
          : null;
        await this.orm.em.fork().transactional((tx) => recordRefund(tx, p.id, p.amount, refund?.reference ?? null));
        this.relay.kick();
      }
    } catch (err) {
      this.logger.warn(
        { err, orderId },
        'returning stock / refunding a cancelled or failed order failed; will retry in the background',
      );
    } finally {
      this.busy.delete(orderId);
    }
  }

  /**
   * A payment left waiting for the buyer's action (3-D Secure) past PAYMENT_ACTION_TIMEOUT_SECONDS. The intent is
   * cancelled at the provider first, so the buyer can no longer complete it (one that succeeded meanwhile is refunded
   * by the provider's void); then, in one transaction under the order's lock, payment FAILED (`payment.failed`,
   * reason "not completed in time") and order PAYMENT_FAILED; then the stock goes back (`compensateClosed`).
   * Idempotent: an order that is no longer PENDING, or settled meanwhile by a webhook, is left as it is.
   */
  async expirePending(orderId: string): Promise<void> {
    const em = this.orm.em.fork();
    const pending = await em.find(PaymentEntity, { orderId, status: 'PENDING' });
    for (const p of pending) if (p.reference) await this.payments.void(p.reference, `void:${orderId}`);
    const expired = await this.orm.em.fork().transactional(async (tx) => {
      const o = await tx.findOne(OrderEntity, { id: orderId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!o || o.status !== 'PENDING') return false;
      const payments = await tx.find(PaymentEntity, { orderId, status: 'PENDING' });
      for (const p of payments) {
        p.status = 'FAILED';
        p.failureReason = PAYMENT_NOT_COMPLETED;
        p.clientSecret = null;
        p.nextAction = null;
        p.updatedAt = new Date();
        enqueueEvent(tx, PAYMENT_EVENTS.failed, paymentPayload(o, p, { reason: PAYMENT_NOT_COMPLETED }));
      }
      await applyStatus(tx, o, 'PAYMENT_FAILED');
      return true;
    });
    if (!expired) return;
    this.relay.kick();
    this.logger.info({ orderId }, 'pending payment not completed in time: order PAYMENT_FAILED, stock returned');
    await this.compensateClosed(orderId);
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
      await applyStatus(em, o, next);
      return o;
    });
    this.relay.kick();
    return order;
  }
}
