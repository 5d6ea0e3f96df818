import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { AppError, ErrorCode, executePrepared, OutboxRelay, pipelinedTransaction, SqlStatement } from '@shop/kernel';
import { emitProductEvent, productEventRow } from '../events/payloads';
import type { CatalogStore } from '../store/catalog.store';
import type { Sql } from '../store/sql';
import { HeldUnits, LockedProduct, StockStore } from '../store/stock.store';
import type { StoredDeals } from './deals.service';
import {
  chargedPrices,
  LIMITS,
  requireDeadline,
  requireLines,
  requireObject,
  requireProductId,
  requireQuantity,
  requireRef,
} from './validation';

/** `product.hold` answer. */
export interface HoldResult {
  productId: string;
  /** Units this cart now holds of the product. */
  quantity: number;
  /** What anyone can still buy of it after this change. */
  available: number;
  /** The cart's deadline (normalized ISO-8601, UTC, milliseconds): the one asked for, or earlier at the lifetime cap. */
  expiresAt: string;
}

export interface StockHoldsOptions {
  /**
   * Absolute lifetime of a cart's holds (CART_HOLD_MAX_SECONDS_USER, the longest any cart may have), from the cart's
   * first hold since it last held nothing: a requested deadline beyond it is clamped to it, whatever the cart sends.
   */
  holdMaxSeconds: number;
}

/**
 * What a priced commit checks besides its tables: the deal list (Redis), and the carts, which cache prices and are
 * told when one they priced with is stale.
 */
export interface CommitPricing {
  /** Today's deal list as stored (DealsService.read): a listed product sells at its percentage off, others at 0. */
  deals(): Promise<StoredDeals | null>;
  /** Tells every cart instance that what it cached of these products is stale (the `product.prices` notice). */
  stale(productIds: string[]): void;
}

/** One line of a `product.holds.set` answer. `held < requested` tells the cart that the line was reduced. */
export interface HoldsSetLine {
  productId: string;
  requested: number;
  held: number;
  available: number;
}

/** Movement reasons of order stock (shown in stockHistory). */
export const SALE = 'SALE';
export const RETURN = 'RETURN';

const insufficient = (p: Pick<LockedProduct, 'id' | 'name'>, available: number) =>
  new AppError(
    ErrorCode.INSUFFICIENT_STOCK,
    `Only ${available} of "${p.name}" ${available === 1 ? 'is' : 'are'} available`,
    {
      productId: p.id,
      available,
    },
  );
const productNotFound = (productId: string) => new AppError(ErrorCode.NOT_FOUND, 'Product not found', { productId });

/** Units this cart may hold or buy of a locked product: on hand minus the other carts' unexpired holds. */
const forThisCart = (p: LockedProduct, held: HeldUnits | undefined) => Math.max(p.onHand - (held?.others ?? 0), 0);

/**
 * What anyone can buy of a locked product once this cart holds `quantity` until `expiresAt`: `product_available`'s
 * arithmetic (on hand minus unexpired holds, at least 0) on the values read under the lock, which no one else can
 * change before we commit. A deadline not after the decision time `at` does not count (both are UTC ISO text;
 * the deadline padded from milliseconds to microseconds, so the text comparison is exact).
 */
function availableAfter(
  p: LockedProduct,
  held: HeldUnits | undefined,
  quantity: number,
  expiresAt: string,
  at: string,
): number {
  const live = expiresAt.replace(/Z$/, '000Z') > at;
  return Math.max(p.onHand - (held?.others ?? 0) - (live ? quantity : 0), 0);
}

/**
 * Stock holds (carts) and their conversion into sold stock (orders), behind the internal NATS commands.
 *
 * Every decision is taken in one transaction under row locks on the products involved, taken in product-id order
 * in one statement (no deadlocks), and judged at the clock time read after the locks were granted (see
 * StockStore.decisionState). A hold counts only while `expires_at` is in the future, so a lapsed cart stops reducing stock
 * at its deadline whether or not a sweeper has released it; a lapsed hold is deleted, never extended.
 * Invariant kept by every command here and by adjustStock: on_hand >= unexpired held units.
 */
export class StockHoldsService {
  constructor(
    private readonly orm: MikroORM,
    private readonly catalog: CatalogStore,
    private readonly stock: StockStore,
    private readonly relay: OutboxRelay,
    private readonly options: StockHoldsOptions = { holdMaxSeconds: 3600 },
    private readonly pricing: CommitPricing = { deals: async () => null, stale: () => undefined },
  ) {}

