import type { JetStreamManager, JsMsg, NatsConnection } from 'nats';
import { counter, scrapeGauge } from './metrics';

/**
 * NATS metrics of the Bus (lib/src/bus.ts calls these, one line each): events published, messages consumed by
 * outcome, redeliveries, and each durable consumer's backlog read from JetStream at scrape time. Label values are
 * bounded: event types and durable names are the code's own, `service` is the Bus's connection name.
 */
const services = new WeakMap<object, string>();

const published = () =>
  counter<'service' | 'type'>({
    name: 'shop_nats_published_total',
    help: 'Events published to JetStream and acknowledged by the server (duplicates included), by event type.',
    labelNames: ['service', 'type'],
  });
const consumed = () =>
  counter<'service' | 'consumer' | 'outcome'>({
    name: 'shop_nats_consumed_total',
    help: 'JetStream messages handled by a durable consumer, by outcome: ack (done), retry (nak, redelivered later), dead_letter (given up: copied to the DLQ stream and acked).',
    labelNames: ['service', 'consumer', 'outcome'],
  });
const redelivered = () =>
  counter<'service' | 'consumer'>({
    name: 'shop_nats_redelivered_total',
    help: 'JetStream messages delivered again (after a nak or an ack timeout).',
    labelNames: ['service', 'consumer'],
  });
const pending = () =>
  scrapeGauge({
    name: 'shop_nats_consumer_pending_messages',
    help: 'Messages of the stream not yet delivered to the durable consumer (JetStream consumer info at scrape time).',
    labelNames: ['service', 'consumer'] as const,
  });
const ackPending = () =>
  scrapeGauge({
    name: 'shop_nats_consumer_ack_pending_messages',
    help: 'Messages delivered to the durable consumer and not yet acknowledged (JetStream consumer info at scrape time).',
    labelNames: ['service', 'consumer'] as const,
  });

const serviceOf = (bus: object) => services.get(bus) ?? 'unknown';

/** Names a Bus's metrics after its connection name (the service). */
export function busConnected(bus: object, name: string | undefined): void {
  if (name) services.set(bus, name);
  published(); // listed from the start, before the first event
}

export function busPublished(bus: object, type: string): void {
  published().inc({ service: serviceOf(bus), type });
}

/** A message's delivery ended: `ack`, `retry` or `dead_letter`; a redelivered one also counts as a redelivery. */
export function busConsumed(bus: object, m: JsMsg, outcome: 'ack' | 'retry' | 'dead_letter'): void {
  const labels = { service: serviceOf(bus), consumer: m.info.consumer };
  consumed().inc({ ...labels, outcome });
  if (m.redelivered) redelivered().inc(labels);
}

/** Reports a durable consumer's backlog at every scrape while the connection is open. */
export function busConsumerStarted(
  bus: { nc: NatsConnection; jsm: JetStreamManager },
  stream: string,
  durable: string,
): void {
  const labels = { service: serviceOf(bus), consumer: durable };
  for (const outcome of ['ack', 'retry', 'dead_letter']) consumed().inc({ ...labels, outcome }, 0);
  redelivered().inc(labels, 0);
  let info: Promise<{ num_pending: number; num_ack_pending: number }> | undefined;
  // Both gauges read one consumer-info call per scrape.
  const read = () =>
    (info ??= bus.jsm.consumers.info(stream, durable).finally(() => setImmediate(() => (info = undefined))));
  const removers: (() => void)[] = [];
  const source = (field: 'num_pending' | 'num_ack_pending') => async () => {
    if (bus.nc.isClosed()) {
      removers.forEach((r) => r());
      return [];
    }
    return [[labels, (await read())[field]]] as [typeof labels, number][];
  };
  removers.push(pending().add(source('num_pending')), ackPending().add(source('num_ack_pending')));
}

const deadLetters = () =>
  scrapeGauge({
    name: 'shop_dlq_messages',
    help: 'Dead letters waiting in the DLQ stream (JetStream stream info at scrape time): messages a consumer gave up on.',
    labelNames: [] as const,
  });

/** Reports the DLQ stream's size at every scrape (the process hosting the admin API); the returned function stops it. */
export function reportDeadLetters(count: () => Promise<number>): () => void {
  return deadLetters().add(async () => [[{}, await count()]]);
}
