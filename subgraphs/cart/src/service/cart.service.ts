import { randomUUID } from 'node:crypto';
import {
  AppError,
  badInput,
  Bus,
  clientAddressKey,
  ErrorCode,
  forbidden,
  Identity,
  isUuid,
  Logger,
  makeEvent,
  notFound,
  priceLines,
  unauthenticated,
} from '@shop/kernel';
import type { CartChangeReason, CartEventPayloads } from '../events/payloads';
import type { ProductInfo, ProductPort } from '../ports';
import type { CartRecord, CartStore } from '../store/cart.store';
import { planMerge, settleMerge } from './merge';

export interface CartServiceOptions {
  /** CART_HOLD_SECONDS: the hold window from the cart's last change. */
  holdSeconds: number;
  /** Units of one product per cart. */
  maxQuantityPerLine: number;
  /** Distinct products per cart. */
  maxLines: number;
  /** How long a change waits for another change of the same cart to finish. */
  lockWaitMs: number;
  /** Default currency of a cart that never had a line. */
  defaultCurrency: string;
  /** CART_MAX_UNITS_GUEST / CART_MAX_UNITS_USER: units one cart may hold at once. */
  maxUnitsGuest: number;
  maxUnitsUser: number;
  /** CART_MAX_UNITS_PER_ADDRESS: units all guest carts charged to one client address may hold at once. */
  maxUnitsPerAddress: number;
  /** CART_HOLD_MAX_SECONDS / CART_HOLD_MAX_SECONDS_USER: absolute lifetime of holds from the first hold since empty. */
  holdMaxSecondsGuest: number;
  holdMaxSecondsUser: number;
}

export const DEFAULT_CART_OPTIONS: CartServiceOptions = {
  holdSeconds: 600,
  maxQuantityPerLine: 99,
  maxLines: 50,
  lockWaitMs: 3000,
  defaultCurrency: 'USD',
  maxUnitsGuest: 20,
  maxUnitsUser: 200,
  maxUnitsPerAddress: 60,
  holdMaxSecondsGuest: 1800,
  holdMaxSecondsUser: 3600,
};

/** A cart line priced with the product's current price and deal. */
export interface PricedItem {
  productId: string;
  quantity: number;
  unitPrice: number;
  discountPercent: number;
  lineTotal: number;
  currency: string;
}

/** What the schema shows: the cart as it stands now (lazy expiry applied) with its prices. */
export interface CartView {
  cart: CartRecord;
  items: PricedItem[];
  currency: string;
  subtotal: number;
  discountTotal: number;
  total: number;
}

/** Tells subscribers (any instance) that a cart changed; `final` = the cart is gone for good (merged away). */
export interface CartNotifier {
  changed(cartId: string, opts?: { final?: boolean }): Promise<void>;
}

function checkId(field: string, value: unknown): string {
  if (!isUuid(value)) throw badInput(field, `${field} must be an id (UUID)`);
  return value.toLowerCase();
}

/** A cart whose deadline passed is EXPIRED and empty, whether or not the sweeper got to it yet. */
export function effective(cart: CartRecord, now = Date.now()): CartRecord {
  if (cart.status === 'ACTIVE' && cart.expiresAt !== null && cart.expiresAt <= now) {
    return { ...cart, status: 'EXPIRED', lines: [], expiresAt: null };
  }
  return cart;
}

/** A change refused by an anti-hoarding bound: `extensions.limit` names it, `extensions.max` is its value. */
function overLimit(limit: 'cartUnits' | 'addressUnits', max: number, message: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { field: 'quantity', limit, max });
}

const unitsOf = (lines: { quantity: number }[]) => lines.reduce((n, l) => n + l.quantity, 0);

export function secondsRemaining(cart: CartRecord, now = Date.now()): number {
  return cart.status === 'ACTIVE' && cart.expiresAt ? Math.max(0, Math.ceil((cart.expiresAt - now) / 1000)) : 0;
}

/**
 * Carts in Redis, stock holds in the product store (through commands). Every change of a cart runs under its
 * lock: hold first (the product store decides, atomically), then the cart is written; a refused hold changes nothing.
 */
export class CartService {
  readonly options: CartServiceOptions;

  constructor(
    private readonly store: CartStore,
    private readonly products: ProductPort,
    private readonly bus: Bus,
    private readonly notifier: CartNotifier,
    private readonly logger: Logger,
    options: Partial<CartServiceOptions> = {},
  ) {
    this.options = { ...DEFAULT_CART_OPTIONS, ...options };
  }