  /**
   * `product.hold`: sets this cart's hold of one product to `quantity` (0 releases it) and moves the deadline of all
   * the cart's live holds to `expiresAt` — clamped to the cart's lifetime cap (see StockHoldsOptions; the answer
   * carries the deadline actually set). Repeating the same request changes nothing. Errors: BAD_USER_INPUT,
   * NOT_FOUND (unknown product; archived unless quantity is 0), INSUFFICIENT_STOCK `{ productId, available }`.
   */
  async hold(request: unknown): Promise<HoldResult> {
    const req = requireObject(request);
    const cartId = requireRef(req.cartId, 'cartId');
    const productId = requireProductId(req.productId);
    const quantity = requireQuantity(req.quantity, 'quantity', 0);
    const requested = requireDeadline(req.expiresAt);
    // Refusals first, from one unlocked snapshot. A refusal changes nothing, and the snapshot proves the stock was not
    // there at that instant: the answer the locked decision would have given had the request run then. Without
    // this, every hopeless request for a sold-out product would queue on its row lock behind the ones that can win.
    const seen = this.stock.parseSnapshot(await executePrepared(this.orm, this.stock.snapshotSql(productId, cartId)));
    if (!seen || (seen.archived && quantity > 0)) throw productNotFound(productId);
    if (quantity > Math.max(seen.onHand - seen.others, 0))
      throw insufficient(seen, Math.max(seen.onHand - seen.others, 0));
    // ONE round trip: BEGIN with the product locks (this one and every one the cart holds), then the decision and the
    // writes in one statement (its snapshot taken after the locks), and COMMIT. A refusal writes nothing. So the
    // contended product of a sale is locked while PostgreSQL runs the batch, not across a round trip to this process.
    const [, rows] = await pipelinedTransaction(this.orm, (tx) =>
      tx.commit(
        prepared(this.stock.lockCartSql(cartId, [productId])),
        prepared(this.stock.holdIfHoldableSql(cartId, productId, quantity, requested, this.options.holdMaxSeconds)),
      ),
    );
    const [r] = rows;
    if (!r.go) {
      if (r.name === null || (r.archived && quantity > 0)) throw productNotFound(productId);
      throw insufficient({ id: productId, name: r.name as string }, Number(r.can_hold));
    }
    return { productId, quantity, available: Number(r.available), expiresAt: r.expires_at as string };
  }

