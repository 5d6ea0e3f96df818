import { Directive, Field, Int, ObjectType } from 'type-graphql';

/** Exact money: integer minor units (cents) end to end; floating point never touches an amount. */
@Directive('@shareable')
@ObjectType({ description: 'An exact amount of money.' })
export class Money {
  @Field(() => Int, { description: 'Amount in minor units of the currency (e.g. cents): 1999 = 19.99.' })
  amount!: number;

  @Field({ description: 'ISO-4217 currency code, e.g. USD.' })
  currency!: string;

  @Field({ description: 'Human-readable amount, e.g. "$19.99".' })
  formatted!: string;
}

const formatters = new Map<string, Intl.NumberFormat>();
function formatter(currency: string): Intl.NumberFormat {
  let f = formatters.get(currency);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { style: 'currency', currency });
    formatters.set(currency, f);
  }
  return f;
}

/** Whether `Intl` can format amounts in `currency` (its formatter is kept for `formatMoney`; a failure is not). */
export function isFormattableCurrency(currency: string): boolean {
  try {
    formatter(currency);
    return true;
  } catch {
    return false;
  }
}

/** Number of minor-unit digits of a currency (2 for USD, 0 for JPY). */
const digits = new Map<string, number>();
export function minorDigits(currency: string): number {
  let d = digits.get(currency);
  if (d === undefined) {
    d = formatter(currency).resolvedOptions().maximumFractionDigits ?? 2;
    digits.set(currency, d);
  }
  return d;
}

/** Formats without dividing floats: the decimal string is built from the integer and handed to Intl as a string. */
export function formatMoney(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  const sign = amount < 0 ? '-' : '';
  const abs = String(Math.abs(amount)).padStart(digits + 1, '0');
  const decimal = digits ? `${sign}${abs.slice(0, -digits)}.${abs.slice(-digits)}` : `${sign}${abs}`;
  return formatter(currency).format(decimal as unknown as number);
}

export function money(amount: number, currency: string): Money {
  if (!Number.isSafeInteger(amount)) throw new Error(`money amount must be an integer, got ${amount}`);
  return { amount, currency, formatted: formatMoney(amount, currency) };
}

/** The amount taken off by `percent`: amount × percent / 100 rounded half up to the minor unit (integer arithmetic). */
export function discountAmount(amount: number, percent: number): number {
  if (!Number.isSafeInteger(amount) || amount < 0) throw new Error('amount must be a non-negative integer');
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new Error('percent must be an integer 0..100');
  return Math.floor((amount * percent + 50) / 100);
}

/** Price after a percentage discount, rounded half up per unit (documented in docs/features.md). */
export function discountedPrice(amount: number, percent: number): number {
  return amount - discountAmount(amount, percent);
}

export const SUPPORTED_CURRENCIES = new Set([
  'USD',
  'EUR',
  'GBP',
  'JPY',
  'CHF',
  'CAD',
  'AUD',
  'SEK',
  'NOK',
  'DKK',
  'PLN',
]);

/** A line as carts and orders price it: list price per unit and the deal percent at that moment. */
export interface PriceableLine {
  productId: string;
  quantity: number;
  /** List price per unit, minor units. */
  unitPrice: number;
  /** Whole percent, 0 when not on a deal. */
  discountPercent: number;
}

export interface PricedLineAmounts {
  /** Discount per unit, rounded half up to the minor unit. */
  unitDiscount: number;
  /** (unitPrice − unitDiscount) × quantity. */
  lineTotal: number;
  /** unitDiscount × quantity. */
  amountSaved: number;
}

/**
 * The one pricing rule of carts and orders (so the cart total is the order total): the discount is rounded half up
 * PER UNIT and then multiplied by the quantity, so a line is always quantity × the unit price the shopper saw
 * (1999 at 20% → 1599 each). total = subtotal − discountTotal, all exact integers.
 */
export function priceLines<L extends PriceableLine>(
  lines: L[],
): { lines: (L & PricedLineAmounts)[]; subtotal: number; discountTotal: number; total: number } {
  const priced = lines.map((l) => {
    const unitDiscount = discountAmount(l.unitPrice, l.discountPercent);
    return {
      ...l,
      unitDiscount,
      lineTotal: (l.unitPrice - unitDiscount) * l.quantity,
      amountSaved: unitDiscount * l.quantity,
    };
  });
  const subtotal = priced.reduce((s, l) => s + l.unitPrice * l.quantity, 0);
  const discountTotal = priced.reduce((s, l) => s + l.amountSaved, 0);
  for (const n of [subtotal, discountTotal]) if (!Number.isSafeInteger(n)) throw new Error('total out of range');
  return { lines: priced, subtotal, discountTotal, total: subtotal - discountTotal };
}
