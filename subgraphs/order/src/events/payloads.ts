import type { OrderItemEntity, OrderEntity, OrderStatusValue } from '../store/entities';

/** Subjects this subgraph publishes (through its outbox). */
export const ORDER_EVENTS = {
  placed: 'order.placed',
  statusChanged: 'order.status_changed',
  cancelled: 'order.cancelled',
} as const;

/** The payload of each subject this subgraph publishes: all three share one shape. */
export type OrderEventPayloads = Record<OrderEventType, OrderEventPayload>;
export type OrderEventType = (typeof ORDER_EVENTS)[keyof typeof ORDER_EVENTS];

/**
 * Payload (`data`, envelope v1) of `order.placed`, `order.status_changed` and `order.cancelled`.
 * Amounts are integer minor units of `currency`. `email`/`firstName` are the buyer's contact as the user
 * subgraph gave it at placement (`user.get`), so consumers never read another service's data.
 */
export interface OrderEventPayload {
  orderId: string;
  number: string;
  userId: string;
  email: string;
  firstName: string | null;
  status: OrderStatusValue;
  /** Present on `order.status_changed` and `order.cancelled`. */
  previousStatus?: OrderStatusValue;
  items: {
    productId: string;
    productName: string;
    quantity: number;
    unitPrice: number;
    discountPercent: number;
    lineTotal: number;
  }[];
  subtotal: number;
  discountTotal: number;
  total: number;
  currency: string;
  placedAt: string;
}

export function orderPayload(
  order: OrderEntity,
  items: OrderItemEntity[],
  previousStatus?: OrderStatusValue,
): OrderEventPayload {
  return {
    orderId: order.id,
    number: order.number,
    userId: order.userId,
    email: order.buyerEmail,
    firstName: order.buyerFirstName ?? null,
    status: order.status,
    ...(previousStatus ? { previousStatus } : {}),
    items: [...items]
      .sort((a, b) => a.position - b.position)
      .map((i) => ({
        productId: i.productId,
        productName: i.productName,
        quantity: i.quantity,
        unitPrice: i.unitPrice,
        discountPercent: i.discountPercent,
        lineTotal: i.lineTotal,
      })),
    subtotal: order.subtotal,
    discountTotal: order.discountTotal,
    total: order.total,
    currency: order.currency,
    placedAt: order.createdAt.toISOString(),
  };
}
