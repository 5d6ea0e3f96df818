import { Block, duration, greeting, renderHtml, renderText } from './layout';
import {
  OrderEmailData,
  orderCancelledBlocks,
  orderPlacedBlocks,
  orderStatusBlocks,
  PaymentEmailData,
  paymentFailedBlocks,
  refundIssuedBlocks,
  STATUS_TEXT,
} from './orders';

export { escapeHtml } from './layout';
export type { OrderEmailData, PaymentEmailData } from './orders';

/** Template names as stored on each email (and shown in `EmailMessage.template`). */
export const TEMPLATE = {
  VERIFY_EMAIL: 'verify-email',
  PASSWORD_RESET: 'password-reset',
  PASSWORD_CHANGED: 'password-changed',
  ORDER_PLACED: 'order-placed',
  ORDER_STATUS_CHANGED: 'order-status-changed',
  ORDER_CANCELLED: 'order-cancelled',
  PAYMENT_FAILED: 'payment-failed',
  REFUND_ISSUED: 'refund-issued',
} as const;
export type TemplateName = (typeof TEMPLATE)[keyof typeof TEMPLATE];

export interface RenderedEmail {
  template: TemplateName;
  subject: string;
  html: string;
  text: string;
}

const SIGNATURE = 'The Shop team';

function render(template: TemplateName, subject: string, blocks: Block[]): RenderedEmail {
  const all = [...blocks, { p: SIGNATURE }];
  return { template, subject, html: renderHtml(subject, all), text: renderText(all) };
}

/** The longest a link in an email of this template stays valid (the user subgraph's token lifetimes). */
export const LINK_VALIDITY_MS: Readonly<Record<string, number>> = {
  [TEMPLATE.VERIFY_EMAIL]: 24 * 3600_000,
  [TEMPLATE.PASSWORD_RESET]: 3600_000,
};

export interface LinkEmailInput {
  publicUrl: string;
  firstName: string | null | undefined;
  /** Raw single-use token; appears only in the link. */
  token: string;
  /** How long the link stays valid. */
  validForMs: number;
}

export function verifyEmail(input: LinkEmailInput): RenderedEmail {
  const url = `${input.publicUrl}/verify-email?token=${encodeURIComponent(input.token)}`;
  return render(TEMPLATE.VERIFY_EMAIL, 'Verify your email address', [
    { p: greeting(input.firstName) },
    { p: 'Please confirm your email address to finish setting up your Shop account.' },
    { link: { label: 'Verify email address', url } },
    {
      p: `This link is valid for ${duration(input.validForMs)} and can be used once. If you did not create an account, you can ignore this email.`,
    },
  ]);
}

export function passwordReset(input: LinkEmailInput): RenderedEmail {
  const url = `${input.publicUrl}/reset-password?token=${encodeURIComponent(input.token)}`;
  return render(TEMPLATE.PASSWORD_RESET, 'Reset your password', [
    { p: greeting(input.firstName) },
    { p: 'We received a request to reset the password of your Shop account.' },
    { link: { label: 'Choose a new password', url } },
    {
      p: `This link is valid for ${duration(input.validForMs)} and can be used once. If you did not ask for this, ignore this email: your password stays as it is.`,
    },
  ]);
}

export function passwordChanged(input: {
  firstName: string | null | undefined;
  via: 'change' | 'reset';
  at: Date;
}): RenderedEmail {
  const how = input.via === 'reset' ? 'reset with an emailed link' : 'changed from your account settings';
  return render(TEMPLATE.PASSWORD_CHANGED, 'Your password was changed', [
    { p: greeting(input.firstName) },
    {
      p: `The password of your Shop account was ${how} on ${input.at.toUTCString()}. For your security, you have been signed out on every device.`,
    },
    {
      p: 'If this was not you, reset your password right away with "Forgot password" on the sign-in page and contact our support.',
    },
  ]);
}

/** Order confirmation: every item (name, quantity, unit price, discount, line total) and the totals. */
export function orderPlaced(d: OrderEmailData): RenderedEmail {
  return render(TEMPLATE.ORDER_PLACED, `Your order ${d.number} is confirmed`, orderPlacedBlocks(d));
}

/** A status change (shipped, delivered…); cancellations use `orderCancelled`. */
export function orderStatusChanged(d: OrderEmailData): RenderedEmail {
  return render(
    TEMPLATE.ORDER_STATUS_CHANGED,
    `Your order ${d.number} ${STATUS_TEXT[d.status]?.subject ?? `is ${d.status}`}`,
    orderStatusBlocks(d),
  );
}

export function orderCancelled(d: OrderEmailData): RenderedEmail {
  return render(TEMPLATE.ORDER_CANCELLED, `Your order ${d.number} was cancelled`, orderCancelledBlocks(d));
}

/** The payment of an order failed after placement (e.g. 3-D Secure not completed): nothing was taken. */
export function paymentFailed(d: PaymentEmailData): RenderedEmail {
  return render(TEMPLATE.PAYMENT_FAILED, `The payment for your order ${d.number} failed`, paymentFailedBlocks(d));
}

/** Money of an order went back to the buyer (a cancelled order, or a refund made at the provider). */
export function refundIssued(d: PaymentEmailData): RenderedEmail {
  return render(TEMPLATE.REFUND_ISSUED, `Your refund for order ${d.number}`, refundIssuedBlocks(d));
}
