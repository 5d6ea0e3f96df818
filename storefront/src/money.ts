/**
 * Money arrives as integer minor units (cents; yen have none): formatted with the currency's own number of minor
 * digits, as the API counts them.
 */
export function formatMoney(minor: number, currency = 'USD'): string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minor / 10 ** digits);
}