  // ---- reads ------------------------------------------------------------------------------------------------

  /** The cart if the caller may see it: guest carts by id, a user's cart by that user or an admin (FORBIDDEN otherwise). */
  async find(identity: Identity, id: string): Promise<CartRecord | null> {
    const cart = await this.store.get(checkId('id', id));
    if (!cart) return null;
    this.authorize(identity, cart);
    return effective(cart);
  }

  async myCart(identity: Identity): Promise<CartRecord | null> {
    if (!identity.userId) throw unauthenticated();
    const id = await this.store.userCartId(identity.userId);
    const cart = id ? await this.store.get(id) : null;
    return cart ? effective(cart) : null;
  }

  /** Raw read without authorization (subscriptions re-read on change after authorizing once). */
  async load(id: string): Promise<CartRecord | null> {
    const cart = await this.store.get(id);
    return cart ? effective(cart) : null;
  }

  authorize(identity: Identity, cart: CartRecord): void {
    if (cart.userId && cart.userId !== identity.userId && identity.role !== 'ADMIN') {
      throw forbidden('This cart belongs to another account');
    }
  }

  /** Prices the lines with the products' current prices and deals (one product.get for the whole cart). */
  async price(cart: CartRecord): Promise<CartView> {
    const infos = cart.lines.length ? await this.products.get({ ids: cart.lines.map((l) => l.productId) }) : [];
    return this.priceWith(cart, new Map(infos.map((p) => [p.id, p])));
  }

  priceWith(cart: CartRecord, infos: Map<string, ProductInfo>): CartView {
    const currency = cart.currency ?? this.options.defaultCurrency;
    const priced = priceLines(
      cart.lines.flatMap((l) => {
        const p = infos.get(l.productId);
        return p
          ? [
              {
                productId: l.productId,
                quantity: l.quantity,
                unitPrice: p.priceAmount,
                discountPercent: p.discountPercent ?? 0,
              },
            ]
          : [];
      }),
    );
    return {
      cart,
      currency,
      items: priced.lines.map((l) => ({
        productId: l.productId,
        quantity: l.quantity,
        unitPrice: l.unitPrice,
        discountPercent: l.discountPercent,
        lineTotal: l.lineTotal,
        currency,
      })),
      subtotal: priced.subtotal,
      discountTotal: priced.discountTotal,
      total: priced.total,
    };
  }

  // ---- changes ----------------------------------------------------------------------------------------------

