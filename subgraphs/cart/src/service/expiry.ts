import { makeEvent } from '@shop/kernel';
import type { CartEventPayloads } from '../events/payloads';
import type { CartRecord } from '../store/cart.store';
import type { CartDeps, CartWrites } from './writes';

export type ExpireResult = 'expired' | 'not_due' | 'busy' | 'gone';

/** Expiry of due carts: by the sweeper (./sweeper.ts), or inline when a change finds its cart past the deadline. */
export class CartExpiry {
  constructor(
    private readonly deps: CartDeps,
    private readonly writes: CartWrites,
  ) {}

  /**
   * Expires a due cart: releases its holds, publishes `cart.expired` (msg id from cart + deadline, so a retry is
   * deduplicated by JetStream), then writes it EXPIRED and empty. Any failure leaves it due: the sweeper retries.
   * Returns what happened.
   */
  async expire(cartId: string, opts: { lockWaitMs?: number } = {}): Promise<ExpireResult> {
    const release = await this.deps.store.lock(cartId, opts.lockWaitMs ?? 0);
    if (!release) return 'busy';
    try {
      return await this.expireLocked(cartId);
    } finally {
      await release();
    }
  }

  /** `expire` for a caller that holds the cart's lock already. */
  async expireLocked(cartId: string): Promise<Exclude<ExpireResult, 'busy'>> {
    const { store, products, bus, notifier, logger } = this.deps;
    const cart = await store.get(cartId);
    if (!cart || cart.status !== 'ACTIVE' || cart.expiresAt === null) {
      await store.unschedule(cartId);
      return 'gone';
    }
    if (cart.expiresAt > Date.now()) {
      await store.reschedule(cartId, cart.expiresAt);
      return 'not_due';
    }
    const deadline = cart.expiresAt;
    await products.release({ cartId });
    const data: CartEventPayloads['cart.expired'] = {
      cartId,
      userId: cart.userId,
      deadline: new Date(deadline).toISOString(),
      lines: cart.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    };
    await bus.publish(makeEvent('cart.expired', data, `cart.expired:${cartId}:${deadline}`));
    const expired: CartRecord = {
      ...cart,
      status: 'EXPIRED',
      lines: [],
      expiresAt: null,
      heldSince: null,
      chargedTo: null,
      adjustments: undefined,
      updatedAt: new Date().toISOString(),
      version: cart.version + 1,
    };
    await store.save(expired);
    await this.writes.dropCharge(cart);
    await notifier.changed(cartId).catch((err) => logger.warn({ err }, 'timer notify failed'));
    logger.info({ cartId, deadline: data.deadline }, 'cart expired');
    return 'expired';
  }
}
