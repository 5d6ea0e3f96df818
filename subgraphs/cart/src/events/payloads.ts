/**
 * Payloads (`data`) of the cart subgraph's events on the CART stream, published straight on the bus (carts live in
 * Redis: there is no outbox; both events are best effort, the holds in the product store are the truth). Envelope:
 * `{ v: 1, id, type, occurredAt, data }` (kernel `makeEvent`); the message id names the change, so retries dedupe.
 */
export interface CartEventPayloads {
  /** A cart's lines or status changed. Msg id = cart + version. */
  'cart.updated': {
    cartId: string;
    userId: string | null;
    status: 'ACTIVE' | 'EXPIRED' | 'CHECKED_OUT';
    version: number;
    lines: { productId: string; quantity: number }[];
    expiresAt: string | null;
    reason: CartChangeReason;
  };
  /** The hold window ran out: the holds were released and the cart emptied. Msg id = cart + deadline. */
  'cart.expired': {
    cartId: string;
    userId: string | null;
    deadline: string;
    lines: { productId: string; quantity: number }[];
  };
}
export type CartEventType = keyof CartEventPayloads;
export type CartChangeReason = 'created' | 'item_added' | 'item_updated' | 'item_removed' | 'merged' | 'checked_out';
