import { formatMoney } from '@shop/kernel';
import type { OrderEventPayload } from '@shop/order/src/events/payloads';
import { Block, greeting } from './layout';

/**
 * What the order emails need from an `order.*` event: the fields of the order subgraph's payload (v1) they render
 * (`status` and `firstName` loosened: the payload is checked before rendering). Amounts are integer minor units.
 */
export interface OrderEmailData extends Pick<
  OrderEventPayload,
  'number' | 'subtotal' | 'discountTotal' | 'total' | 'currency'
> {
  firstName: string | null | undefined;
  status: string;
  items: Pick<
    OrderEventPayload['items'][number],
    'productName' | 'quantity' | 'unitPrice' | 'discountPercent' | 'lineTotal'
  >[];
}

/** One line per item: "2 × Headphones — $19.99 each, 20% off — $31.98". */
export function itemLine(i: OrderEmailData['items'][number], currency: string): string {
  const discount = i.discountPercent > 0 ? `, ${i.discountPercent}% off` : '';
  return `${i.quantity} × ${i.productName} — ${formatMoney(i.unitPrice, currency)} each${discount} — ${formatMoney(i.lineTotal, currency)}`;
}

/** The item list and the totals, formatted with the kernel's exact formatMoney. */
export function orderSummary(d: OrderEmailData): Block[] {
  const blocks: Block[] = d.items.map((i) => ({ p: itemLine(i, d.currency) }));
  blocks.push({ p: `Subtotal: ${formatMoney(d.subtotal, d.currency)}` });
  if (d.discountTotal > 0) blocks.push({ p: `Discounts: -${formatMoney(d.discountTotal, d.currency)}` });
  blocks.push({ p: `Total: ${formatMoney(d.total, d.currency)}` });
  return blocks;
}

export function orderPlacedBlocks(d: OrderEmailData): Block[] {
  return [
    { p: greeting(d.firstName) },
    {
      p: `Thank you for your order ${d.number}. We received your payment and are preparing your parcel. Here is what you bought:`,
    },
    ...orderSummary(d),
  ];
}

/** How a status reads in a subject and a sentence; CANCELLED has its own email. */
export const STATUS_TEXT: Record<string, { subject: string; sentence: string }> = {
  PENDING: { subject: 'is pending', sentence: 'is waiting for its payment to be settled.' },
  PAID: { subject: 'is paid', sentence: 'is paid and being prepared.' },
  SHIPPED: { subject: 'is on its way', sentence: 'has shipped and is on its way to you.' },
  DELIVERED: { subject: 'was delivered', sentence: 'was delivered. We hope you enjoy it!' },
  PAYMENT_FAILED: { subject: 'could not be paid', sentence: 'could not be paid. No money was taken.' },
};

export function orderStatusBlocks(d: OrderEmailData): Block[] {
  return [
    { p: greeting(d.firstName) },
    { p: `Your order ${d.number} ${STATUS_TEXT[d.status]?.sentence ?? `is now ${d.status}.`}` },
    ...orderSummary(d),
  ];
}

export function orderCancelledBlocks(d: OrderEmailData): Block[] {
  return [
    { p: greeting(d.firstName) },
    {
      p: `Your order ${d.number} was cancelled. A refund of ${formatMoney(d.total, d.currency)} goes back to your payment method.`,
    },
    ...orderSummary(d),
  ];
}

/** What the payment emails need from a `payment.*` event (the order subgraph's PaymentEventPayload, v1). */
export interface PaymentEmailData {
  number: string;
  firstName: string | null | undefined;
  amount: number;
  currency: string;
  /** payment.failed: the provider's reason. */
  reason?: string;
  /** payment.refunded: what this refund gave back, and everything given back so far. */
  refundAmount?: number;
  refundedTotal?: number;
}

export function paymentFailedBlocks(d: PaymentEmailData): Block[] {
  return [
    { p: greeting(d.firstName) },
    {
      p: `The payment of ${formatMoney(d.amount, d.currency)} for your order ${d.number} did not go through${d.reason ? `: ${d.reason}` : '.'} No money was taken and the order is closed; you can place it again with another payment method.`,
    },
  ];
}

export function refundIssuedBlocks(d: PaymentEmailData): Block[] {
  const amount = d.refundAmount ?? d.amount;
  const total = d.refundedTotal ?? amount;
  const blocks: Block[] = [
    { p: greeting(d.firstName) },
    {
      p: `We refunded ${formatMoney(amount, d.currency)} for your order ${d.number} to your payment method. Depending on your bank it shows on your statement within 5 to 10 business days.`,
    },
  ];
  if (total !== amount) blocks.push({ p: `Refunded for this order so far: ${formatMoney(total, d.currency)}.` });
  return blocks;
}
