import type { EntityManager } from '@mikro-orm/postgresql';
import { enqueueEvent, OutboxRow, outboxRow } from '@shop/kernel';

/**
 * Payloads (`data`) of the product subgraph's domain events, published through the outbox on the PRODUCT stream.
 * Envelope: `{ v: 1, id, type, occurredAt, data }` (kernel `makeEvent`). Amounts are integer minor units.
 */
export interface ProductEventPayloads {
  'product.created': {
    productId: string;
    sku: string;
    name: string;
    category: string;
    priceAmount: number;
    currency: string;
    onHand: number;
    actorId: string | null;
  };
  /** `changed` names the fields that changed; the other fields are the product's values after the change. */
  'product.updated': {
    productId: string;
    changed: ('name' | 'description' | 'category' | 'price')[];
    name: string;
    category: string;
    priceAmount: number;
    currency: string;
    actorId: string | null;
  };
  /** The product left the catalog (deleteProduct); it still resolves by id for carts and orders. */
  'product.archived': { productId: string; sku: string; actorId: string | null };
  /** Any change of on-hand stock: an admin's adjustment, or a sale / return of an order (reason SALE / RETURN, with orderId). */
  'product.stock_adjusted': {
    productId: string;
    movementId: string;
    delta: number;
    reason: string;
    onHand: number;
    actorId: string | null;
    orderId?: string;
  };
}
export type ProductEventType = keyof ProductEventPayloads;

/** Adds a typed product event to the outbox of the caller's transaction. */
export function emitProductEvent<T extends ProductEventType>(
  em: EntityManager,
  type: T,
  data: ProductEventPayloads[T],
): void {
  enqueueEvent(em, type, data);
}

/** The outbox row of a typed product event, for a statement that inserts it with plain SQL. */
export function productEventRow<T extends ProductEventType>(type: T, data: ProductEventPayloads[T]): OutboxRow {
  return outboxRow(type, data);
}
