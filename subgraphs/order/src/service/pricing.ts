import { priceLines as priceKernel, PricedLineAmounts } from '@shop/kernel';
import type { CartLine } from '../ports';

export interface PricedLine extends Omit<CartLine, 'archived'>, PricedLineAmounts {
  productName: string;
}

export interface PricedOrder {
  lines: PricedLine[];
  subtotal: number;
  discountTotal: number;
  total: number;
}

/** The cart's lines priced with the kernel's rule (the same one the cart shows), plus the product names for the snapshot. */
export function priceLines(
  lines: Omit<CartLine, 'productName' | 'archived'>[],
  names: Map<string, string>,
): PricedOrder {
  return priceKernel(
    lines.map((l) => ({
      productId: l.productId,
      quantity: l.quantity,
      unitPrice: l.unitPrice,
      discountPercent: l.discountPercent,
      productName: names.get(l.productId) ?? '',
    })),
  );
}
