import { randomUUID } from 'node:crypto';
import { currentOrigin, isFormattableCurrency } from '@shop/kernel';
import type { Connection, EventEnvelope, Logger } from '@shop/kernel';
import type { UserEventPayloads } from '@shop/user/src/events/payloads';
import type { EmailRecord, EmailStatus, EmailStore, NewEmail } from '../store';
import type { EmailSender } from './sender';
import {
  orderCancelled,
  OrderEmailData,
  orderPlaced,
  orderStatusChanged,
  passwordChanged,
  passwordReset,
  PaymentEmailData,
  paymentFailed,
  refundIssued,
  RenderedEmail,
  verifyEmail,
} from './templates';
import { connectionOf, parseKeyset } from './pagination';

const HOUR = 3600_000;
/** Link lifetimes the user subgraph promises; used when an event's own expiresAt is unusable. */
const DEFAULT_VALIDITY = { verify: 24 * HOUR, reset: 1 * HOUR };

type LinkPayload = UserEventPayloads['secret.email_link'];

const isNonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

function validFor(data: LinkPayload, occurredAt: string, fallbackMs: number): number {
  const ms = Date.parse(data.expiresAt) - Date.parse(occurredAt);
  return Number.isFinite(ms) && ms > 0 ? ms : fallbackMs;
}

/** A renderer's answer for an event that deliberately asks for no email (not an error). */
const SKIP = 'skip' as const;

/** Event type → the email it asks for; null when the payload lacks what the email needs, SKIP when it asks for none. */
const RENDERERS: Record<
  string,
  (event: EventEnvelope, publicUrl: string) => (RenderedEmail & { to: string }) | null | typeof SKIP
> = {
  // Link emails come only from the secret-bearing twin of user.registered / user.verification_requested /
  // user.password_reset_requested (work-queue stream SECRETS); the public events carry no token and ask for nothing.
  'secret.email_link': (e, publicUrl) =>
    linkEmail(e, (d) =>
      d.purpose === 'RESET_PASSWORD'
        ? passwordReset({
            publicUrl,
            firstName: d.firstName,
            token: d.token,
            validForMs: validFor(d, e.occurredAt, DEFAULT_VALIDITY.reset),
          })
        : verifyEmail({
            publicUrl,
            firstName: d.firstName,
            token: d.token,
            validForMs: validFor(d, e.occurredAt, DEFAULT_VALIDITY.verify),
          }),
    ),
  'user.password_changed': (e) => {
    const d = e.data as Partial<UserEventPayloads['user.password_changed']>;
    if (!isNonEmpty(d.email)) return null;
    const at = new Date(e.occurredAt);
    return {
      to: d.email,
      ...passwordChanged({
        firstName: d.firstName,
        via: d.via === 'reset' ? 'reset' : 'change',
        at: Number.isNaN(at.getTime()) ? new Date() : at,
      }),
    };
  },
  'order.placed': (e) => orderEmail(e, orderPlaced),
  // A cancellation also announces order.status_changed; its email is the cancellation one, not a status one.
  'order.status_changed': (e) =>
    (e.data as { status?: unknown }).status === 'CANCELLED' ? SKIP : orderEmail(e, orderStatusChanged),
  'order.cancelled': (e) => orderEmail(e, orderCancelled),
  // payment.succeeded asks for none: the order confirmation (placed) or status email (PENDING → PAID) says it.
  'payment.failed': (e) => paymentEmail(e, paymentFailed),
  'payment.refunded': (e) => paymentEmail(e, refundIssued),
};

const isAmount = (v: unknown): v is number => Number.isSafeInteger(v);

/** Checks an `order.*` payload (v1) before rendering: an unusable one is skipped, never retried forever. */
export function orderEmailData(data: unknown): (OrderEmailData & { email: string }) | null {
  const d = data as Partial<OrderEmailData & { email: string }>;
  if (!d || !isNonEmpty(d.email) || !isNonEmpty(d.number) || !isNonEmpty(d.status)) return null;
  if (typeof d.currency !== 'string' || !/^[A-Z]{3}$/.test(d.currency)) return null;
  if (![d.subtotal, d.discountTotal, d.total].every(isAmount) || !Array.isArray(d.items)) return null;
  const itemsOk = d.items.every(
    (i) => i && isNonEmpty(i.productName) && [i.quantity, i.unitPrice, i.discountPercent, i.lineTotal].every(isAmount),
  );
  if (!itemsOk) return null;
  // The kernel's cached formatter: constructing an Intl.NumberFormat per event was the handler's largest cost.
  if (!isFormattableCurrency(d.currency)) return null;
  return d as OrderEmailData & { email: string };
}

