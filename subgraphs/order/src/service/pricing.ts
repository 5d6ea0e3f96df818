import { priceLines as priceKernel, PricedLineAmounts } from '@shop/kernel';
import type { CheckoutLine } from '../ports';

export interface PricedLine extends Omit<CheckoutLine, 'archived'>, PricedLineAmounts {
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
  lines: Omit<CheckoutLine, 'productName' | 'archived'>[],
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
