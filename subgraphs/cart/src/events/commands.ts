import type { Bus } from '@shop/kernel';

/** A line of the `cart.checkout.begin` reply: priced as the cart shows it, with what the order snapshots. */
export interface CheckoutLine {
  productId: string;
  quantity: number;
  /** List price per unit in minor units, as the cart shows it. */
  unitPrice: number;
  /** Deal discount in whole percent (0 when none). */
  discountPercent: number;
  /** The product's name when the cart priced it (snapshotted on the order item). */
  productName: string;
  /** The product is no longer sold (the order refuses it). */
  archived: boolean;
}

/** The `cart.checkout.begin` reply: the cart priced as it stands. */
export interface CheckoutCart {
  cartId: string;
  status: 'ACTIVE';
  currency: string;
  /** ISO-8601: when the cart's stock holds lapse. */
  expiresAt: string;
  lines: CheckoutLine[];
}

/**
 * Request/reply commands the order subgraph sends over NATS (it never reads the cart store). The order subgraph's
 * `CartPort` (subgraphs/order/src/ports.ts) is typed from this contract.
 */
export interface CartCommands {
  /** The cart priced as it stands: NOT_FOUND, FORBIDDEN (someone else's or a guest cart), CART_EXPIRED, CART_EMPTY. */
  'cart.checkout.begin': {
    req: { cartId: string; userId: string };
    res: CheckoutCart;
  };
  /** The order is placed: CHECKED_OUT and emptied. Idempotent. */
  'cart.checkout.complete': {
    req: { cartId: string; orderId: string; sold?: { productId: string; quantity: number }[] };
    res: { ok: true };
  };
}

type Command<K extends keyof CartCommands> = CartCommands[K];

/** What answers the commands (the CartService); declared here so the contract imports no service (no cycle). */
export interface CartCommandHandlers {
  beginCheckout(req: Command<'cart.checkout.begin'>['req']): Promise<Command<'cart.checkout.begin'>['res']>;
  completeCheckout(req: Command<'cart.checkout.complete'>['req']): Promise<Command<'cart.checkout.complete'>['res']>;
}

export function serveCommands(bus: Bus, carts: CartCommandHandlers): void {
  bus.serve<CartCommands['cart.checkout.begin']['req'], CartCommands['cart.checkout.begin']['res']>(
    'cart.checkout.begin',
    (req) => carts.beginCheckout(req),
  );
  bus.serve<CartCommands['cart.checkout.complete']['req'], CartCommands['cart.checkout.complete']['res']>(
    'cart.checkout.complete',
    (req) => carts.completeCheckout(req),
  );
}
