import { LockMode, type MikroORM } from '@mikro-orm/postgresql';
import { badInput, enqueueEvent, forbidden, Identity, isUuid, Logger, notFound, OutboxRelay } from '@shop/kernel';
import { ORDER_EVENTS, orderPayload } from '../events/payloads';
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

  /** Admin status change; legal transitions only. CANCELLED also returns the stock and refunds. Returns the order's id. */
  async updateStatus(id: string, status: OrderStatusValue): Promise<string> {
    const order = await this.changeStatus(id, (o) => {
      if (!TRANSITIONS[o.status].includes(status)) {
        throw badInput('status', `An order cannot go from ${o.status} to ${status}`);
      }
      return status;
    });
    if (order.status === 'CANCELLED') await this.compensateCancelled(order.id);
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
    if (order.status === 'CANCELLED') await this.compensateCancelled(order.id);
    return order.id;
  }

  /** Returns a cancelled order's stock and refunds its captured payments; idempotent, retried by the sweep. */
  async compensateCancelled(orderId: string): Promise<void> {
    if (this.busy.has(orderId)) return;
    this.busy.add(orderId);
    const em = this.orm.em.fork();
    try {
      const order = await em.findOne(OrderEntity, { id: orderId });
      if (!order || order.status !== 'CANCELLED') return;
      if (!order.stockReturnedAt) {
        await this.product.uncommit({ orderId });
        await em.getConnection().execute(`UPDATE orders SET stock_returned_at = now() WHERE id = ?`, [orderId]);
      }
      const captured = await em.find(PaymentEntity, { orderId, status: 'CAPTURED' });
      for (const p of captured) {
        if (p.reference) await this.payments.refund(p.reference, p.amount, p.currency, `refund:${p.id}`);
        await em
          .getConnection()
          .execute(`UPDATE payments SET status = 'REFUNDED', updated_at = now() WHERE id = ? AND status = 'CAPTURED'`, [
            p.id,
          ]);
      }
    } catch (err) {
      this.logger.warn(
        { err, orderId },
        'returning stock / refunding a cancelled order failed; will retry in the background',
      );
    } finally {
      this.busy.delete(orderId);
    }
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
}
