import { Bus, commandPort } from '@shop/kernel';
import type { CartCommands, CheckoutCart, CheckoutLine } from '@shop/cart/src/events/commands';

export type { CheckoutCart, CheckoutLine };

/**
 * Commands of OTHER services this subgraph calls over NATS request/reply (it never reads their tables).
 * Coded errors raised by the serving side come back as the same AppError (kernel `Bus.request`).
 */
export interface BuyerInfo {
  id: string;
  email: string;
  firstName: string | null;
}

type CartBegin = CartCommands['cart.checkout.begin'];
type CartComplete = CartCommands['cart.checkout.complete'];

/** The cart subgraph's checkout commands, typed from the contract it serves (subgraphs/cart/src/events/commands.ts). */
export interface CartPort {
  /** `cart.checkout.begin`: the cart as it stands, refused with NOT_FOUND, FORBIDDEN (someone else's or a guest cart), CART_EXPIRED, CART_EMPTY. */
  beginCheckout(req: CartBegin['req']): Promise<CartBegin['res']>;
  /**
   * `cart.checkout.complete`: marks the cart CHECKED_OUT and empties it. Idempotent. `sold`: the lines the stock commit
   * sold, when known (the cart then skips releasing holds the commit already consumed).
   */
  completeCheckout(req: CartComplete['req']): Promise<CartComplete['res']>;
}

/** The product subgraph's stock and catalog commands. */
export interface ProductPort {
  /**
   * `product.commit`: converts the cart's holds to sold stock; idempotent per orderId. INSUFFICIENT_STOCK / CART_EXPIRED
   * when holds are missing, PRICE_CHANGED when a line's `unitPrice` or `discountPercent` is no longer the product's.
   */
  commit(req: {
    orderId: string;
    cartId: string;
    lines: { productId: string; quantity: number; unitPrice: number; discountPercent: number }[];
  }): Promise<{ committed: true }>;
  /** `product.uncommit`: returns the stock sold to this order; idempotent. */
  uncommit(req: { orderId: string }): Promise<{ returned: true }>;
}

/** The user subgraph's `user.get`: the buyer's contact for the order emails. NOT_FOUND for an unknown id. */
export interface UserPort {
  get(req: { id: string }): Promise<BuyerInfo>;
}

export interface Ports {
  cart: CartPort;
  product: ProductPort;
  user: UserPort;
}

/** Command names on the bus (the kernel prefixes them with `cmd.`). */
export const COMMANDS = {
  cartBegin: 'cart.checkout.begin',
  cartComplete: 'cart.checkout.complete',
  productCommit: 'product.commit',
  productUncommit: 'product.uncommit',
  userGet: 'user.get',
} as const;

/** The NATS implementation of the ports. */
export function natsPorts(bus: Bus, timeoutMs = 5000): Ports {
  return {
    cart: commandPort<CartPort>(
      bus,
      { beginCheckout: COMMANDS.cartBegin, completeCheckout: COMMANDS.cartComplete },
      timeoutMs,
    ),
    product: commandPort<ProductPort>(
      bus,
      { commit: COMMANDS.productCommit, uncommit: COMMANDS.productUncommit },
      timeoutMs,
    ),
    user: commandPort<UserPort>(bus, { get: COMMANDS.userGet }, timeoutMs),
  };
}
