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
  /** CART_PRICE_CACHE_SECONDS in ms: how old a remembered price a checkout may use (0: it always asks). */
  priceCacheMs: number;
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
  priceCacheMs: 60_000,
};
