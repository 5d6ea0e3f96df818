import { badInput, SUPPORTED_CURRENCIES } from '@shop/kernel';

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SKU = /^[A-Za-z0-9._-]+$/;
const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
// NUL cannot be stored in PostgreSQL text; other control characters have no place in catalog text.
const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROL_EXCEPT_NEWLINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID.test(s);
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
  if (chars(value) > LIMITS.descriptionMax) throw badInput('description', `description must be at most ${LIMITS.descriptionMax} characters`);
  if (CONTROL_EXCEPT_NEWLINES.test(value)) throw badInput('description', 'description must not contain control characters');
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
    throw badInput(field, `${field} must be 1–${LIMITS.slugMax} lower-case letters, digits and single hyphens, e.g. "home-audio"`);
  }
  return slug;
}

/** Optional non-negative integer price bound of a filter. */
export function priceBound(value: number | null | undefined, field: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0) throw badInput(field, `${field} must be a whole number of minor units, 0 or more`);
  return value;
}
