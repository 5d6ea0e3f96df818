import { createHash } from 'node:crypto';
import { badInput } from '@shop/kernel';

export interface AddressValue {
  name: string;
  line1: string;
  line2?: string | null;
  city: string;
  postalCode: string;
  country: string;
}

export interface PlaceOrderValue {
  cartId: string;
  shippingAddress: AddressValue;
  paymentToken: string;
}

const MAX_TEXT = 200;
const MAX_POSTAL = 20;

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'code' });
/** Codes ICU names that are not ISO-3166-1 countries: user-assigned ranges and groupings (EU, UN, QO, ZZ…). */
const NOT_COUNTRIES = /^(AA|Q[M-Z]|X[A-Z]|ZZ|EU|EZ|UN)$/;

/** ICU's answer per two-letter code (at most 676): asking ICU took 0.6 % of the order subgraph's checkout profile. */
const regions = new Map<string, boolean>();

/** ISO-3166-1 alpha-2: two letters that ICU knows as a region (unknown codes come back unchanged). */
export function isCountryCode(code: string): boolean {
  if (!/^[A-Z]{2}$/.test(code) || NOT_COUNTRIES.test(code)) return false;
  let known = regions.get(code);
  if (known === undefined) {
    try {
      known = regionNames.of(code) !== code;
    } catch {
      known = false;
    }
    regions.set(code, known);
  }
  return known;
}

function required(value: unknown, field: string, max = MAX_TEXT): string {
  const v = typeof value === 'string' ? value.trim() : '';
  if (!v) throw badInput(field, `${field} is required`);
  if (v.length > max) throw badInput(field, `${field} must be at most ${max} characters`);
  return v;
}

/** Trimmed, checked address; errors name the field, e.g. `shippingAddress.city`. */
export function validateAddress(a: AddressValue, prefix = 'shippingAddress'): AddressValue {
  const name = required(a?.name, `${prefix}.name`);
  const line1 = required(a?.line1, `${prefix}.line1`);
  const line2raw = typeof a?.line2 === 'string' ? a.line2.trim() : '';
  if (line2raw.length > MAX_TEXT)
    throw badInput(`${prefix}.line2`, `${prefix}.line2 must be at most ${MAX_TEXT} characters`);
  const city = required(a?.city, `${prefix}.city`);
  const postalCode = required(a?.postalCode, `${prefix}.postalCode`, MAX_POSTAL);
  const country = required(a?.country, `${prefix}.country`).toUpperCase();
  if (!isCountryCode(country))
    throw badInput(`${prefix}.country`, `${prefix}.country must be an ISO-3166 alpha-2 country code, e.g. US`);
  return { name, line1, line2: line2raw || null, city, postalCode, country };
}

/** Validates placeOrder's arguments; returns the normalized input. */
export function validatePlaceOrder(input: PlaceOrderValue, idempotencyKey: string): PlaceOrderValue {
  required(idempotencyKey, 'idempotencyKey');
  const cartId = required(input?.cartId, 'cartId');
  const paymentToken = required(input?.paymentToken, 'paymentToken');
  return { cartId, paymentToken, shippingAddress: validateAddress(input?.shippingAddress) };
}

/** Fingerprint of what was asked: same key + different fingerprint = IDEMPOTENCY_CONFLICT. */
export function requestHash(input: PlaceOrderValue): string {
  const a = input.shippingAddress;
  const canonical = JSON.stringify([
    input.cartId,
    a.name,
    a.line1,
    a.line2 ?? null,
    a.city,
    a.postalCode,
    a.country,
    input.paymentToken,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
