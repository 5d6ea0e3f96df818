import type { Bus } from '@shop/kernel';
import type { CatalogService, CommandProduct } from '../service/catalog.service';
import type { DealsService } from '../service/deals.service';
import type { HoldResult, HoldsSetLine, StockHoldsService } from '../service/stock-holds.service';
import type { ChargedPrice } from '../service/validation';

interface Line {
  productId: string;
  quantity: number;
}

/**
 * Request/reply commands other subgraphs send over NATS (they never read this subgraph's tables). Errors come back
 * coded (kernel `Bus.request` re-raises them): BAD_USER_INPUT with `field` for a malformed request, and per command
 * the codes listed below.
 */
export interface ProductCommands {
  /** Which of these ids are products (archived included). Media checks it before attaching images. */
  'product.exists': { req: { ids: string[] }; res: { existing: string[] } };
  /**
   * What carts and orders need: price, currency, availability now (on hand minus unexpired holds), archived flag and
   * the current deal's discountPercent (0 when none). Unknown ids are left out; archived ones included.
   */
  'product.get': { req: { ids: string[] }; res: CommandProduct[] };
  /**
   * Sets this cart's hold of one product to `quantity` (0..999; 0 releases) and moves the deadline of ALL the cart's
   * live holds to `expiresAt` (ISO-8601), clamped to the cart's absolute lifetime (`held_since` + CART_HOLD_MAX_SECONDS_USER;
   * the answer's `expiresAt` is the deadline set). Idempotent. NOT_FOUND (unknown, or archived when quantity > 0),
   * INSUFFICIENT_STOCK `{ productId, available }` (how many this cart could hold).
   */
  'product.hold': { req: { cartId: string; productId: string; quantity: number; expiresAt: string }; res: HoldResult };
  /**
   * Cart merge: sets each line's hold to min(requested, what this cart can hold), moving the deadline of all the
   * cart's holds (clamped like product.hold; the released cart's run counts as this cart's). Never fails for lack of
   * stock: `held < requested` marks a reduced line; unknown/archived → held 0.
   */
  'product.holds.set': {
    req: { cartId: string; expiresAt: string; lines: Line[]; releaseCartId?: string };
    res: { lines: HoldsSetLine[]; expiresAt: string };
  };
  /** Deletes every hold of the cart (expiry sweeper, emptied cart). Idempotent; `released` = rows deleted. */
  'product.release': { req: { cartId: string }; res: { released: number } };
  /**
   * Sells the order's lines from the cart's holds (or from stock no other cart holds), all or nothing. Idempotent per
   * orderId. INSUFFICIENT_STOCK `{ productId, available }`, NOT_FOUND `{ productId }` (unknown or archived product).
   * Lines priced with what the order charged (`unitPrice` and `discountPercent` on each) sell only at the product's
   * current price and deal: PRICE_CHANGED `{ productId }` otherwise, after a `product.prices` notice naming them.
   */
  'product.commit': {
    req: { orderId: string; cartId: string; lines: (Line & Partial<ChargedPrice>)[] };
    res: { committed: true };
  };
  /** Returns the order's sold units to stock. Idempotent; an unknown order is a no-op. */
  'product.uncommit': { req: { orderId: string }; res: { returned: true } };
}

/**
 * Notices (kernel `Bus.notify`: to every instance listening, at most once) this subgraph sends. Catalog edits are
 * events (`product.updated`, `product.archived`); these cover what is not.
 */
export interface ProductNotices {
  /**
   * Prices or deals that carts may have cached are stale: those of `productIds`, or all when it is absent (a new or
   * topped-up deal list). Sent too when a commit refused a price it was charged at, so the buyer's retry is repriced.
   */
  'product.prices': { productIds?: string[] };
}
export const PRICES_NOTICE: keyof ProductNotices = 'product.prices';

type Handler<K extends keyof ProductCommands> = (req: ProductCommands[K]['req']) => Promise<ProductCommands[K]['res']>;

/**
 * Serves the product commands (the stock ones unless `holds` is null); the handlers only hand the untrusted request
 * to the service that validates it.
 */
export function serveCommands(
  bus: Bus,
  catalog: CatalogService,
  deals: DealsService,
  holds: StockHoldsService | null,
): void {
  const serve = <K extends keyof ProductCommands>(name: K, handler: Handler<K>) => bus.serve(name, handler);
  serve('product.exists', async (req) => ({ existing: await catalog.existing(req?.ids) }));
  serve('product.get', (req) => catalog.getForCommand(req?.ids, deals));
  if (!holds) return;
  serve('product.hold', (req) => holds.hold(req));
  serve('product.holds.set', (req) => holds.setHolds(req));
  serve('product.release', (req) => holds.release(req));
  serve('product.commit', (req) => holds.commit(req));
  serve('product.uncommit', (req) => holds.uncommit(req));
}
