import { badInput, isUuid, SUPPORTED_CURRENCIES } from '@shop/kernel';

export const LIMITS = {
  skuMax: 64,
  nameMax: 200,
  descriptionMax: 5000,
  priceMax: 100_000_000,
  /** Upper bound of on-hand stock: keeps every sum far from the 32-bit column limit. */
  stockMax: 1_000_000_000,
  reasonMax: 200,
  slugMax: 64,
  categoryNameMax: 100,
};

const SKU = /^[A-Za-z0-9._-]+$/;
const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
// NUL cannot be stored in PostgreSQL text; other control characters have no place in catalog text.
const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROL_EXCEPT_NEWLINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

const chars = (s: string) => [...s].length;

export function normalizeSku(raw: string): string {
  const sku = raw.trim();
  if (!sku) throw badInput('sku', 'sku must not be empty');
  if (sku.length > LIMITS.skuMax) throw badInput('sku', `sku must be at most ${LIMITS.skuMax} characters`);
  if (!SKU.test(sku)) throw badInput('sku', 'sku may contain only letters, digits, ".", "_" and "-"');
  return sku;
}

/** Single-line text, trimmed, `min`..`max` characters. */
export function normalizeLine(raw: string, field: string, max: number, min = 1): string {
  const value = raw.trim();
  if (chars(value) < min) throw badInput(field, `${field} must not be empty`);
  if (chars(value) > max) throw badInput(field, `${field} must be at most ${max} characters`);
  if (CONTROL.test(value)) throw badInput(field, `${field} must not contain control characters`);
  return value;
}

/** Free text (line breaks and tabs allowed), trimmed, at most 5000 characters, may be empty. */
export function normalizeDescription(raw: string): string {
  const value = raw.trim();
  if (chars(value) > LIMITS.descriptionMax)
    throw badInput('description', `description must be at most ${LIMITS.descriptionMax} characters`);
  if (CONTROL_EXCEPT_NEWLINES.test(value))
    throw badInput('description', 'description must not contain control characters');
  return value;
}

/** A price in minor units: a positive integer up to 1,000,000.00. */
export function requirePrice(value: number, field = 'price'): number {
  if (!Number.isInteger(value) || value <= 0 || value > LIMITS.priceMax) {
    throw badInput(field, `${field} must be a whole number of minor units between 1 and ${LIMITS.priceMax}`);
  }
  return value;
}

export function normalizeCurrency(raw: string | null | undefined): string {
  if (raw === null || raw === undefined) return 'USD';
  const currency = raw.trim().toUpperCase();
  if (!SUPPORTED_CURRENCIES.has(currency)) {
    throw badInput('currency', `currency must be one of ${[...SUPPORTED_CURRENCIES].join(', ')}`);
  }
  return currency;
}

export function requireStock(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > LIMITS.stockMax) {
    throw badInput('stock', `stock must be a whole number between 0 and ${LIMITS.stockMax}`);
  }
  return value;
}

export function requireDelta(value: number): number {
  if (!Number.isInteger(value) || value === 0 || Math.abs(value) > LIMITS.stockMax) {
    throw badInput('delta', `delta must be a non-zero whole number between -${LIMITS.stockMax} and ${LIMITS.stockMax}`);
  }
  return value;
}

export function normalizeSlug(raw: string, field: string): string {
  const slug = raw.trim();
  if (!slug || slug.length > LIMITS.slugMax || !SLUG.test(slug)) {
    throw badInput(
      field,
      `${field} must be 1–${LIMITS.slugMax} lower-case letters, digits and single hyphens, e.g. "home-audio"`,
    );
  }
  return slug;
}

/** Optional non-negative integer price bound of a filter. */
export function priceBound(value: number | null | undefined, field: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0)
    throw badInput(field, `${field} must be a whole number of minor units, 0 or more`);
  return value;
}

// ---- stock commands (untrusted JSON from other services) ----

export const HOLD_LIMITS = {
  /** Units of one product one cart may hold (the cart's own bound is the same). */
  quantityMax: 999,
  /** Lines per holds.set / commit request. */
  linesMax: 200,
  /** Length of cart and order ids. */
  refMax: 128,
  /** How far ahead a hold deadline may lie: a peer bug must not pin stock for weeks. */
  deadlineMaxMs: 7 * 24 * 3600 * 1000,
};

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const PRINTABLE_REF = /^[\x21-\x7e]+$/;

