import type {
  OrderItemEntity,
  OrderEntity,
  OrderStatusValue,
  PaymentEntity,
  PaymentStatusValue,
} from '../store/entities';

/** Subjects this subgraph publishes (through its outbox). */
export const ORDER_EVENTS = {
  placed: 'order.placed',
  statusChanged: 'order.status_changed',
  cancelled: 'order.cancelled',
} as const;

/** Payment subjects this subgraph publishes (stream PAYMENT), each once per payment and outcome. */
export const PAYMENT_EVENTS = {
  succeeded: 'payment.succeeded',
  failed: 'payment.failed',
  refunded: 'payment.refunded',
} as const;

/** The payload of each subject this subgraph publishes: the order events share one shape, the payment events another. */
export type OrderEventPayloads = Record<OrderEventType, OrderEventPayload> &
  Record<PaymentEventType, PaymentEventPayload>;
export type OrderEventType = (typeof ORDER_EVENTS)[keyof typeof ORDER_EVENTS];
export type PaymentEventType = (typeof PAYMENT_EVENTS)[keyof typeof PAYMENT_EVENTS];

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

/**
 * Payload (`data`, envelope v1) of `payment.succeeded`, `payment.failed` and `payment.refunded`. Amounts are integer
 * minor units of `currency`; the buyer's contact comes from the order (for the emails).
 */
export interface PaymentEventPayload {
  orderId: string;
  number: string;
  userId: string;
  email: string;
  firstName: string | null;
  /** `simulated` or `stripe`. */
  provider: string;
  /** The provider's reference of the charge (Stripe: the PaymentIntent id). */
  reference: string | null;
  /** The payment's status after the event: CAPTURED, FAILED, or REFUNDED / CAPTURED (a partial refund). */
  status: PaymentStatusValue;
  /** What was charged. */
  amount: number;
  currency: string;
  /** `payment.failed`: the provider's reason. */
  reason?: string;
  /** `payment.refunded`: what this refund gave back, everything given back so far, the provider's refund reference. */
  refundAmount?: number;
  refundedTotal?: number;
  refundReference?: string | null;
}

export function paymentPayload(
  order: Pick<OrderEntity, 'id' | 'number' | 'userId' | 'buyerEmail' | 'buyerFirstName'>,
  payment: Pick<PaymentEntity, 'provider' | 'reference' | 'status' | 'amount' | 'currency'>,
  extra: Pick<PaymentEventPayload, 'reason' | 'refundAmount' | 'refundedTotal' | 'refundReference'> = {},
): PaymentEventPayload {
  return {
    orderId: order.id,
    number: order.number,
    userId: order.userId,
    email: order.buyerEmail,
    firstName: order.buyerFirstName ?? null,
    provider: payment.provider,
    reference: payment.reference ?? null,
    status: payment.status,
    amount: payment.amount,
    currency: payment.currency,
    ...extra,
  };
}