  /**
   * `product.holds.set` (cart merge): sets each line's hold to min(requested, what this cart can hold), never failing
   * for lack of stock; unknown or archived products get 0. Moves the deadline of the cart's other live holds too.
   * With `releaseCartId` (the guest cart being merged), that cart's holds are deleted in the same transaction and its
   * units count as free for this cart: the units move between the carts without a moment where a third cart could
   * take them, and without being counted twice.
   */
  async setHolds(request: unknown): Promise<{ lines: HoldsSetLine[]; expiresAt: string }> {
    const req = requireObject(request);
    const cartId = requireRef(req.cartId, 'cartId');
    const requested = requireDeadline(req.expiresAt);
    const lines = requireLines(req.lines, 'lines', { minQuantity: 0, allowEmpty: true });
    const releaseCartId =
      req.releaseCartId === undefined || req.releaseCartId === null
        ? null
        : requireRef(req.releaseCartId, 'releaseCartId');
    if (releaseCartId === cartId)
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'releaseCartId must be another cart', { field: 'releaseCartId' });
    return this.orm.em.fork().transactional(async (em) => {
      const releasing = releaseCartId ? await this.stock.cartProductIds(em, releaseCartId) : [];
      // The merged holds keep the earlier start of the two carts' runs: signing in does not renew a guest's lifetime.
      const { locked, at, held, since, expiresAt } = await this.lockCart(
        em,
        cartId,
        lines.map((l) => l.productId),
        requested,
        releasing,
        releaseCartId,
      );
      const freed = releaseCartId ? await this.stock.liveHolds(em, releaseCartId, at) : new Map<string, number>();
      const heldFor = (id: string): HeldUnits | undefined => {
        const h = held.get(id);
        return h && { own: h.own, others: Math.max(h.others - (freed.get(id) ?? 0), 0) };
      };
      const granted = lines.map((l) => {
        const p = locked.get(l.productId);
        const quantity = !p || p.archived ? 0 : Math.min(l.quantity, forThisCart(p, heldFor(l.productId)));
        return { productId: l.productId, quantity };
      });
      if (releaseCartId) await this.stock.releaseCart(em, releaseCartId);
      const written = new Set(granted.map((l) => l.productId));
      const others = [...locked.keys()].filter((id) => !written.has(id));
      await this.stock.writeCart(em, cartId, granted, expiresAt, since, at, others);
      return {
        expiresAt,
        lines: lines.map((l, i) => {
          const p = locked.get(l.productId);
          const available = p ? availableAfter(p, heldFor(l.productId), granted[i].quantity, expiresAt, at) : 0;
          return { productId: l.productId, requested: l.quantity, held: granted[i].quantity, available };
        }),
      };
    });
  }

  /** `product.release`: deletes every hold of the cart (sweeper, emptied cart). Idempotent. */
  async release(request: unknown): Promise<{ released: number }> {
    const cartId = requireRef(requireObject(request).cartId, 'cartId');
    const released = await this.orm.em.fork().transactional((em) => this.stock.releaseCart(em, cartId));
    return { released };
  }

  /**
   * `product.commit`: sells the order's lines, turning the cart's holds into sold stock (on_hand decreases, a SALE
   * movement per line, `stock_commit` rows, the cart's holds reduced or removed). A line not covered by the cart's
   * unexpired hold is still sold if the stock not held by other carts covers it. All lines or none:
   * INSUFFICIENT_STOCK `{ productId, available }`, NOT_FOUND `{ productId }` (unknown or archived).
   * Priced lines (`unitPrice`, `discountPercent`: what the order charged) sell only at the product's current price
   * (read under the lock) and deal: otherwise PRICE_CHANGED `{ productId }`, nothing written, and the carts are told
   * their prices of the product are stale, so the buyer's retry is priced afresh.
   * Idempotent per orderId: a retry, concurrent or later, answers the same and changes nothing.
   */
  async commit(request: unknown): Promise<{ committed: true }> {
    const req = requireObject(request);
    const orderId = requireRef(req.orderId, 'orderId');
    const cartId = requireRef(req.cartId, 'cartId');
    const lines = requireLines(req.lines, 'lines', { minQuantity: 1, allowEmpty: false });
    const charged = chargedPrices(req.lines as unknown[], 'lines');
    const ids = lines.map((l) => l.productId);
    // Checked here, decided in the statement: an order committed before answers `committed` whatever the deals now.
    const dealStale = charged ? await this.staleDeals(ids, charged) : [];
    const sale = lines.map((l, i) => ({ ...l, movementId: randomUUID(), unitPrice: charged?.[i].unitPrice }));
    // `onHand` is written by the statement from the row it updated, and put into these rows from its answer below.
    const events = sale.map((l) =>
      productEventRow('product.stock_adjusted', {
        productId: l.productId,
        movementId: l.movementId,
        delta: -l.quantity,
        reason: SALE,
        onHand: 0,
        actorId: null,
        orderId,
      }),
    );
    // ONE round trip: BEGIN with the order's lock, the product locks (none when the order was sold before), then the
    // decision and the sale in one statement (its snapshot taken after the locks), and COMMIT. The decision is taken
    // in the database so that a contended product's lock is not held across a round trip to this process and back.
    const [, , rows] = await pipelinedTransaction(this.orm, (tx) =>
      tx.commit(
        prepared(this.stock.lockOrderSql(orderId)),
        prepared(this.stock.committedOrLockSql(orderId, ids)),
        prepared(this.stock.sellIfSellableSql(orderId, cartId, sale, SALE, events, !dealStale.length)),
      ),
    );
    const outcome = this.stock.parseSale(rows);
    // Already sold (or sold and returned): the first attempt did the work, and this one wrote nothing.
    if (outcome.committed) return { committed: true };
    if (!outcome.sold) {
      // Refused, nothing written: the first unknown or archived product, else the first line short of stock (which a
      // retry cannot cure), else the lines charged at another price or deal.
      const gone = outcome.lines.find((l) => l.name === null || l.archived);
      if (gone) throw productNotFound(gone.productId);
      const short = outcome.lines.find((l, i) => lines[i].quantity > l.sellable);
      if (short) throw insufficient({ id: short.productId, name: short.name! }, short.sellable);
      const repriced = charged
        ? outcome.lines.filter((l, i) => l.price !== charged[i].unitPrice || dealStale.includes(l.productId))
        : [];
      if (repriced.length) throw this.priceChanged(repriced.map((l) => l.productId));
      throw new Error(`the commit of order ${orderId} was refused for a reason it does not report`);
    }
    const onHand = new Map(outcome.lines.map((l) => [l.productId, l.onHand]));
    for (const e of events) {
      const data = e.payload.data as { productId: string; onHand: number };
      data.onHand = onHand.get(data.productId)!;
    }
    // The sale's events leave now, as written, without a claiming pass (OutboxRelay.publishCommitted).
    this.relay.publishCommitted(events);
    return { committed: true };
  }

  /**
   * The priced lines charged with another deal than the stored list's. Deals live in Redis, outside the commit's
   * transaction: the list read just before it is the one a `product.get` at that moment would have priced with.
   */
  private async staleDeals(ids: string[], charged: { discountPercent: number }[]): Promise<string[]> {
    const deals = await this.pricing.deals();
    const listed = new Set(deals?.productIds ?? []);
    return ids.filter((id, i) => charged[i].discountPercent !== (listed.has(id) ? deals!.discountPercent : 0));
  }

  private priceChanged(productIds: string[]): AppError {
    this.pricing.stale(productIds);
    return new AppError(
      ErrorCode.PRICE_CHANGED,
      'The price of a product in the cart changed; review the cart and place the order again',
      { productId: productIds[0] },
    );
  }

  /**
   * `product.uncommit`: puts the order's sold units back on hand (a RETURN movement per line) and marks them
   * returned. Idempotent; an unknown order is a no-op.
   */
  async uncommit(request: unknown): Promise<{ returned: true }> {
    const orderId = requireRef(requireObject(request).orderId, 'orderId');
    await this.tx(async (em) => {
      await this.stock.lockOrder(em, orderId);
      const lines = await this.stock.openCommits(em, orderId);
      if (!lines.length) return;
      await this.stock.lockProducts(
        em,
        lines.map((l) => l.productId),
      );
      for (const l of lines) await this.move(em, l.productId, l.quantity, RETURN, orderId);
      await this.stock.markReturned(em, orderId);
    });
    return { returned: true };
  }

  // ---- helpers ----

  /** Runs `fn` in one transaction, then wakes the outbox relay (stock movements are announced). */
  private async tx<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    const result = await this.orm.em.fork().transactional(fn);
    this.relay.kick();
    return result;
  }

  /**
   * Locks the given products and every product the cart already holds (its deadline moves on all of them), then
   * reads the decision time, the held units of the given products and the start of the cart's run of holds (with
   * `mergedFrom`'s: a merge keeps the earlier start). `expiresAt` is the deadline to write: the requested one, or the
   * cart's lifetime cap (start + holdMaxSeconds) if that comes first.
   */
  private async lockCart(
    em: EntityManager,
    cartId: string,
    productIds: string[],
    requested: string,
    alsoLock: string[] = [],
    mergedFrom: string | null = null,
  ) {
    const all = [...new Set([...productIds, ...alsoLock, ...(await this.stock.cartProductIds(em, cartId))])];
    const locked = byId(await this.stock.lockProducts(em, all));
    const { at, held, since, sinceMs } = await this.stock.decisionState(
      em,
      productIds.filter((id) => locked.has(id)),
      cartId,
      mergedFrom ? [cartId, mergedFrom] : [cartId],
    );
    return { locked, at, held, since: since!, expiresAt: this.capped(sinceMs!, requested) };
  }

  /** The deadline to write: the requested one, or the cart's lifetime cap (run start + holdMaxSeconds) if earlier. */
  private capped(sinceMs: string, requested: string): string {
    const cap = Date.parse(sinceMs) + this.options.holdMaxSeconds * 1000;
    return cap < Date.parse(requested) ? new Date(cap).toISOString() : requested;
  }

  /** One on-hand change of a locked product for an order: the level, its SALE/RETURN movement and the event. */
  private async move(
    em: EntityManager,
    productId: string,
    delta: number,
    reason: string,
    orderId: string,
  ): Promise<void> {
    const onHand = await this.catalog.addStock(em, productId, delta, LIMITS.stockMax);
    // Checked under the lock just before; only a broken invariant gets here.
    if (onHand === null) throw new Error(`stock of ${productId} cannot change by ${delta}`);
    const movement = await this.catalog.insertMovement(em, {
      id: randomUUID(),
      productId,
      delta,
      reason,
      resultingOnHand: onHand,
      actorId: null,
      orderId,
    });
    emitProductEvent(em, 'product.stock_adjusted', {
      productId,
      movementId: movement.id,
      delta,
      reason,
      onHand,
      actorId: null,
      orderId,
    });
  }
}

/**
 * The statements of a hold and of a commit are planned once per connection (SqlStatement.prepare): planning the
 * commit's each time took PostgreSQL about 0.8 ms per checkout, more than running them (pg_stat_statements over
 * 1,900 checkouts).
 */
const prepared = (q: Sql): SqlStatement => ({ text: q.text, params: q.params, prepare: true });

function byId(products: LockedProduct[]): Map<string, LockedProduct> {
  return new Map(products.map((p) => [p.id, p]));
}
