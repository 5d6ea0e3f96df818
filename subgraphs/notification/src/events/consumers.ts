import { Bus, DOMAINS, EventEnvelope, Logger } from '@shop/kernel';
import type { AuditService } from '../service/audit.service';
import { EMAIL_EVENT_TYPES, EmailService } from '../service/email.service';

/** Durable consumer names: restarts resume where they left off; all instances share one position. */
export const DURABLE = { email: 'notification-email', audit: 'notification-audit' };

export interface Consumers {
  stop(): Promise<void>;
}

/**
 * Subscribes the email and audit handlers. Handlers are idempotent by unique key (email: event id + template,
 * audit: event id), so JetStream's at-least-once redelivery never duplicates anything.
 */
export async function startConsumers(
  bus: Bus,
  deps: { emails: EmailService; audit: AuditService; logger?: Logger },
): Promise<Consumers> {
  let stopping = false;
  const inFlight = new Set<Promise<unknown>>();
  const track = (fn: (event: EventEnvelope) => Promise<unknown>) => async (event: EventEnvelope) => {
    // Refused work is nak'ed by the bus and redelivered, here or to another instance.
    if (stopping) throw new Error('notification consumer is shutting down');
    if (typeof event?.id !== 'string' || typeof event.type !== 'string') {
      // Acked and dropped: redelivering a message without an id or type can never succeed.
      deps.logger?.error({ event: typeof event }, 'message is not an event envelope; skipped');
      return;
    }
    const p = fn(event);
    inFlight.add(p);
    try {
      await p;
    } finally {
      inFlight.delete(p);
    }
  };

  const emailTypes = new Set(EMAIL_EVENT_TYPES);
  await bus.consume({
    durable: DURABLE.email,
    // One wildcard filter rather than one per type: multi-filter consumers need NATS ≥ 2.10.
    // `secret.>`: the work-queue stream of link tokens; this is its only consumer (acked = deleted from the broker).
    subjects: ['user.>', 'order.>', 'secret.>'],
    handler: track(async (event) => {
      if (emailTypes.has(event.type)) await deps.emails.handleEvent(event);
    }),
  });
  await bus.consume({
    durable: DURABLE.audit,
    subjects: DOMAINS.map((d) => `${d}.>`),
    handler: track((event) => deps.audit.record(event)),
  });

  return {
    async stop() {
      stopping = true;
      await Promise.allSettled([...inFlight]);
    },
  };
}
