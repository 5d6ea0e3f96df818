import { LockMode, type MikroORM } from '@mikro-orm/postgresql';
import { enqueueEvent, isUuid, Logger, OutboxRelay } from '@shop/kernel';
import { PAYMENT_EVENTS, paymentPayload } from '../events/payloads';
import { OrderEntity, PaymentEntity } from '../store/entities';
import type { PaymentProvider, PaymentWebhookEvent } from './payment';
import { applyStatus, type OrderStatusChanges, recordRefund } from './status';

/** How a webhook request was answered (routes.ts turns it into the HTTP status). */
export type WebhookOutcome =
  /** 200: applied, or nothing to apply (an event type or a payment that is not ours). */
  | { status: 'processed' | 'ignored' }
  /** 200: this event id was processed before; nothing changed this time. */
  | { status: 'duplicate' }
  /** 401: the signature does not verify; nothing changed. */
  | { status: 'bad-signature' }
  /** 503: a payment of ours whose checkout is still running (not committed yet): the provider retries. */
  | { status: 'retry' };

class RetryLater extends Error {}

/**
 * `POST /webhooks/payments`: the provider's asynchronous answers. The signature is verified by the provider (raw
 * body, tolerance), then ONE transaction records the event id (`payment_webhook_events`: a redelivered event finds
 * its id and changes nothing) and applies it under the payment's and order's row locks, with its outbox events:
 *
 * - succeeded: payment PENDING → CAPTURED (`payment.succeeded`); order PENDING → PAID (`order.status_changed`).
 * - failed: payment PENDING → FAILED (`payment.failed`); order PENDING → PAYMENT_FAILED (`order.status_changed`),
 *   then its stock goes back (`product.uncommit`, retried by the sweep like a cancellation's).
 * - refunded: the refunded total recorded (`payment.refunded` once per increase; see `recordRefund`).
 *
 * A payment that settles on an order already CANCELLED or PAYMENT_FAILED is recorded as it is; the follow-ups of
 * such orders refund whatever was captured.
 */
export class PaymentWebhooks {
  constructor(
    private readonly orm: MikroORM,
    private readonly payments: PaymentProvider,
    private readonly status: OrderStatusChanges,
    private readonly relay: OutboxRelay,
    private readonly logger: Logger,
  ) {}

  async handle(rawBody: Buffer, signature: string | undefined): Promise<WebhookOutcome> {
    let event: PaymentWebhookEvent;
    try {
      event = this.payments.parseWebhook(rawBody, signature);
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'payment webhook: signature refused');
      return { status: 'bad-signature' };
    }
    let outcome: WebhookOutcome & { closedOrder?: string };
    try {
      outcome = await this.orm.em.fork().transactional(async (em) => {
        const conn = em.getConnection();
        const tx = em.getTransactionContext();
        const inserted: unknown[] = await conn.execute(
          `INSERT INTO payment_webhook_events (id, provider, type, order_id) VALUES (?, ?, ?, ?)
           ON CONFLICT (id) DO NOTHING RETURNING id`,
          [
            event.id,
            this.payments.name,
            event.kind === 'ignored' ? event.type : event.kind,
            event.kind !== 'ignored' && event.orderId && isUuid(event.orderId) ? event.orderId : null,
          ],
          'all',
          tx,
        );
        if (!inserted.length) return { status: 'duplicate' as const };
        if (event.kind === 'ignored') return { status: 'ignored' as const };
        const payment = await em.findOne(
          PaymentEntity,
          { provider: this.payments.name, reference: event.reference },
          { lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        if (!payment) {
          // Ours and not written YET: its checkout still holds the idempotency key (between charge and commit).
          // A checkout that failed (a decline, a later step) released its key and wrote nothing: nothing to apply.
          if (event.orderId && isUuid(event.orderId)) {
            const inProgress: unknown[] = await conn.execute(
              `SELECT 1 FROM idempotency_keys WHERE order_id = ? AND status = 'IN_PROGRESS'`,
              [event.orderId],
              'all',
              tx,
            );
            if (inProgress.length) throw new RetryLater();
          }
          return { status: 'ignored' as const };
        }
        const order = await em.findOneOrFail(
          OrderEntity,
          { id: payment.orderId },
          { lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        switch (event.kind) {
          case 'succeeded':
            if (payment.status === 'PENDING' || payment.status === 'FAILED') {
              settle(payment, 'CAPTURED');
              enqueueEvent(em, PAYMENT_EVENTS.succeeded, paymentPayload(order, payment));
            }
            if (order.status === 'PENDING') await applyStatus(em, order, 'PAID');
            // Money taken for an order that no longer wants it: its follow-ups refund it.
            return { status: 'processed' as const, closedOrder: isClosed(order) ? order.id : undefined };
          case 'failed':
            if (payment.status === 'PENDING') {
              settle(payment, 'FAILED');
              payment.failureReason = event.reason;
              enqueueEvent(em, PAYMENT_EVENTS.failed, paymentPayload(order, payment, { reason: event.reason }));
            }
            if (order.status === 'PENDING') await applyStatus(em, order, 'PAYMENT_FAILED');
            return { status: 'processed' as const, closedOrder: isClosed(order) ? order.id : undefined };
          case 'refunded':
            await recordRefund(em, payment.id, event.amountRefunded, event.refund ?? null);
            return { status: 'processed' as const };
        }
      });
    } catch (err) {
      if (err instanceof RetryLater) {
        this.logger.info({ eventId: event.id }, 'payment webhook: payment not written yet; the provider retries');
        return { status: 'retry' };
      }
      throw err;
    }
    this.relay.kick();
    if (outcome.closedOrder) await this.status.compensateClosed(outcome.closedOrder);
    return { status: outcome.status } as WebhookOutcome;
  }
}

/** The payment settled: the client secret is no longer needed (nor kept). */
function settle(p: PaymentEntity, status: 'CAPTURED' | 'FAILED'): void {
  p.status = status;
  p.clientSecret = null;
  p.nextAction = null;
  p.updatedAt = new Date();
}

const isClosed = (o: OrderEntity) => o.status === 'CANCELLED' || o.status === 'PAYMENT_FAILED';
