import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Bus, EventEnvelope, makeEvent } from './bus';
import { executePrepared, OutboxEvent, pgArray, pipelinedTransaction, ProcessedEvent } from './db';
import type { Logger } from './logger';
import { SECRET_FIELDS } from './events';
import { currentOrigin } from './message-context';
import { scrapeGauge } from './metrics';

/** An outbox row as the table stores it (snake_case columns), e.g. for `jsonb_populate_recordset(NULL::outbox, …)`. */
export interface OutboxRow {
  id: string;
  subject: string;
  payload: EventEnvelope;
  created_at: string;
  traceparent: string | null;
  tracestate: string | null;
  request_id: string | null;
}

/**
 * The outbox row of a new event, in the trace and under the request id of the current request: what `enqueueEvent`
 * persists, for a writer that inserts its rows with plain SQL in its own transaction.
 */
export function outboxRow<T extends object>(type: string, data: T): OutboxRow {
  const event = makeEvent(type, data);
  const origin = currentOrigin();
  return {
    id: event.id,
    subject: type,
    payload: event as EventEnvelope,
    created_at: event.occurredAt,
    traceparent: origin.traceparent ?? null,
    tracestate: origin.tracestate ?? null,
    request_id: origin.requestId ?? null,
  };
}

/**
 * Adds an event to the outbox inside the caller's unit of work: it commits or rolls back together with the
 * state change it announces. The relay publishes it later with `Nats-Msg-Id` = its id, in the trace and under the
 * request id of the request that wrote it (stored with the row).
 */
export function enqueueEvent<T extends object>(em: EntityManager, type: string, data: T): EventEnvelope<T> {
  const row = outboxRow(type, data);
  em.persist(
    em.create(OutboxEvent, {
      id: row.id,
      subject: row.subject,
      payload: row.payload as unknown as Record<string, unknown>,
      createdAt: new Date(row.created_at),
      traceparent: row.traceparent,
      tracestate: row.tracestate,
      requestId: row.request_id,
    }),
  );
  return row.payload as EventEnvelope<T>;
}

/**
 * The scheduling every outbox relay shares: a poll timer, `kick()` after a commit so events leave at once, at most
 * one pass running with one more queued, and a stop that waits for the pass in flight. Subclasses say how a pass
 * publishes (`flush`) and may say how a poll sees that there is nothing to publish (`pending`): most polls find the
 * outbox empty, and one cheap read then replaces a whole pass.
 */
