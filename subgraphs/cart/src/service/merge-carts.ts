import { AppError, ErrorCode, forbidden, Identity, notFound, unauthenticated } from '@shop/kernel';
import type { CartRecord } from '../store/cart.store';
import type { CartLines } from './lines';
import { planMerge, settleMerge } from './merge';
import { checkId, effective } from './state';
import type { CartDeps, CartWrites } from './writes';

/** Signing in with a guest cart: applies the pure plan of ./merge.ts to the carts and the product store. */
export class CartMerger {
  constructor(
    private readonly deps: CartDeps,
    private readonly writes: CartWrites,
    private readonly lines: CartLines,
  ) {}

  /**
   * Moves a guest cart's lines into the signed-in user's cart: quantities added, holds moved in one product-store
   * transaction, capped by availability (`adjustments` lists the lines that were reduced); the guest cart is deleted.
   */
  async merge(identity: Identity, rawCartId: string): Promise<CartRecord> {
    if (!identity.userId) throw unauthenticated();
    const guestId = checkId('cartId', rawCartId);
    const peek = await this.deps.store.get(guestId);
    if (!peek) throw notFound('Cart');
    if (peek.userId === identity.userId) return effective(peek);
    if (peek.userId) throw forbidden('Only a guest cart can be merged into your cart');
    const target = await this.lines.create(identity);
    const [first, second] = [guestId, target.id].sort();
    return this.writes.withLock(first, () =>
      this.writes.withLock(second, async () => {
        const guest = await this.deps.store.get(guestId);
        if (!guest) throw notFound('Cart');
        const live = effective(guest);
        if (live.status !== 'ACTIVE')
          throw new AppError(ErrorCode.CART_EXPIRED, 'The guest cart expired; its items were released');
        const mine = await this.lines.activeCart(identity, target.id);
        if (!live.lines.length) {
          await this.dropGuest(guest);
          return mine;
        }
        // What to hold: both carts' quantities within the bounds (pure, see ./merge.ts); the stock is decided below.
        const plan = planMerge(mine, live, {
          maxQuantityPerLine: this.deps.options.maxQuantityPerLine,
          maxUnits: this.deps.options.maxUnitsUser,
        });
        // The lifetime runs from the earlier of the two carts' first holds: signing in does not renew the guest's.
        const now = Date.now();
        const heldSince = Math.min(mine.lines.length ? (mine.heldSince ?? now) : now, live.heldSince ?? now);
        let expiresAt = this.writes.deadline(mine, heldSince, now);
        const res = await this.deps.products.setHolds({
          cartId: mine.id,
          expiresAt: new Date(expiresAt).toISOString(),
          lines: plan.hold,
          releaseCartId: guest.id,
        });
        if (res.expiresAt) expiresAt = Math.min(expiresAt, Date.parse(res.expiresAt));
        const { lines: merged, adjustments } = settleMerge(
          plan,
          new Map(res.lines.map((l) => [l.productId, l.held])),
          mine.lines,
          new Date().toISOString(),
        );
        mine.lines = merged;
        mine.currency = plan.currency;
        mine.expiresAt = merged.length ? expiresAt : null;
        mine.heldSince = merged.length ? heldSince : null;
        mine.adjustments = adjustments;
        const saved = await this.writes.commit(mine, 'merged');
        await this.dropGuest(guest);
        this.deps.logger.info(
          { cartId: mine.id, from: guest.id, added: Object.fromEntries(plan.added), adjustments },
          'guest cart merged',
        );
        return saved;
      }),
    );
  }

  private async dropGuest(guest: CartRecord): Promise<void> {
    await this.deps.store.delete(guest);
    await this.writes.dropCharge(guest);
    await this.deps.notifier
      .changed(guest.id, { final: true })
      .catch((err) => this.deps.logger.warn({ err }, 'timer notify failed'));
  }
}
