import { AppError, Bus, ErrorCode, Logger, makeEvent } from '@shop/kernel';
import type { CartChangeReason, CartEventPayloads } from '../events/payloads';
import type { ProductPort } from '../ports';
import type { CartRecord, CartStore } from '../store/cart.store';
import type { CartServiceOptions } from './options';

/** Tells subscribers (any instance) that a cart changed; `final` = the cart is gone for good (merged away). */
export interface CartNotifier {
  changed(cartId: string, opts?: { final?: boolean }): Promise<void>;
}

/** A cart lock held by `withLockedCart`; `released` once a save has let it go. */
export interface CartLock {
  cartId: string;
  token: string;
  released: boolean;
}

/** What every part of the cart service works with. */
export interface CartDeps {
  store: CartStore;
  products: ProductPort;
  bus: Bus;
  notifier: CartNotifier;
  logger: Logger;
  options: CartServiceOptions;
}

/**
 * The plumbing every change goes through: the cart's lock, the save that bumps its version and announces it, the
 * deadline and unit bounds, and the guest address budget's bookkeeping.
 */
export class CartWrites {
  constructor(private readonly deps: CartDeps) {}

  maxUnits(cart: CartRecord): number {
    return cart.userId ? this.deps.options.maxUnitsUser : this.deps.options.maxUnitsGuest;
  }

  /**
   * The deadline of a change at `now`: CART_HOLD_SECONDS from now, but never past the absolute lifetime counted
   * from `heldSince` (touching a cart does not extend its holds beyond it).
   */
  deadline(cart: CartRecord, heldSince: number, now: number): number {
    const { options } = this.deps;
    const lifetime = (cart.userId ? options.holdMaxSecondsUser : options.holdMaxSecondsGuest) * 1000;
    return Math.min(now + options.holdSeconds * 1000, heldSince + lifetime);
  }

  /** The address tally hash outlives every deadline in it (a guest deadline is at most the guest lifetime ahead). */
  tallyTtl(): number {
    return this.deps.options.holdMaxSecondsGuest + 60;
  }

  /** Gives a guest cart's units back to its address's budget (best effort: a stale entry lapses at its deadline). */
  async dropCharge(cart: CartRecord): Promise<void> {
    if (!cart.chargedTo) return;
    await this.deps.store
      .dropCharge(cart.chargedTo, cart.id)
      .catch((err) => this.deps.logger.warn({ err, cartId: cart.id }, 'address tally not updated'));
  }

  async withLock<T>(cartId: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.deps.store.lock(cartId, this.deps.options.lockWaitMs);
    if (!release) throw busy();
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /**
   * `withLock` that hands `fn` the cart as stored, read in the lock's own round trip (null: no such cart), and the
   * lock: a `commit` given it releases it in the save's own round trip (`fn`'s last write); otherwise it is released
   * when `fn` ends.
   */
  async withLockedCart<T>(cartId: string, fn: (stored: CartRecord | null, lock: CartLock) => Promise<T>): Promise<T> {
    const locked = await this.deps.store.lockAndGet(cartId, this.deps.options.lockWaitMs);
    if (!locked) throw busy();
    const lock: CartLock = { cartId, token: locked.token, released: false };
    try {
      return await fn(locked.cart, lock);
    } finally {
      if (!lock.released) await locked.release();
    }
  }

  /** Saves and announces a change; with `unlock` (the change's last write) the cart's lock goes in the same round trip. */
  async commit(cart: CartRecord, reason: CartChangeReason, unlock?: CartLock): Promise<CartRecord> {
    if (reason !== 'merged') cart.adjustments = undefined;
    cart.version += 1;
    cart.updatedAt = new Date().toISOString();
    const releasing = unlock && unlock.cartId === cart.id && !unlock.released ? unlock : undefined;
    await this.deps.store.save(cart, releasing?.token);
    if (releasing) releasing.released = true;
    this.announce(cart, reason);
    return cart;
  }

  /** Subscribers first (they are waiting), then `cart.updated` on JetStream; both best effort — the cart is saved. */
  announce(cart: CartRecord, reason: CartChangeReason): void {
    const { notifier, bus, logger } = this.deps;
    void notifier.changed(cart.id).catch((err) => logger.warn({ err, cartId: cart.id }, 'timer notify failed'));
    const data: CartEventPayloads['cart.updated'] = {
      cartId: cart.id,
      userId: cart.userId,
      status: cart.status,
      version: cart.version,
      reason,
      lines: cart.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
      expiresAt: cart.expiresAt ? new Date(cart.expiresAt).toISOString() : null,
    };
    bus
      .publish(makeEvent('cart.updated', data, `cart.updated:${cart.id}:${cart.version}`))
      .catch((err) => logger.warn({ err, cartId: cart.id }, 'cart.updated not published'));
  }
}

const busy = () =>
  new AppError(ErrorCode.RATE_LIMITED, 'The cart is being changed by another request; try again', { retryAfter: 1 });
