import { Connection, EventEnvelope, redactSecrets } from '@shop/kernel';
import type { AuditRecord, AuditStore } from '../store';
import { connectionOf, parseKeyset } from './pagination';

/**
 * The id of the entity an event is about: `<domain>Id` (userId for user.*, orderId for order.*, …) first, then
 * `id`, then any other `…Id` field; empty when the event names none.
 */
export function subjectOf(event: EventEnvelope): string {
  const data = (event.data ?? {}) as Record<string, unknown>;
  const domain = event.type.split('.')[0];
  const candidates = [
    `${domain}Id`,
    'id',
    ...Object.keys(data)
      .filter((k) => /Id$/.test(k))
      .sort(),
  ];
  for (const key of candidates) {
    const v = data[key];
    if (typeof v === 'string' && v !== '') return v;
  }
  return '';
}

/** Records every domain event once; the payload is stored with secrets (link tokens, passwords) redacted. */
export class AuditService {
  constructor(private readonly store: AuditStore) {}

  async record(event: EventEnvelope): Promise<boolean> {
    const occurredAt = new Date(event.occurredAt);
    const now = new Date();
    return this.store.record({
      id: event.id,
      type: event.type,
      subject: subjectOf(event),
      payload: JSON.stringify(redactSecrets(event.data ?? {})),
      occurredAt: Number.isNaN(occurredAt.getTime()) ? now : occurredAt,
      recordedAt: now,
    });
  }

  async list(args: { first: number; after?: string | null; type?: string | null }): Promise<Connection<AuditRecord>> {
    const page = await this.store.list({
      limit: args.first + 1,
      after: parseKeyset(args.after),
      type: args.type ?? undefined,
    });
    return connectionOf(page, args.first, (a) => a.occurredAt);
  }
}