export abstract class PollingRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private again = false;
  private stopped = false;

  constructor(
    protected readonly logger?: Logger,
    private readonly pollMs = 250,
  ) {}

  /** Publishes every pending event; resolves with how many were published. */
  abstract flush(): Promise<number>;

  /** Whether a poll should run a pass (a kick always does). By default every poll does. */
  protected async pending(): Promise<boolean> {
    return true;
  }

  /** Starts polling; calling it while running changes nothing. */
  start(): void {
    this.stopped = false;
    if (this.timer) return;
    this.timer = setInterval(() => this.pass(true), this.pollMs);
    this.timer.unref();
  }

  /** Run a relay pass now (call after a commit that enqueued events, so they go out without waiting for the poll). */
  kick(): void {
    this.pass(false);
  }

  /** Whether it has been stopped (and not started again). */
  protected get isStopped(): boolean {
    return this.stopped;
  }

  /** One pass: by default a poll runs `flush` when `pending` says so, a kick always. */
  protected async passWork(poll: boolean): Promise<number> {
    return poll ? ((await this.pending()) ? this.flush() : 0) : this.flush();
  }

  protected pass(poll: boolean): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.passWork(poll)
      .catch((err) => this.logger?.warn({ err: String(err) }, 'outbox relay pass failed; will retry'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.pass(false);
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

type Origin = { [K in 'traceparent' | 'tracestate']: string | null };

/** jsonb operators removing every secret field of an event's data (`data.token`, …): `payload #- '{data,token}' …`. */
const SCRUB = [...SECRET_FIELDS].map((f) => `#- '{data,${f}}'`).join(' ');

/**
 * Publishes committed outbox rows in order. Two ways:
 *
 * - **By its writer, right after the commit** (`publishCommitted`): the rows are published as the writer has them and
 *   then marked in one `UPDATE` — no claim, no transaction. The checkout's writers (the order, the stock commit) do
 *   this: a claiming pass costs two round trips and a locking statement more.
 * - **Claimed** (`kick` after a commit, and the poll): rows are claimed with SKIP LOCKED so several instances can
 *   relay without publishing a row twice at once. A poll leaves rows younger than `graceMs` to their writers (a poll
 *   claiming a row its writer is publishing would publish it twice), unless a publish of this relay failed.
 *
 * Either way a crash between publish and mark is covered by the stream's dedupe window (10 minutes, far longer than
 * the grace), and a row whose writer died before publishing it is claimed by any instance's poll after the grace.
 */
export class OutboxRelay extends PollingRelay {
  /** Rows handed over by their writers, waiting for the next pass. */
  private direct: OutboxRow[] = [];
  /** A kick asked for a claiming pass, or a publish failed (its rows wait in the table): the next pass claims. */
  private claimWanted = false;
  /** When a poll last looked for rows left past the grace (their writer died, or handed them to no relay). */
  private lastOrphanCheck = 0;

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: Bus,
    logger?: Logger,
    pollMs = 250,
    private readonly graceMs = 10_000,
  ) {
    super(logger, pollMs);
  }

  override kick(): void {
    this.claimWanted = true;
    super.kick();
  }

  /**
   * Publishes rows the caller has just committed (its own outbox rows, as it wrote them), in the next pass — right
   * away unless one is running. Nothing is lost if this process dies first: the rows are in the table, and a poll
   * claims them after the grace. While stopped it does nothing (a claiming pass publishes them later).
   */
  publishCommitted(rows: OutboxRow[]): void {
    if (!rows.length || this.isStopped) return;
    this.direct.push(...rows);
    this.pass(false);
  }

  /** Stops polling; rows handed over and not published yet get one last attempt (else a poll claims them later). */
  override async stop(): Promise<void> {
    await super.stop();
    if (this.direct.length)
      await this.publishDirect().catch((err) =>
        this.logger?.warn({ err: String(err) }, 'outbox rows not published at stop; a relay claims them later'),
      );
  }

  protected override async passWork(poll: boolean): Promise<number> {
    let n = 0;
    if (this.direct.length) n += await this.publishDirect();
    if (poll ? await this.pending() : this.claimWanted) n += await this.flush();
    return n;
  }

  /**
   * One read outside any transaction (the partial index answers it): is any row unpublished past the grace? With no
   * failed publish to retry, only every `graceMs / 4`: the rows it looks for are older than the grace anyway, and an
   * idle service then makes one query every few seconds instead of four a second.
   */
  protected override async pending(): Promise<boolean> {
    const all = this.claimWanted;
    if (!all) {
      const now = Date.now();
      if (now - this.lastOrphanCheck < this.graceMs / 4) return false;
      this.lastOrphanCheck = now;
    }
    const [row] = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ any: boolean }[]>(
        `SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL ${all ? '' : 'AND created_at < ?'}) AS any`,
        all ? [] : [new Date(Date.now() - this.graceMs)],
      );
    return !!row?.any;
  }

  /** The rows handed over since the last pass: published, then marked in one statement. */
  private async publishDirect(): Promise<number> {
    const rows = this.direct;
    this.direct = [];
    try {
      await this.publishRows(rows);
    } catch (err) {
      // They wait in the table, unpublished; the next pass claims them.
      this.claimWanted = true;
      throw err;
    }
    // Rows a claiming pass took in the meantime (another instance's) are marked already: the condition skips them.
    // Prepared, the ids one array parameter: one text (and one plan per connection) for any number of rows.
    await executePrepared(this.orm, {
      text: `UPDATE outbox SET published_at = now(), payload = payload ${SCRUB} WHERE id = ANY(?::uuid[]) AND published_at IS NULL`,
      params: [pgArray(rows.map((r) => r.id))],
    });
    return rows.length;
  }

  /**
   * One chain per stream (the domain: `order.*`, `payment.*`), in the given order: a stream's next event is sent only
   * once the previous one is acked, so a failure never lets a later event overtake it in the order its consumers read;
   * streams are consumed independently, so their chains run side by side. Every chain finishes before this throws.
   */
  private async publishRows(
    rows: ({ payload: EventEnvelope; request_id: string | null } & Partial<Origin>)[],
  ): Promise<void> {
    const chains = new Map<string, typeof rows>();
    for (const row of rows) {
      const stream = String(row.payload.type).split('.')[0];
      const chain = chains.get(stream);
      if (chain) chain.push(row);
      else chains.set(stream, [row]);
    }
    const results = await Promise.allSettled(
      [...chains.values()].map(async (chain) => {
        for (const row of chain) {
          // Published as part of the request that wrote the row, not of this background pass.
          const origin = {
            traceparent: row.traceparent ?? undefined,
            tracestate: row.tracestate ?? undefined,
            requestId: row.request_id ?? undefined,
          };
          await this.bus.publish(row.payload, { timeoutMs: 3000, origin });
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Claims and publishes every pending row; resolves when the outbox is empty (or throws when the broker is unreachable). */
  override async flush(batch = 100): Promise<number> {
    this.claimWanted = false;
    try {
      return await this.claimAll(batch);
    } catch (err) {
      // What is left waits in the table: the next pass claims, and polls do not wait for the grace.
      this.claimWanted = true;
      throw err;
    }
  }

  private async claimAll(batch: number): Promise<number> {
    let total = 0;
    for (;;) {
      // BEGIN travels with the claim and COMMIT goes alone: two round trips per pass (pipelinedTransaction).
      const n = await pipelinedTransaction(this.orm, async (tx) => {
        // Claims and marks the batch in one statement (rows as they were, secrets included, for publishing); the
        // transaction stays open while they are published, so a failed publish rolls the marking back. Published rows
        // keep no secret: the broker has it now (and drops it once delivered), the outbox need not. Rows handed over
        // by their writers and waiting for the next pass are left to it.
        const waiting = this.direct.map((r) => r.id);
        const [claimed] = await tx.send({
          text: `WITH claimed AS (
              SELECT id, payload, traceparent, tracestate, request_id, created_at FROM outbox
              WHERE published_at IS NULL ${waiting.length ? `AND id NOT IN (${waiting.map(() => '?').join(', ')})` : ''}
              ORDER BY created_at, id LIMIT ? FOR UPDATE SKIP LOCKED
            ), marked AS (
              UPDATE outbox o SET published_at = now(), payload = o.payload ${SCRUB} FROM claimed c WHERE o.id = c.id
            )
            SELECT id, payload, traceparent, tracestate, request_id FROM claimed ORDER BY created_at, id`,
          params: [...waiting, batch],
        });
        const rows = claimed as unknown as ({
          id: string;
          payload: EventEnvelope;
          request_id: string | null;
        } & Origin)[];
        // Every chain has finished before the marking rolls back: what was published is deduplicated when retried.
        await this.publishRows(rows);
        return rows.length;
      });
      total += n;
      if (n < batch) return total;
    }
  }
}

/**
 * Runs `fn` at most once per (consumer, event id): the processed-id row is inserted in the same transaction
 * as the effect, so a redelivered event finds it and does nothing. Returns false for a duplicate.
 */
export async function processOnce(
  orm: MikroORM,
  consumer: string,
  eventId: string,
  fn: (em: EntityManager) => Promise<void>,
): Promise<boolean> {
  return orm.em.fork().transactional(async (em) => {
    const res = await em
      .getConnection()
      .execute(
        `INSERT INTO processed_event (consumer, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING event_id`,
        [consumer, eventId],
        'all',
        em.getTransactionContext(),
      );
    if (!res.length) return false;
    await fn(em);
    return true;
  });
}
export { ProcessedEvent };

/**
 * `shop_outbox_pending_rows{service}` at every scrape: events committed and not yet published. `count` reads the
 * service's outbox (`countUnpublished` for the kernel's table). Returns the function that stops reporting it.
 */
export function reportOutboxBacklog(service: string, count: () => Promise<number>): () => void {
  return scrapeGauge({
    name: 'shop_outbox_pending_rows',
    help: 'Outbox rows committed and not yet published to NATS (read at scrape time), by service.',
    labelNames: ['service'] as const,
  }).add(async () => [[{ service }, await count()]]);
}

/** Unpublished rows of the kernel's outbox table (its partial index keeps this cheap). */
export async function countUnpublished(orm: MikroORM): Promise<number> {
  const [row] = await orm.em
    .fork()
    .getConnection()
    .execute<{ n: number }[]>(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`);
  return row?.n ?? 0;
}
