import type { Bus } from '@shop/kernel';
import type { CartService } from '../service/cart.service';

/** Request/reply commands the order subgraph sends over NATS (it never reads the cart store). */
export interface CartCommands {
  /** The cart priced as it stands: NOT_FOUND, FORBIDDEN (someone else's or a guest cart), CART_EXPIRED, CART_EMPTY. */
  'cart.checkout.begin': {
    req: { cartId: string; userId: string };
    res: Awaited<ReturnType<CartService['beginCheckout']>>;
  };
  /** The order is placed: CHECKED_OUT and emptied. Idempotent. */
  'cart.checkout.complete': {
    req: { cartId: string; orderId: string; sold?: { productId: string; quantity: number }[] };
    res: { ok: true };
  };
}

export function serveCommands(bus: Bus, carts: CartService): void {
  bus.serve<CartCommands['cart.checkout.begin']['req'], CartCommands['cart.checkout.begin']['res']>(
    'cart.checkout.begin',
    (req) => carts.beginCheckout(req),
  );
  bus.serve<CartCommands['cart.checkout.complete']['req'], CartCommands['cart.checkout.complete']['res']>(
    'cart.checkout.complete',
    (req) => carts.completeCheckout(req),
  );
}