  /** Anonymous: a new guest cart. Signed in: the user's active cart, or a new one bound to the user. */
  async create(identity: Identity): Promise<CartRecord> {
    if (identity.userId) {
      const existing = await this.myCart(identity);
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
    await this.store.save(cart);
    this.announce(cart, 'created');
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
    if (!Number.isInteger(quantity) || quantity < min || quantity > this.options.maxQuantityPerLine) {
      throw badInput('quantity', `quantity must be a whole number from ${min} to ${this.options.maxQuantityPerLine}`);
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
    return this.withLock(cartId, async () => {
      const cart = await this.activeCart(identity, cartId);
      const line = cart.lines.find((l) => l.productId === productId);
      const current = line?.quantity ?? 0;
      const quantity = next(current);
      if (quantity > this.options.maxQuantityPerLine) {
        throw badInput(
          'quantity',
          `At most ${this.options.maxQuantityPerLine} units of one product per cart (${current} in the cart already)`,
        );
      }
      if (quantity === current) return cart;
      if (quantity > 0) {
        if (!line && cart.lines.length >= this.options.maxLines)
          throw badInput('productId', `A cart holds at most ${this.options.maxLines} different products`);
        const [product] = await this.products.get({ ids: [productId] });
        if (!product || (product.archived && !line)) throw notFound('Product');
        const others = cart.lines.some((l) => l.productId !== productId);
        if (others && cart.currency && product.currency !== cart.currency) {
          throw badInput('productId', `This cart is in ${cart.currency}; the product is priced in ${product.currency}`);
        }
        cart.currency = product.currency;
      }
      const before = unitsOf(cart.lines);
      const units = before - current + quantity;
      const maxUnits = this.maxUnits(cart);
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
      let expiresAt = heldSince !== null ? this.deadline(cart, heldSince, now) : null;
      // Guest carts count against their client address's budget, charged atomically BEFORE the hold (so two carts
      // of one address racing cannot both pass) and given back if the hold is refused.
      const address = cart.userId ? null : (cart.chargedTo ?? clientAddressKey(identity.ip));
      let undo: (() => Promise<void>) | undefined;
      let charged: number | null = null;
      if (address && units > before) {
        const { ok, others } = await this.store.charge(
          address,
          cartId,
          units,
          expiresAt!,
          this.options.maxUnitsPerAddress,
          this.tallyTtl(),
        );
        if (!ok) {
          throw overLimit(
            'addressUnits',
            this.options.maxUnitsPerAddress,
            `Guest carts from one network hold at most ${this.options.maxUnitsPerAddress} units at once (${others} held in other carts); sign in for more`,
          );
        }
        charged = expiresAt;
        const previous = cart.expiresAt;
        undo =
          before > 0 && previous
            ? () => this.store.setCharge(address, cartId, before, previous, this.tallyTtl())
            : () => this.store.dropCharge(address, cartId);
      }
      let held: Awaited<ReturnType<ProductPort['hold']>>;
      try {
        held = await this.products.hold({
          cartId,
          productId,
          quantity,
          expiresAt: new Date(expiresAt ?? now).toISOString(),
        });
      } catch (err) {
        await undo?.().catch((e) =>
          this.logger.warn({ err: e, cartId }, 'address tally not restored; the entry lapses at its deadline'),
        );
        throw err;
      }
      // The product store caps a hold's lifetime too: the cart shows the deadline actually set.
      if (expiresAt !== null && held?.expiresAt) expiresAt = Math.min(expiresAt, Date.parse(held.expiresAt));
      if (address && (units === 0 || expiresAt !== charged)) {
        const update =
          units > 0
            ? this.store.setCharge(address, cartId, units, expiresAt!, this.tallyTtl())
            : this.store.dropCharge(address, cartId);
        await update.catch((err) => this.logger.warn({ err, cartId }, 'address tally not updated'));
      }
      if (quantity === 0) cart.lines = cart.lines.filter((l) => l.productId !== productId);
      else if (line) line.quantity = quantity;
      else cart.lines.push({ productId, quantity, addedAt: new Date().toISOString() });
      cart.expiresAt = expiresAt;
      cart.heldSince = heldSince;
      cart.chargedTo = units > 0 ? address : null;
      return this.commit(cart, reason);
    });
  }

  /**
   * Moves a guest cart's lines into the signed-in user's cart: quantities added, holds moved in one product-store
   * transaction, capped by availability (`adjustments` lists the lines that were reduced); the guest cart is deleted.
   */
  async merge(identity: Identity, rawCartId: string): Promise<CartRecord> {
    if (!identity.userId) throw unauthenticated();
    const guestId = checkId('cartId', rawCartId);
    const peek = await this.store.get(guestId);
    if (!peek) throw notFound('Cart');
    if (peek.userId === identity.userId) return effective(peek);
    if (peek.userId) throw forbidden('Only a guest cart can be merged into your cart');
    const target = await this.create(identity);
    const [first, second] = [guestId, target.id].sort();
    return this.withLock(first, () =>
      this.withLock(second, async () => {
        const guest = await this.store.get(guestId);
        if (!guest) throw notFound('Cart');
        const live = effective(guest);
        if (live.status !== 'ACTIVE')
          throw new AppError(ErrorCode.CART_EXPIRED, 'The guest cart expired; its items were released');
        const mine = await this.activeCart(identity, target.id);
        if (!live.lines.length) {
          await this.dropGuest(guest);
          return mine;
        }
        // What to hold: both carts' quantities within the bounds (pure, see ./merge.ts); the stock is decided below.
        const plan = planMerge(mine, live, {
          maxQuantityPerLine: this.options.maxQuantityPerLine,
          maxUnits: this.options.maxUnitsUser,
        });
        // The lifetime runs from the earlier of the two carts' first holds: signing in does not renew the guest's.
        const now = Date.now();
        const heldSince = Math.min(mine.lines.length ? (mine.heldSince ?? now) : now, live.heldSince ?? now);
        let expiresAt = this.deadline(mine, heldSince, now);
        const res = await this.products.setHolds({
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
        const saved = await this.commit(mine, 'merged');
        await this.dropGuest(guest);
        this.logger.info(
          { cartId: mine.id, from: guest.id, added: Object.fromEntries(plan.added), adjustments },
          'guest cart merged',
        );
        return saved;
      }),
    );
  }

  private async dropGuest(guest: CartRecord): Promise<void> {
    await this.store.delete(guest);
    await this.dropCharge(guest);
    await this.notifier
      .changed(guest.id, { final: true })
      .catch((err) => this.logger.warn({ err }, 'timer notify failed'));
  }

  // ---- expiry -----------------------------------------------------------------------------------------------

  /**
   * Expires a due cart: releases its holds, publishes `cart.expired` (msg id from cart + deadline, so a retry is
   * deduplicated by JetStream), then writes it EXPIRED and empty. Any failure leaves it due: the sweeper retries.
   * Returns what happened.
   */
  async expire(cartId: string, opts: { lockWaitMs?: number } = {}): Promise<'expired' | 'not_due' | 'busy' | 'gone'> {
    const release = await this.store.lock(cartId, opts.lockWaitMs ?? 0);
    if (!release) return 'busy';
    try {
      return await this.expireLocked(cartId);
    } finally {
      await release();
    }
  }

  private async expireLocked(cartId: string): Promise<'expired' | 'not_due' | 'gone'> {
    const cart = await this.store.get(cartId);
    if (!cart || cart.status !== 'ACTIVE' || cart.expiresAt === null) {
      await this.store.unschedule(cartId);
      return 'gone';
    }
    if (cart.expiresAt > Date.now()) {
      await this.store.reschedule(cartId, cart.expiresAt);
      return 'not_due';
    }
    const deadline = cart.expiresAt;
    await this.products.release({ cartId });
    const data: CartEventPayloads['cart.expired'] = {
      cartId,
      userId: cart.userId,
      deadline: new Date(deadline).toISOString(),
      lines: cart.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    };
    await this.bus.publish(makeEvent('cart.expired', data, `cart.expired:${cartId}:${deadline}`));
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
    await this.store.save(expired);
    await this.dropCharge(cart);
    await this.notifier.changed(cartId).catch((err) => this.logger.warn({ err }, 'timer notify failed'));
    this.logger.info({ cartId, deadline: data.deadline }, 'cart expired');
    return 'expired';
  }

  // ---- checkout (commands of the order subgraph) -------------------------------------------------------------

  /** `cart.checkout.begin`: the cart priced as it stands, for its owner only. */
  async beginCheckout(req: { cartId: string; userId: string }): Promise<{
    cartId: string;
    status: 'ACTIVE';
    currency: string;
    expiresAt: string;
    lines: { productId: string; quantity: number; unitPrice: number; discountPercent: number }[];
  }> {
    const cartId = checkId('cartId', req?.cartId);
    if (typeof req.userId !== 'string' || !req.userId) throw badInput('userId', 'userId is required');
    const stored = await this.store.get(cartId);
    if (!stored) throw notFound('Cart');
    if (stored.userId !== req.userId)
      throw forbidden(
        stored.userId ? 'This cart belongs to another account' : 'Sign in and merge this guest cart first',
      );
    const cart = effective(stored);
    if (cart.status === 'EXPIRED')
      throw new AppError(ErrorCode.CART_EXPIRED, 'The cart expired; its items were released');
    if (cart.status === 'CHECKED_OUT' || !cart.lines.length)
      throw new AppError(ErrorCode.CART_EMPTY, 'The cart is empty');
    const view = await this.price(cart);
    if (view.items.length !== cart.lines.length) throw notFound('Product');
    return {
      cartId,
      status: 'ACTIVE',
      currency: view.currency,
      expiresAt: new Date(cart.expiresAt!).toISOString(),
      lines: view.items.map((i) => ({
        productId: i.productId,
        quantity: i.quantity,
        unitPrice: i.unitPrice,
        discountPercent: i.discountPercent,
      })),
    };
  }

  /** `cart.checkout.complete`: the order is placed — the cart becomes CHECKED_OUT and empty; leftover holds are released. Idempotent. */
  async completeCheckout(req: { cartId: string; orderId: string }): Promise<{ ok: true }> {
    const cartId = checkId('cartId', req?.cartId);
    if (typeof req.orderId !== 'string' || !req.orderId) throw badInput('orderId', 'orderId is required');
    return this.withLock(cartId, async () => {
      const cart = await this.store.get(cartId);
      if (!cart) throw notFound('Cart');
      if (cart.status === 'CHECKED_OUT') return { ok: true as const };
      // Holds the order did not convert (a line added after checkout began) go back now rather than at the deadline.
      await this.products
        .release({ cartId })
        .catch((err) =>
          this.logger.warn({ err, cartId }, 'releasing leftover holds failed; they lapse at the deadline'),
        );
      await this.dropCharge(cart);
      cart.status = 'CHECKED_OUT';
      cart.lines = [];
      cart.expiresAt = null;
      cart.heldSince = null;
      cart.chargedTo = null;
      cart.orderId = req.orderId;
      await this.commit(cart, 'checked_out');
      return { ok: true as const };
    });
  }

  // ---- helpers ----------------------------------------------------------------------------------------------

  private maxUnits(cart: CartRecord): number {
    return cart.userId ? this.options.maxUnitsUser : this.options.maxUnitsGuest;
  }

  /**
   * The deadline of a change at `now`: CART_HOLD_SECONDS from now, but never past the absolute lifetime counted
   * from `heldSince` (touching a cart does not extend its holds beyond it).
   */
  private deadline(cart: CartRecord, heldSince: number, now: number): number {
    const lifetime = (cart.userId ? this.options.holdMaxSecondsUser : this.options.holdMaxSecondsGuest) * 1000;
    return Math.min(now + this.options.holdSeconds * 1000, heldSince + lifetime);
  }

  /** The address tally hash outlives every deadline in it (a guest deadline is at most the guest lifetime ahead). */
  private tallyTtl(): number {
    return this.options.holdMaxSecondsGuest + 60;
  }

  /** Gives a guest cart's units back to its address's budget (best effort: a stale entry lapses at its deadline). */
  private async dropCharge(cart: CartRecord): Promise<void> {
    if (!cart.chargedTo) return;
    await this.store
      .dropCharge(cart.chargedTo, cart.id)
      .catch((err) => this.logger.warn({ err, cartId: cart.id }, 'address tally not updated'));
  }

  private async withLock<T>(cartId: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.store.lock(cartId, this.options.lockWaitMs);
    if (!release)
      throw new AppError(ErrorCode.RATE_LIMITED, 'The cart is being changed by another request; try again', {
        retryAfter: 1,
      });
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /** Loads a cart for a change: authorized, ACTIVE (a due cart is expired on the spot → CART_EXPIRED). Call under the lock. */
  private async activeCart(identity: Identity, cartId: string): Promise<CartRecord> {
    const cart = await this.store.get(cartId);
    if (!cart) throw notFound('Cart');
    this.authorize(identity, cart);
    if (cart.status === 'ACTIVE' && cart.expiresAt !== null && cart.expiresAt <= Date.now()) {
      await this.expireLocked(cartId).catch((err) =>
        this.logger.warn({ err, cartId }, 'inline expiry failed; the sweeper retries'),
      );
      throw new AppError(ErrorCode.CART_EXPIRED, 'The cart expired; its items were released. Create a new cart.');
    }
    if (cart.status === 'EXPIRED')
      throw new AppError(ErrorCode.CART_EXPIRED, 'The cart expired; its items were released. Create a new cart.');
    if (cart.status === 'CHECKED_OUT') throw badInput('cartId', 'This cart was checked out; create a new cart');
    return cart;
  }

  private async commit(cart: CartRecord, reason: CartChangeReason): Promise<CartRecord> {
    if (reason !== 'merged') cart.adjustments = undefined;
    cart.version += 1;
    cart.updatedAt = new Date().toISOString();
    await this.store.save(cart);
    this.announce(cart, reason);
    return cart;
  }

  /** Subscribers first (they are waiting), then `cart.updated` on JetStream; both best effort — the cart is saved. */
  private announce(cart: CartRecord, reason: CartChangeReason): void {
    void this.notifier
      .changed(cart.id)
      .catch((err) => this.logger.warn({ err, cartId: cart.id }, 'timer notify failed'));
    const data: CartEventPayloads['cart.updated'] = {
      cartId: cart.id,
      userId: cart.userId,
      status: cart.status,
      version: cart.version,
      reason,
      lines: cart.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
      expiresAt: cart.expiresAt ? new Date(cart.expiresAt).toISOString() : null,
    };
    this.bus
      .publish(makeEvent('cart.updated', data, `cart.updated:${cart.id}:${cart.version}`))
      .catch((err) => this.logger.warn({ err, cartId: cart.id }, 'cart.updated not published'));
  }
}
