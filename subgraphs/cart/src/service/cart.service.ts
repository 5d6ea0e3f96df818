import type { Bus, Identity, Logger } from '@shop/kernel';
import type { CartCommands } from '../events/commands';
import type { ProductPort } from '../ports';
import type { CartRecord, CartStore } from '../store/cart.store';
import { CartCheckout } from './checkout';
import { CartExpiry, ExpireResult } from './expiry';
import { CartLines } from './lines';
import { CartMerger } from './merge-carts';
import { CartServiceOptions, DEFAULT_CART_OPTIONS } from './options';
import { DEFAULT_PRICE_DIRECTORY, PriceDirectory } from './price-directory';
import { CartReads } from './reads';
import { CartNotifier, CartWrites } from './writes';

export { DEFAULT_CART_OPTIONS };
export type { CartServiceOptions };

/**
 * Carts in Redis, stock holds in the product store (through commands), put together from one part per job: the
 * reads and prices (./reads, which this class extends), line changes (./lines), the guest-cart merge
 * (./merge-carts, planned by ./merge), expiry (./expiry) and the checkout commands (./checkout); the lock, save and
 * announcement every change goes through are ./writes, the pure rules of a cart ./state.
 */
export class CartService extends CartReads {
  readonly options: CartServiceOptions;
  /** The products' prices as last answered (./price-directory); `drop` is wired to the product subgraph's changes. */
  readonly prices: PriceDirectory;
  private readonly lines: CartLines;
  private readonly merger: CartMerger;
  private readonly expiry: CartExpiry;
  private readonly checkout: CartCheckout;

  constructor(
    store: CartStore,
    products: ProductPort,
    bus: Bus,
    notifier: CartNotifier,
    logger: Logger,
    options: Partial<CartServiceOptions> = {},
  ) {
    const opts = { ...DEFAULT_CART_OPTIONS, ...options };
    const prices = new PriceDirectory(products, { ...DEFAULT_PRICE_DIRECTORY, maxAgeMs: opts.priceCacheMs });
    super(store, prices, opts.defaultCurrency);
    this.options = opts;
    this.prices = prices;
    const deps = { store, products: prices, bus, notifier, logger, options: opts };
    const writes = new CartWrites(deps);
    this.expiry = new CartExpiry(deps, writes);
    this.lines = new CartLines(deps, writes, this, this.expiry);
    this.merger = new CartMerger(deps, writes, this.lines);
    this.checkout = new CartCheckout(deps, writes, this);
  }

  /** Anonymous: a new guest cart. Signed in: the user's active cart, or a new one bound to the user. */
  create(identity: Identity): Promise<CartRecord> {
    return this.lines.create(identity);
  }

  /** Adds units of a product (holding them); INSUFFICIENT_STOCK when they are not there, CART_EXPIRED after the deadline. */
  addItem(identity: Identity, cartId: string, productId: string, quantity: number): Promise<CartRecord> {
    return this.lines.addItem(identity, cartId, productId, quantity);
  }

  /** Sets a line's quantity; 0 removes it (its hold is released). */
  setItem(identity: Identity, cartId: string, productId: string, quantity: number): Promise<CartRecord> {
    return this.lines.setItem(identity, cartId, productId, quantity);
  }

  removeItem(identity: Identity, cartId: string, productId: string): Promise<CartRecord> {
    return this.lines.removeItem(identity, cartId, productId);
  }

  /** Moves a guest cart's lines into the signed-in user's cart (./merge-carts.ts); the guest cart is deleted. */
  merge(identity: Identity, cartId: string): Promise<CartRecord> {
    return this.merger.merge(identity, cartId);
  }

  /** Expires a due cart (./expiry.ts); 'busy' when another change holds its lock. */
  expire(cartId: string, opts: { lockWaitMs?: number } = {}): Promise<ExpireResult> {
    return this.expiry.expire(cartId, opts);
  }

  /** `cart.checkout.begin`: the cart priced as it stands, for its owner only. */
  beginCheckout(req: CartCommands['cart.checkout.begin']['req']) {
    return this.checkout.beginCheckout(req);
  }

  /** `cart.checkout.complete`: the cart becomes CHECKED_OUT and empty (`sold`: see CartCheckout). Idempotent. */
  completeCheckout(req: CartCommands['cart.checkout.complete']['req']) {
    return this.checkout.completeCheckout(req);
  }
}
