import { Entity, PrimaryKey, Property } from '@mikro-orm/postgresql';

export type OrderStatusValue = 'PENDING' | 'PAID' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED' | 'PAYMENT_FAILED';

/** An order: totals in integer minor units, buyer contact and shipping address snapshotted at placement. */
@Entity({ tableName: 'orders' })
export class OrderEntity {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'text' }) number!: string;
  @Property({ type: 'uuid' }) userId!: string;
  @Property({ type: 'text' }) status!: OrderStatusValue;
  @Property({ type: 'text' }) currency!: string;
  @Property({ type: 'integer' }) subtotal!: number;
  @Property({ type: 'integer' }) discountTotal!: number;
  @Property({ type: 'integer' }) total!: number;
  @Property({ type: 'text' }) buyerEmail!: string;
  @Property({ type: 'text', nullable: true }) buyerFirstName?: string | null;
  @Property({ type: 'text' }) shipName!: string;
  @Property({ type: 'text' }) shipLine1!: string;
  @Property({ type: 'text', nullable: true }) shipLine2?: string | null;
  @Property({ type: 'text' }) shipCity!: string;
  @Property({ type: 'text' }) shipPostalCode!: string;
  @Property({ type: 'text' }) shipCountry!: string;
  @Property({ type: 'text' }) cartId!: string;
  @Property({ type: 'timestamptz', nullable: true }) cartCompletedAt?: Date | null;
  @Property({ type: 'timestamptz', nullable: true }) stockReturnedAt?: Date | null;
  @Property({ type: 'timestamptz' }) createdAt: Date = new Date();
  @Property({ type: 'timestamptz' }) updatedAt: Date = new Date();
}

/** One purchased product: name and prices as they were when the order was placed. */
@Entity({ tableName: 'order_items' })
export class OrderItemEntity {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'uuid' }) orderId!: string;
  @Property({ type: 'integer' }) position!: number;
  @Property({ type: 'uuid' }) productId!: string;
  @Property({ type: 'text' }) productName!: string;
  @Property({ type: 'integer' }) quantity!: number;
  @Property({ type: 'integer' }) unitPrice!: number;
  @Property({ type: 'integer' }) discountPercent!: number;
  @Property({ type: 'integer' }) lineTotal!: number;
}

/** A discounted product in a purchase (the deal that applied and the amount it saved). */
@Entity({ tableName: 'order_discounts' })
export class OrderDiscountEntity {
  @PrimaryKey({ type: 'uuid' }) orderId!: string;
  @PrimaryKey({ type: 'uuid' }) productId!: string;
  @Property({ type: 'integer' }) percent!: number;
  @Property({ type: 'integer' }) amountSaved!: number;
}

/**
 * PENDING: the provider waits for the buyer (3-D Secure) or is processing; CAPTURED: paid; FAILED: the provider
 * refused it after placement; REFUNDED: given back in full; VOIDED: cancelled before it was taken.
 */
export type PaymentStatusValue = 'PENDING' | 'CAPTURED' | 'FAILED' | 'REFUNDED' | 'VOIDED';

@Entity({ tableName: 'payments' })
export class PaymentEntity {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'uuid' }) orderId!: string;
  @Property({ type: 'text' }) provider!: string;
  @Property({ type: 'text' }) status!: PaymentStatusValue;
  @Property({ type: 'text', nullable: true }) reference?: string | null;
  @Property({ type: 'integer' }) amount!: number;
  @Property({ type: 'text' }) currency!: string;
  /** PENDING only: what the client needs to continue (the provider's client secret and next-action type). */
  @Property({ type: 'text', nullable: true }) clientSecret?: string | null;
  @Property({ type: 'text', nullable: true }) nextAction?: string | null;
  @Property({ type: 'text', nullable: true }) failureReason?: string | null;
  /** Minor units given back so far; the provider's reference of the latest refund. */
  @Property({ type: 'integer' }) refundedAmount: number = 0;
  @Property({ type: 'text', nullable: true }) refundReference?: string | null;
  @Property({ type: 'timestamptz', nullable: true }) refundedAt?: Date | null;
  @Property({ type: 'timestamptz' }) createdAt: Date = new Date();
  @Property({ type: 'timestamptz' }) updatedAt: Date = new Date();
}

/** `placeOrder` idempotency: one row per (user, key) for at least 24 h. */
@Entity({ tableName: 'idempotency_keys' })
export class IdempotencyKeyEntity {
  @PrimaryKey({ type: 'uuid' }) userId!: string;
  @PrimaryKey({ type: 'text' }) key!: string;
  @Property({ type: 'text' }) requestHash!: string;
  @Property({ type: 'uuid', nullable: true }) orderId?: string | null;
  @Property({ type: 'text' }) status!: 'IN_PROGRESS' | 'COMPLETED';
  @Property({ type: 'timestamptz' }) createdAt: Date = new Date();
  @Property({ type: 'timestamptz' }) expiresAt!: Date;
}

export const ORDER_ENTITIES = [OrderEntity, OrderItemEntity, OrderDiscountEntity, PaymentEntity, IdempotencyKeyEntity];