/** The request must be a JSON object. */
export function requireObject(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badInput('request', 'the request must be an object');
  return value as Record<string, unknown>;
}

/** A cart or order id: 1–128 printable ASCII characters without spaces (they are opaque to this service). */
export function requireRef(value: unknown, field: string): string {
  if (typeof value !== 'string' || !value.length || value.length > HOLD_LIMITS.refMax || !PRINTABLE_REF.test(value)) {
    throw badInput(field, `${field} must be 1–${HOLD_LIMITS.refMax} printable characters without spaces`);
  }
  return value;
}

/** A product id, lower-cased (the database prints uuids lower-case; answers echo that form). */
export function requireProductId(value: unknown, field = 'productId'): string {
  if (!isUuid(value)) throw badInput(field, `${field} must be a product id (uuid)`);
  return value.toLowerCase();
}

export function requireQuantity(value: unknown, field: string, min: 0 | 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > HOLD_LIMITS.quantityMax) {
    throw badInput(field, `${field} must be a whole number between ${min} and ${HOLD_LIMITS.quantityMax}`);
  }
  return value;
}

/**
 * An ISO-8601 instant with a time zone, normalized to millisecond UTC ISO text (so a retried command compares equal
 * to what was stored). Past instants are allowed (the hold simply does not count); at most 7 days ahead.
 */
export function requireDeadline(value: unknown, field = 'expiresAt'): string {
  const ms = typeof value === 'string' && ISO_INSTANT.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms) || ms < Date.UTC(2000, 0, 1))
    throw badInput(field, `${field} must be an ISO-8601 date-time with a time zone`);
  if (ms > Date.now() + HOLD_LIMITS.deadlineMaxMs) throw badInput(field, `${field} must be at most 7 days ahead`);
  return new Date(ms).toISOString();
}

/** Lines `{ productId, quantity }`: an array of at most 200, each product once. */
export function requireLines(
  value: unknown,
  field: string,
  opts: { minQuantity: 0 | 1; allowEmpty: boolean },
): { productId: string; quantity: number }[] {
  if (!Array.isArray(value)) throw badInput(field, `${field} must be an array of { productId, quantity }`);
  if (!opts.allowEmpty && !value.length) throw badInput(field, `${field} must not be empty`);
  if (value.length > HOLD_LIMITS.linesMax)
    throw badInput(field, `at most ${HOLD_LIMITS.linesMax} ${field} per request`);
  const seen = new Set<string>();
  return value.map((raw, i) => {
    const line = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    const productId = requireProductId(line.productId, `${field}[${i}].productId`);
    const quantity = requireQuantity(line.quantity, `${field}[${i}].quantity`, opts.minQuantity);
    if (seen.has(productId))
      throw badInput(`${field}[${i}].productId`, `product ${productId} appears twice in ${field}`);
    seen.add(productId);
    return { productId, quantity };
  });
}

/** What an order charged for one line: the unit price (minor units) and the deal's percentage off. */
export interface ChargedPrice {
  unitPrice: number;
  discountPercent: number;
}

/**
 * The prices a commit's lines were charged at (`unitPrice`, `discountPercent` on each line), or null when no line
 * names them; some lines with and some without is malformed.
 */
export function chargedPrices(value: unknown[], field: string): ChargedPrice[] | null {
  const lines = value.map((raw) => (typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {}));
  if (lines.every((l) => l.unitPrice === undefined && l.discountPercent === undefined)) return null;
  return lines.map((l, i) => {
    const unitPrice = l.unitPrice;
    if (typeof unitPrice !== 'number' || !Number.isInteger(unitPrice) || unitPrice < 0 || unitPrice > LIMITS.priceMax)
      throw badInput(`${field}[${i}].unitPrice`, `${field}[${i}].unitPrice must be a whole number of minor units`);
    const discountPercent = l.discountPercent;
    if (
      typeof discountPercent !== 'number' ||
      !Number.isInteger(discountPercent) ||
      discountPercent < 0 ||
      discountPercent > 100
    )
      throw badInput(`${field}[${i}].discountPercent`, `${field}[${i}].discountPercent must be a whole number 0–100`);
    return { unitPrice, discountPercent };
  });
}
