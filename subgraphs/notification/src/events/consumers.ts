import { AckPolicy, ConsumerMessages, DeliverPolicy, nanos } from 'nats';
import { Bus, DOMAINS, ensureLogStream, EventEnvelope, Logger, logStreamName, serverMaxDeliver } from '@shop/kernel';
import { AuditService, subjectOf } from '../service/audit.service';
import { EMAIL_EVENT_TYPES, EmailService } from '../service/email.service';
import type { LogService } from '../service/log.service';

/** Durable consumer names: restarts resume where they left off; all instances share one position. */
export const DURABLE = { events: 'notification-events', logs: 'notification-logs' };
/** The two consumers per stream `notification-events` replaced (until 2026-12-06): their positions carry over. */
export const REPLACED_DURABLES = ['notification-email', 'notification-audit'];

export interface Consumers {
  stop(): Promise<void>;
}

/**
 * One durable consumer per stream hands each event to both handlers: the audit records every domain event (not
 * `secret.*`), the email queue takes the types that ask for an email. Both are idempotent by unique key (email:
 * event id + template, audit: event id), so a redelivery — after either failed — never duplicates anything. Up to 32
 * events of a stream at once, but those that ask for an email about one entity (an order, a user) one after another
 * in stream order: an order's emails are queued in the order of its events. The others are only audited, which
 * does not depend on their order (the log is read by occurrence time): they are not held behind each other. A sale's
 * stock events, all about one product, would otherwise each wait for the previous one's audit write.
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
  const audited = new Set<string>(DOMAINS);
  await bus.consume({
    durable: DURABLE.events,
    replaces: REPLACED_DURABLES,
    // One wildcard filter per stream rather than one per type: multi-filter consumers need NATS ≥ 2.10.
    // `secret.>`: the work-queue stream of link tokens; this is its only consumer (acked = deleted from the broker).
    subjects: [...DOMAINS.map((d) => `${d}.>`), 'secret.>'],
    // The store writes the audit records that arrive together in one statement.
    concurrency: 32,
    orderKey: (event) => (emailTypes.has(event.type) ? subjectOf(event) : undefined),
    handler: track(async (event) => {
      await Promise.all([
        audited.has(event.type.split('.')[0]) ? deps.audit.record(event) : undefined,
        emailTypes.has(event.type) ? deps.emails.handleEvent(event) : undefined,
      ]);
    }),
  });

  return {
    async stop() {
      stopping = true;
      await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * Stores the log batches every process ships on `logs.<service>` (stream `<prefix>_LOGS`, a work queue: acked
 * batches leave the broker). One batch = one insert; a batch that fails is redelivered (NATS_RETRY_BACKOFF_MS), and
 * its line ids (`<batch id>:<n>`) make the second insert a no-op; after NATS_MAX_DELIVER failures it is dead-lettered
 * like any event (README "Dead letters"). Nothing here logs per batch: its own lines would be shipped back to it.
 */
export async function startLogConsumer(
  bus: Bus,
  prefix: string,
  deps: { logs: LogService; logger?: Logger },
): Promise<Consumers> {
  const stream = logStreamName(prefix);
  await ensureLogStream(bus.jsm, prefix);
  const config = {
    durable_name: DURABLE.logs,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(30_000),
    max_deliver: serverMaxDeliver(bus.retry),
    filter_subject: bus.subject('logs.>'),
  };
  await bus.jsm.consumers.add(stream, config).catch(async (err) => {
    // Made by an earlier version with another max_deliver: its editable settings follow this one's.
    if (!/already exists|already in use/i.test(String(err))) throw err;
    await bus.jsm.consumers.update(stream, DURABLE.logs, { max_deliver: config.max_deliver });
  });
  const consumer = await bus.js.consumers.get(stream, DURABLE.logs);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 16 });
  let failures = 0;
  const loop = (async () => {
    for await (const m of messages) {
      const batchId = m.headers?.get('Nats-Msg-Id') || `${stream}-${m.seq}`;
      const service = m.subject.split('.').pop() ?? 'unknown';
      try {
        // The spare delivery (serverMaxDeliver): the last allowed one never finished; not stored again.
        if (m.info.redeliveryCount > bus.retry.maxDeliver) throw new Error('the last delivery did not finish');
        await deps.logs.ingest(batchId, m.string(), service);
        m.ack();
        failures = 0;
      } catch (err) {
        // Warn once per outage, not per batch (the warning is itself shipped here).
        if (failures++ === 0) deps.logger?.warn({ err: String(err) }, 'log batch not stored; will retry');
        await bus.failDelivery(m, DURABLE.logs, err);
      }
    }
  })().catch((err) => deps.logger?.error({ err }, 'log consumer loop ended'));
  return {
    async stop() {
      await messages.close();
      await loop;
    },
  };
}
