import type { Bus } from '@shop/kernel';
import type { BuyerDirectory } from '../service/buyers';

/** Durable consumer name: all instances share one position; restarts resume where it left off. */
export const BUYERS_DURABLE = 'order-buyers';

/**
 * The user subgraph's events into the buyer directory (service/buyers.ts). One wildcard filter (`user.>`: multi-filter
 * consumers need NATS ≥ 2.10); the types without a contact are acked and ignored. A user's events one after another
 * in stream order, different users side by side. A write that fails is retried (NATS_RETRY_BACKOFF_MS), then
 * dead-lettered like any event.
 */
export async function startBuyerConsumer(bus: Bus, buyers: BuyerDirectory): Promise<void> {
  await bus.consume({
    durable: BUYERS_DURABLE,
    subjects: ['user.>'],
    concurrency: 8,
    orderKey: (event) => String((event.data as { userId?: unknown } | undefined)?.userId ?? ''),
    handler: (event) => buyers.apply(event),
  });
}
