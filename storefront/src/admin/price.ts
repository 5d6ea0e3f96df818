/**
 * Prices typed by a person as decimals ("19.99") ⇄ the API's integer minor units (1999), by string arithmetic only:
 * `19.99 * 100` is 1998.9999999999998 in floating point, so no multiplication by 100 ever touches a float.
 */

/** Number of minor-unit digits of a currency (2 for USD, 0 for JPY), as the API counts them (lib/src/money.ts). */
export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2; // an unknown code: the API refuses it (field currency); 2 keeps the form usable meanwhile
  }
}

/** The API's bound for a price (CreateProductInput.price): 1 to 100000000 minor units. */
export const PRICE_MAX = 100_000_000;

export type PriceResult = { ok: true; amount: number } | { ok: false; message: string };

/** "19.99" → 1999, "5" → 500, "0.5" → 50, "1,299.00" → 129900 (for USD); errors in plain words. */
export function parsePrice(text: string, currency: string): PriceResult {
  const digits = minorDigits(currency);
  const clean = text.trim().replace(/,/g, '');
  if (!clean) return { ok: false, message: 'Enter a price.' };
  const pattern = digits ? new RegExp(`^(\\d+)(?:\\.(\\d{0,${digits}}))?$`) : /^(\d+)$/;
  const m = pattern.exec(clean);
  if (!m) {
    return {
      ok: false,
      message: digits
        ? `Enter a price like 19.99 (digits, at most ${digits} after the point).`
        : 'Enter a whole amount, e.g. 1500.',
    };
  }
  const whole = m[1].replace(/^0+(?=\d)/, '');
  const fraction = (m[2] ?? '').padEnd(digits, '0');
  // Long digit strings would lose precision as numbers: bound by length before converting.
  if (whole.length > 12) return { ok: false, message: 'That price is too high.' };
  const amount = Number(whole + fraction);
  if (amount < 1) return { ok: false, message: 'The price must be more than zero.' };
  if (amount > PRICE_MAX) return { ok: false, message: 'That price is too high.' };
  return { ok: true, amount };
}

/** 1999 → "19.99" (USD), 1500 → "1500" (JPY): what the price input shows when editing. */
export function toDecimal(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  if (!digits) return String(amount);
  const s = String(Math.abs(amount)).padStart(digits + 1, '0');
  return `${amount < 0 ? '-' : ''}${s.slice(0, -digits)}.${s.slice(-digits)}`;
}
