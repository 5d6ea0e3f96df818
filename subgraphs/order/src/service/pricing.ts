import { discountAmount } from '@shop/kernel';
import type { CartLine } from '../ports';

export interface PricedLine {
  productId: string;
  productName: string;
  quantity: number;
  /** List price per unit. */
  unitPrice: number;
  discountPercent: number;
  /** Discount per unit, rounded half up to the minor unit (kernel `discountAmount`). */
  unitDiscount: number;
  /** (unitPrice − unitDiscount) × quantity. */
  lineTotal: number;
  /** unitDiscount × quantity. */
  amountSaved: number;
}

export interface PricedOrder {
  lines: PricedLine[];
  subtotal: number;
  discountTotal: number;
  total: number;
}

/**
 * Exact integer pricing. The discount is rounded half up PER UNIT, then multiplied by the quantity, so a line's
 * total is always quantity × the unit price the shopper saw (1999 at 20% → 1599 each). total = subtotal − discountTotal.
 */
export function priceLines(lines: CartLine[], names: Map<string, string>): PricedOrder {
  const priced = lines.map((l) => {
    const unitDiscount = discountAmount(l.unitPrice, l.discountPercent);
    return {
      productId: l.productId,
      productName: names.get(l.productId) ?? '',
      quantity: l.quantity,
      unitPrice: l.unitPrice,
      discountPercent: l.discountPercent,
      unitDiscount,
      lineTotal: (l.unitPrice - unitDiscount) * l.quantity,
      amountSaved: unitDiscount * l.quantity,
    };
  });
  const subtotal = priced.reduce((s, l) => s + l.unitPrice * l.quantity, 0);
  const discountTotal = priced.reduce((s, l) => s + l.amountSaved, 0);
  for (const n of [subtotal, discountTotal]) if (!Number.isSafeInteger(n)) throw new Error('order total out of range');
  return { lines: priced, subtotal, discountTotal, total: subtotal - discountTotal };
}