/** Checks a `payment.*` payload (v1) before rendering: an unusable one is skipped, never retried forever. */
export function paymentEmailData(data: unknown): (PaymentEmailData & { email: string }) | null {
  const d = data as Partial<PaymentEmailData & { email: string }>;
  if (!d || !isNonEmpty(d.email) || !isNonEmpty(d.number) || !isAmount(d.amount)) return null;
  if (typeof d.currency !== 'string' || !/^[A-Z]{3}$/.test(d.currency)) return null;
  if (d.refundAmount !== undefined && !isAmount(d.refundAmount)) return null;
  if (d.refundedTotal !== undefined && !isAmount(d.refundedTotal)) return null;
  if (d.reason !== undefined && typeof d.reason !== 'string') return null;
  // The kernel's cached formatter: constructing an Intl.NumberFormat per event was the handler's largest cost.
  if (!isFormattableCurrency(d.currency)) return null;
  return d as PaymentEmailData & { email: string };
}

function paymentEmail(
  e: EventEnvelope,
  render: (d: PaymentEmailData) => RenderedEmail,
): (RenderedEmail & { to: string }) | null {
  const d = paymentEmailData(e.data);
  return d ? { to: d.email, ...render(d) } : null;
}

function orderEmail(
  e: EventEnvelope,
  render: (d: OrderEmailData) => RenderedEmail,
): (RenderedEmail & { to: string }) | null {
  const d = orderEmailData(e.data);
  return d ? { to: d.email, ...render(d) } : null;
}

function linkEmail(
  e: EventEnvelope,
  render: (d: LinkPayload) => RenderedEmail,
): (RenderedEmail & { to: string }) | null {
  const d = e.data as Partial<LinkPayload>;
  if (!isNonEmpty(d.email) || !isNonEmpty(d.token)) return null;
  return { to: d.email, ...render(d as LinkPayload) };
}

/** Event types that produce an email. */
export const EMAIL_EVENT_TYPES = Object.keys(RENDERERS);

export interface EmailListArgs {
  first: number;
  after?: string | null;
  to?: string | null;
  status?: EmailStatus | null;
}

/** Turns domain events into queued emails (the sender delivers them) and answers the admin's email history. */
export class EmailService {
  constructor(
    private readonly store: EmailStore,
    private readonly logger: Logger | undefined,
    private readonly opts: {
      publicUrl: string;
      /** Called after an email was queued unclaimed (wakes the sender). */
      onQueued?: () => void;
      /** The sender of this instance: each new email is inserted claimed by it and handed to it at once. */
      sender?: Pick<EmailSender, 'newClaim' | 'sendClaimed'>;
    },
  ) {}

  /**
   * Queues the email an event asks for. Keyed by (event id, template): handling a redelivered event again is a
   * no-op. Events that ask for no email, or whose payload is unusable, are skipped (retrying cannot fix them).
   */
  async handleEvent(event: EventEnvelope): Promise<{ created: boolean; email?: EmailRecord }> {
    const render = RENDERERS[event.type];
    if (!render) return { created: false };
    const rendered = render(event, this.opts.publicUrl);
    if (rendered === SKIP) return { created: false };
    if (!rendered) {
      this.logger?.error({ eventId: event.id, type: event.type }, 'event lacks the fields its email needs; skipped');
      return { created: false };
    }
    const to = normalizeAddress(rendered.to);
    if (!isPlainAddress(to)) {
      // Defence in depth: the user subgraph accepts only plain addresses; a list or display name is never mailed.
      this.logger?.error(
        { eventId: event.id, type: event.type },
        'event names a recipient that is not a plain address; skipped',
      );
      return { created: false };
    }
    const email: NewEmail = {
      id: randomUUID(),
      eventId: event.id,
      template: rendered.template,
      to,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      createdAt: new Date(),
      // The consumer runs in the trace and request of the event's sender: the email is sent as part of them.
      origin: currentOrigin(),
      claim: this.opts.sender?.newClaim(),
    };
    const res = await this.store.enqueue(email);
    if (!res.created) return res;
    // Claimed as it was inserted: sent now by this instance (a crash leaves it to any instance after the lease).
    if (email.claim)
      this.opts.sender!.sendClaimed({
        ...res.email,
        claimId: email.claim.claimId,
        html: email.html,
        text: email.text,
        origin: email.origin ?? {},
      });
    else this.opts.onQueued?.();
    return res;
  }

  async list(args: EmailListArgs): Promise<Connection<EmailRecord>> {
    const page = await this.store.list({
      limit: args.first + 1,
      after: parseKeyset(args.after, { uuidIds: true }),
      to: args.to != null ? normalizeAddress(args.to) : undefined,
      status: args.status ?? undefined,
    });
    return connectionOf(page, args.first, (e) => e.createdAt);
  }
}

/** Addresses are stored and filtered lower-cased (the user subgraph stores them so too). */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}

/** One plain `local@domain` address (the user subgraph's rule): nothing a mailer could read as a list or a display name. */
export function isPlainAddress(address: string): boolean {
  return (
    address.length <= 254 &&
    /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+$/u.test(
      address,
    )
  );
}
