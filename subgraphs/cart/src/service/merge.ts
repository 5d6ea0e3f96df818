import type { CartAdjustmentRecord, CartLineRecord } from '../store/cart.store';

/** The bounds a merged cart keeps. */
export interface MergeCaps {
  /** Units of one product per cart (99). */
  maxQuantityPerLine: number;
  /** CART_MAX_UNITS_USER: units the user's cart may hold at once. */
  maxUnits: number;
}

export interface MergeCart {
  lines: readonly { productId: string; quantity: number }[];
  currency: string | null;
}

/** What a merge asks the product store for, before the stock is known. */
export interface MergePlan {
  /**
   * The user cart's holds to set (`product.holds.set`): its own lines first, then the guest's new products, each
   * capped by the per-line and per-cart bounds (0 = the bound left no room for it).
   */
  hold: { productId: string; quantity: number }[];
  /** What the shopper asked for per product: the user's quantity plus the guest's, before any bound. */
  requested: Map<string, number>;
  /** Units of each guest line that fit the bounds (logged). */
  added: Map<string, number>;
  /** The merged cart's currency. */
  currency: string | null;
  /** Guest lines left out entirely because the guest cart is in another currency than a non-empty user cart. */
  dropped: CartAdjustmentRecord[];
}

const unitsOf = (lines: MergeCart['lines']) => lines.reduce((n, l) => n + l.quantity, 0);

/**
 * Plans a guest cart's merge into the user's cart. Pure: quantities of one product are added; a line is capped at
 * `maxQuantityPerLine`; guest units beyond the user cart's `maxUnits` are left out (taken in the guest cart's line
 * order; the user's own lines are never reduced here); one currency per cart, so a guest cart in another currency
 * than a non-empty user cart adds nothing. How much stock there is is decided afterwards, atomically, by the
 * product store; `settleMerge` turns its answer into the cart's lines and the adjustments to report.
 */
export function planMerge(user: MergeCart, guest: MergeCart, caps: MergeCaps): MergePlan {
  const wanted = new Map(user.lines.map((l) => [l.productId, l.quantity]));
  const added = new Map<string, number>();
  const compatible = !user.lines.length || !guest.currency || !user.currency || user.currency === guest.currency;
  const dropped: CartAdjustmentRecord[] = compatible
    ? []
    : guest.lines.map((l) => ({ productId: l.productId, requested: l.quantity, quantity: 0 }));
  const requested = new Map(wanted);
  let room = Math.max(caps.maxUnits - unitsOf(user.lines), 0);
  for (const l of compatible ? guest.lines : []) {
    const had = wanted.get(l.productId) ?? 0;
    requested.set(l.productId, (requested.get(l.productId) ?? 0) + l.quantity);
    const total = Math.min(requested.get(l.productId)!, caps.maxQuantityPerLine, had + room);
    added.set(l.productId, total - had);
    room -= total - had;
    wanted.set(l.productId, total);
  }
  return {
    hold: [...wanted].map(([productId, quantity]) => ({ productId, quantity })),
    requested,
    added,
    currency: user.currency && user.lines.length ? user.currency : guest.currency,
    dropped,
  };
}

/**
 * The merged cart once the product store answered with what it `held` of each planned line: lines with units keep
 * their place (and the user's `addedAt`; new ones get `now`), and every product that ends below what was asked for
 * — by a bound or by the stock — is reported as an adjustment (after the dropped ones).
 */
export function settleMerge(
  plan: MergePlan,
  held: ReadonlyMap<string, number>,
  userLines: readonly CartLineRecord[],
  now: string,
): { lines: CartLineRecord[]; adjustments: CartAdjustmentRecord[] } {
  const adjustments: CartAdjustmentRecord[] = [...plan.dropped];
  const lines = plan.hold.flatMap((l) => {
    const quantity = held.get(l.productId) ?? 0;
    const asked = plan.requested.get(l.productId) ?? l.quantity;
    if (quantity < asked) adjustments.push({ productId: l.productId, requested: asked, quantity });
    if (quantity === 0) return [];
    const before = userLines.find((x) => x.productId === l.productId);
    return [{ productId: l.productId, quantity, addedAt: before?.addedAt ?? now }];
  });
  return { lines, adjustments };
}
