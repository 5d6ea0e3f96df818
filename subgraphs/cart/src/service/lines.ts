import { randomUUID } from 'node:crypto';
import { AppError, badInput, clientAddressKey, ErrorCode, Identity, notFound } from '@shop/kernel';
import type { CartChangeReason } from '../events/payloads';
import type { ProductPort } from '../ports';
import type { CartRecord } from '../store/cart.store';
import type { CartExpiry } from './expiry';
import type { CartReads } from './reads';
import { authorize, checkId, overLimit, unitsOf } from './state';
import type { CartDeps, CartWrites } from './writes';

/**
 * A cart's lines: creating a cart, adding, setting and removing units. Every change runs under the cart's lock: the
 * address budget is charged and the stock held first (the product store decides, atomically), then the cart is
 * written; a refused hold changes nothing.
 */
export class CartLines {
  constructor(
    private readonly deps: CartDeps,
    private readonly writes: CartWrites,
    private readonly reads: CartReads,
    private readonly expiry: CartExpiry,
  ) {}

  /** Anonymous: a new guest cart. Signed in: the user's active cart, or a new one bound to the user. */
  async create(identity: Identity): Promise<CartRecord> {
    if (identity.userId) {
      const existing = await this.reads.myCart(identity);
      if (existing && existing.status === 'ACTIVE') return existing;
    }
    const now = new Date().toISOString();
    const cart: CartRecord = {
      id: randomUUID(),
      userId: identity.userId ?? null,
      status: 'ACTIVE',
      currency: null,
      lines: [],
      expiresAt: null,
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    await this.deps.store.save(cart);
    this.writes.announce(cart, 'created');
    return cart;
  }

  /** Adds units of a product (holding them); INSUFFICIENT_STOCK when they are not there, CART_EXPIRED after the deadline. */
  async addItem(identity: Identity, cartId: string, productId: string, quantity: number): Promise<CartRecord> {
    this.checkQuantity(quantity, 1);
    return this.changeLine(identity, cartId, productId, (current) => current + quantity, 'item_added');
  }

  /** Sets a line's quantity; 0 removes it (its hold is released). */
  async setItem(identity: Identity, cartId: string, productId: string, quantity: number): Promise<CartRecord> {
    this.checkQuantity(quantity, 0);
    return this.changeLine(
      identity,
      cartId,
      productId,
      () => quantity,
      quantity === 0 ? 'item_removed' : 'item_updated',
    );
  }

  async removeItem(identity: Identity, cartId: string, productId: string): Promise<CartRecord> {
    return this.changeLine(identity, cartId, productId, () => 0, 'item_removed');
  }

  private checkQuantity(quantity: number, min: number): void {
    if (!Number.isInteger(quantity) || quantity < min || quantity > this.deps.options.maxQuantityPerLine) {
      throw badInput(
        'quantity',
        `quantity must be a whole number from ${min} to ${this.deps.options.maxQuantityPerLine}`,
      );
    }
  }

  private async changeLine(
    identity: Identity,
    rawCartId: string,
    rawProductId: string,
    next: (current: number) => number,
    reason: CartChangeReason,
  ): Promise<CartRecord> {
    const cartId = checkId('cartId', rawCartId);
    const productId = checkId('productId', rawProductId);
    return this.writes.withLockedCart(cartId, async (stored, lock) => {
      const cart = await this.activeCart(identity, cartId, stored);
      const line = cart.lines.find((l) => l.productId === productId);
      const current = line?.quantity ?? 0;
      const quantity = next(current);
      if (quantity > this.deps.options.maxQuantityPerLine) {
        throw badInput(
          'quantity',
          `At most ${this.deps.options.maxQuantityPerLine} units of one product per cart (${current} in the cart already)`,
        );
      }
      if (quantity === current) return cart;
      if (quantity > 0) {
        if (!line && cart.lines.length >= this.deps.options.maxLines)
          throw badInput('productId', `A cart holds at most ${this.deps.options.maxLines} different products`);
        const [product] = await this.deps.products.get({ ids: [productId] });
        if (!product || (product.archived && !line)) throw notFound('Product');
        const others = cart.lines.some((l) => l.productId !== productId);
        if (others && cart.currency && product.currency !== cart.currency) {
          throw badInput('productId', `This cart is in ${cart.currency}; the product is priced in ${product.currency}`);
        }
        cart.currency = product.currency;
      }
      const before = unitsOf(cart.lines);
      const units = before - current + quantity;
      const maxUnits = this.writes.maxUnits(cart);
      // Only growth is refused: a cart over a lowered bound can still shrink.
      if (quantity > current && units > maxUnits) {
        throw overLimit(
          'cartUnits',
          maxUnits,
          `A ${cart.userId ? '' : 'guest '}cart holds at most ${maxUnits} units at once (${before} in this one)`,
        );
      }
      const now = Date.now();
      // An emptied cart has no deadline; its last hold is released by setting it to 0 all the same.
      const heldSince = units > 0 ? (before > 0 ? (cart.heldSince ?? now) : now) : null;
      let expiresAt = heldSince !== null ? this.writes.deadline(cart, heldSince, now) : null;
      // Guest carts count against their client address's budget, charged atomically BEFORE the hold (so two carts
      // of one address racing cannot both pass) and given back if the hold is refused.
      const address = cart.userId ? null : (cart.chargedTo ?? clientAddressKey(identity.ip));
      let undo: (() => Promise<void>) | undefined;
      let charged: number | null = null;
      if (address && units > before) {
        const { ok, others } = await this.deps.store.charge(
          address,
          cartId,
          units,
          expiresAt!,
          this.deps.options.maxUnitsPerAddress,
          this.writes.tallyTtl(),
        );
        if (!ok) {
          throw overLimit(
            'addressUnits',
            this.deps.options.maxUnitsPerAddress,
            `Guest carts from one network hold at most ${this.deps.options.maxUnitsPerAddress} units at once (${others} held in other carts); sign in for more`,
          );
        }
        charged = expiresAt;
        const previous = cart.expiresAt;
        undo =
          before > 0 && previous
            ? () => this.deps.store.setCharge(address, cartId, before, previous, this.writes.tallyTtl())
            : () => this.deps.store.dropCharge(address, cartId);
      }
      let held: Awaited<ReturnType<ProductPort['hold']>>;
      try {
        held = await this.deps.products.hold({
          cartId,
          productId,
          quantity,
          expiresAt: new Date(expiresAt ?? now).toISOString(),
        });
      } catch (err) {
        await undo?.().catch((e) =>
          this.deps.logger.warn({ err: e, cartId }, 'address tally not restored; the entry lapses at its deadline'),
        );
        throw err;
      }
      // The product store caps a hold's lifetime too: the cart shows the deadline actually set.
      if (expiresAt !== null && held?.expiresAt) expiresAt = Math.min(expiresAt, Date.parse(held.expiresAt));
      if (address && (units === 0 || expiresAt !== charged)) {
        const update =
          units > 0
            ? this.deps.store.setCharge(address, cartId, units, expiresAt!, this.writes.tallyTtl())
            : this.deps.store.dropCharge(address, cartId);
        await update.catch((err) => this.deps.logger.warn({ err, cartId }, 'address tally not updated'));
      }
      if (quantity === 0) cart.lines = cart.lines.filter((l) => l.productId !== productId);
      else if (line) line.quantity = quantity;
      else cart.lines.push({ productId, quantity, addedAt: new Date().toISOString() });
      cart.expiresAt = expiresAt;
      cart.heldSince = heldSince;
      cart.chargedTo = units > 0 ? address : null;
      return this.writes.commit(cart, reason, lock);
    });
  }

  /**
   * Loads a cart for a change: authorized, ACTIVE (a due cart is expired on the spot → CART_EXPIRED). Call under the
   * lock; `stored` is the cart as the lock's round trip read it (`withLockedCart`), read here when not given.
   */
  async activeCart(identity: Identity, cartId: string, stored?: CartRecord | null): Promise<CartRecord> {
    const cart = stored === undefined ? await this.deps.store.get(cartId) : stored;
    if (!cart) throw notFound('Cart');
    authorize(identity, cart);
    if (cart.status === 'ACTIVE' && cart.expiresAt !== null && cart.expiresAt <= Date.now()) {
      await this.expiry
        .expireLocked(cartId)
        .catch((err) => this.deps.logger.warn({ err, cartId }, 'inline expiry failed; the sweeper retries'));
      throw new AppError(ErrorCode.CART_EXPIRED, 'The cart expired; its items were released. Create a new cart.');
    }
    if (cart.status === 'EXPIRED')
      throw new AppError(ErrorCode.CART_EXPIRED, 'The cart expired; its items were released. Create a new cart.');
    if (cart.status === 'CHECKED_OUT') throw badInput('cartId', 'This cart was checked out; create a new cart');
    return cart;
  }
}
