import { Bus, commandPort } from '@shop/kernel';

/**
 * Commands of OTHER services this subgraph calls over NATS request/reply (it never reads their tables).
 * Coded errors raised by the serving side come back as the same AppError (kernel `Bus.request`).
 */
export interface CartLine {
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

export interface CheckoutCart {
  cartId: string;
  status: 'ACTIVE';
  currency: string;
  /** ISO-8601: when the cart's stock holds lapse. */
  expiresAt: string;
  lines: CartLine[];
}

export interface BuyerInfo {
  id: string;
  email: string;
  firstName: string | null;
}

/** The cart subgraph's checkout commands. */
export interface CartPort {
  /** `cart.checkout.begin`: the cart as it stands, refused with NOT_FOUND, FORBIDDEN (someone else's or a guest cart), CART_EXPIRED, CART_EMPTY. */
  beginCheckout(req: { cartId: string; userId: string }): Promise<CheckoutCart>;
  /**
   * `cart.checkout.complete`: marks the cart CHECKED_OUT and empties it. Idempotent. `sold`: the lines the stock commit
   * sold, when known (the cart then skips releasing holds the commit already consumed).
   */
  completeCheckout(req: {
    cartId: string;
    orderId: string;
    sold?: { productId: string; quantity: number }[];
  }): Promise<{ ok: true }>;
}

/** The product subgraph's stock and catalog commands. */
export interface ProductPort {
  /** `product.commit`: converts the cart's holds to sold stock; idempotent per orderId. INSUFFICIENT_STOCK / CART_EXPIRED when holds are missing. */
  commit(req: {
    orderId: string;
    cartId: string;
    lines: { productId: string; quantity: number }[];
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
