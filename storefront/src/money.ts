/** Money arrives as integer cents; formatted here with the browser's locale rules for the currency. */
export function formatMoney(cents: number, currency = 'USD'): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(cents / 100);
}
