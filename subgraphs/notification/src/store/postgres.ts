import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Config, createOrm, executePrepared, GroupCommit, Logger, migrate, pipelinedTransaction } from '@shop/kernel';
import { NOTIFICATION_MIGRATIONS } from '../migrations';
import type {
  AuditQuery,
  AuditRecord,
  AuditStore,
  ClaimedEmail,
  EmailQuery,
  EmailRecord,
  EmailStatus,
  EmailStore,
  LogFilter,
  LogQuery,
  LogRecord,
  LogStore,
  NewEmail,
  NotificationStores,
  Page,
} from './types';

interface EmailRow {
  id: string;
  event_id: string;
  template: string;
  to_address: string;
  subject: string;
  status: EmailStatus;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date;
  created_at: Date;
  sent_at: Date | null;
  claim_id?: string | null;
  body_html?: string | null;
  body_text?: string | null;
  traceparent?: string | null;
  tracestate?: string | null;
  request_id?: string | null;
}

interface AuditRow {
  id: string;
  type: string;
  subject: string;
  payload: string;
  occurred_at: Date;
  recorded_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EMAIL_COLUMNS =
  'id, event_id, template, to_address, subject, status, attempts, last_error, next_attempt_at, created_at, sent_at';

const toEmail = (r: EmailRow): EmailRecord => ({
  id: r.id,
  eventId: r.event_id,
  template: r.template,
  to: r.to_address,
  subject: r.subject,
  status: r.status,
  attempts: Number(r.attempts),
  lastError: r.last_error,
  nextAttemptAt: new Date(r.next_attempt_at),
  createdAt: new Date(r.created_at),
  sentAt: r.sent_at ? new Date(r.sent_at) : null,
});

const toAudit = (r: AuditRow): AuditRecord => ({
  id: r.id,
  type: r.type,
  subject: r.subject,
  payload: r.payload,
  occurredAt: new Date(r.occurred_at),
  recordedAt: new Date(r.recorded_at),
});

/** Plain SQL through the ORM's connection: the claim needs `FOR UPDATE SKIP LOCKED`, the rest is simple enough to read as SQL. */
class Sql {
  constructor(private readonly orm: MikroORM) {}
  rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.orm.em.getConnection().execute(sql, params as never[], 'all') as Promise<T[]>;
  }
  /** A statement run for every event or email: planned once per connection (the kernel's executePrepared). */
  prepared<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return executePrepared<T>(this.orm, { text: sql, params });
  }
  /** One prepared statement once per parameter list, all in one transaction and one round trip; rows per list. */
  preparedEach<T>(sql: string, paramLists: unknown[][]): Promise<T[][]> {
    return pipelinedTransaction(
      this.orm,
      (tx) => tx.commit(...paramLists.map((params) => ({ text: sql, params, prepare: true }))) as Promise<T[][]>,
    );
  }
}

/** `WHERE` clause and parameters from equality filters plus an optional keyset position `(at, id) < (…)`. */
function where(
  filters: [string, unknown][],
  keyset?: { column: string; at: Date; id: string },
): { clause: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [column, value] of filters) {
    if (value === undefined) continue;
    parts.push(`${column} = ?`);
    params.push(value);
  }
  if (keyset) {
    parts.push(`(${keyset.column}, id) < (?, ?)`);
    params.push(keyset.at, keyset.id);
  }
  return { clause: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export class PgEmailStore implements EmailStore {
  constructor(private readonly sql: Sql) {}

  /**
   * Group-committed (the kernel's GroupCommit): the emails queued while one inserting statement runs are inserted
   * together by the next — under a sale's load the consumer queues confirmations close together. Each caller learns
   * whether its own row was new, or gets the one already queued for its event and template.
   */
  enqueue(e: NewEmail): Promise<{ created: boolean; email: EmailRecord }> {
    return this.queued.submit(e);
  }

  private readonly queued = new GroupCommit<NewEmail, { created: boolean; email: EmailRecord }>(
    async (all) => {
      const inserted = await this.sql.prepared<EmailRow>(
        `INSERT INTO emails (id, event_id, template, to_address, subject, body_html, body_text, status, attempts, next_attempt_at, created_at, traceparent, tracestate, request_id, claim_id)
       SELECT id, event_id, template, to_address, subject, body_html, body_text, 'QUEUED', 0, next_attempt_at, created_at, traceparent, tracestate, request_id, claim_id
       FROM jsonb_to_recordset(?::jsonb) AS r(id uuid, event_id text, template text, to_address text, subject text,
         body_html text, body_text text, next_attempt_at timestamptz, created_at timestamptz, traceparent text,
         tracestate text, request_id text, claim_id uuid, ord int)
       ORDER BY ord
       ON CONFLICT (event_id, template) DO NOTHING
       RETURNING ${EMAIL_COLUMNS}`,
        [
          JSON.stringify(
            all.map((e, ord) => ({
              id: e.id,
              event_id: e.eventId,
              template: e.template,
              to_address: e.to,
              subject: e.subject,
              body_html: e.html,
              body_text: e.text,
              next_attempt_at: (e.claim?.until ?? e.createdAt).toISOString(),
              created_at: e.createdAt.toISOString(),
              traceparent: e.origin?.traceparent ?? null,
              tracestate: e.origin?.tracestate ?? null,
              request_id: e.origin?.requestId ?? null,
              claim_id: e.claim?.claimId ?? null,
              ord,
            })),
          ),
        ],
      );
      const created = new Map(inserted.map((r) => [r.id, toEmail(r)]));
      // A redelivered event (or one handled twice in this batch) finds the row queued before: it is answered with it.
      const twins = all.filter((e) => !created.has(e.id));
      const existing = new Map<string, EmailRecord>();
      if (twins.length) {
        const rows = await this.sql.rows<EmailRow>(
          `SELECT ${EMAIL_COLUMNS} FROM emails e
         WHERE (e.event_id, e.template) IN (SELECT * FROM jsonb_to_recordset(?::jsonb) AS r(event_id text, template text))`,
          [JSON.stringify(twins.map((e) => ({ event_id: e.eventId, template: e.template })))],
        );
        for (const r of rows) existing.set(`${r.event_id}\n${r.template}`, toEmail(r));
      }
      return all.map((e) =>
        created.has(e.id)
          ? { created: true, email: created.get(e.id)! }
          : { created: false, email: existing.get(`${e.eventId}\n${e.template}`)! },
      );
    },
    { afterTurn: true },
  );

  async claimDue(limit: number, now: Date, leaseMs: number): Promise<ClaimedEmail[]> {
    const claimId = randomUUID();
    // One statement: rows another instance is claiming right now are skipped, not waited for.
    const rows = await this.sql.prepared<EmailRow>(
      `UPDATE emails e SET claim_id = ?, next_attempt_at = ?
       FROM (SELECT id FROM emails WHERE status IN ('QUEUED', 'FAILED') AND next_attempt_at <= ?
             ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED) due
       WHERE e.id = due.id
       RETURNING e.*`,
      [claimId, new Date(now.getTime() + leaseMs), now, limit],
    );
    return rows.map((r) => ({
      ...toEmail(r),
      claimId,
      html: r.body_html ?? '',
      text: r.body_text ?? '',
      origin: {
        traceparent: r.traceparent ?? undefined,
        tracestate: r.tracestate ?? undefined,
        requestId: r.request_id ?? undefined,
      },
    }));
  }

  /**
   * Group-committed (the kernel's GroupCommit): the emails sent while one marking statement runs are marked together
   * by the next — a sender keeps up to a batch of emails in flight, and they finish close together. Each caller
   * learns whether its own row still had its claim.
   */
  markSent(id: string, claimId: string, sentAt: Date): Promise<boolean> {
    return this.sent.submit({ id, claimId, sentAt });
  }

  private readonly sent = new GroupCommit<{ id: string; claimId: string; sentAt: Date }, boolean>(async (all) => {
    // A malformed id would fail the whole statement, and with it the other callers' marks: it matches no row anyway.
    // In id order, so that two instances' batches (each other's expired claims) cannot lock two rows in opposite orders.
    const batch = all.filter((m) => UUID.test(m.id) && UUID.test(m.claimId)).sort((a, b) => (a.id < b.id ? -1 : 1));
    if (!batch.length) return all.map(() => false);
    // An UPDATE by primary key per email, all in one transaction and one round trip. Not one UPDATE joined to the batch
    // (jsonb_to_recordset): the planner takes a function's rows for 100 and joined them by hashing a sequential scan of
    // the whole table, below some 30,000 rows, and a prepared plan keeps that shape on its connection: every mark
    // read every email ever queued (in one bench run, 1,473 scans of 3.4 million rows in all).
    const results = await this.sql.preparedEach<{ id: string }>(
      `UPDATE emails SET status = 'SENT', sent_at = ?, attempts = attempts + 1, claim_id = NULL, body_html = NULL, body_text = NULL
       WHERE id = ? AND claim_id = ? RETURNING id`,
      batch.map((m) => [m.sentAt, m.id, m.claimId]),
    );
    const marked = new Set(batch.filter((_, i) => results[i].length > 0));
    return all.map((m) => marked.has(m));
  });

  async markFailed(id: string, claimId: string, error: string, retryAt: Date | null): Promise<boolean> {
    const rows = retryAt
      ? await this.sql.rows(
          `UPDATE emails SET status = 'FAILED', attempts = attempts + 1, last_error = ?, next_attempt_at = ?, claim_id = NULL
           WHERE id = ? AND claim_id = ? RETURNING id`,
          [error, retryAt, id, claimId],
        )
      : await this.sql.rows(
          `UPDATE emails SET status = 'DEAD', attempts = attempts + 1, last_error = ?, claim_id = NULL, body_html = NULL, body_text = NULL
           WHERE id = ? AND claim_id = ? RETURNING id`,
          [error, id, claimId],
        );
    return rows.length > 0;
  }

  async get(id: string): Promise<EmailRecord | null> {
    const [row] = await this.sql.rows<EmailRow>(`SELECT ${EMAIL_COLUMNS} FROM emails WHERE id = ?`, [id]);
    return row ? toEmail(row) : null;
  }

  async list(q: EmailQuery): Promise<Page<EmailRecord>> {
    const filters: [string, unknown][] = [
      ['to_address', q.to],
      ['status', q.status],
    ];
    const page = where(filters, q.after && { column: 'created_at', ...q.after });
    const all = where(filters);
    const [rows, [count]] = await Promise.all([
      this.sql.rows<EmailRow>(
        `SELECT ${EMAIL_COLUMNS} FROM emails ${page.clause} ORDER BY created_at DESC, id DESC LIMIT ?`,
        [...page.params, q.limit],
      ),
      this.sql.rows<{ n: number }>(`SELECT count(*)::int AS n FROM emails ${all.clause}`, all.params),
    ]);
    return { rows: rows.map(toEmail), totalCount: Number(count.n) };
  }

  async countByStatus(): Promise<Partial<Record<EmailStatus, number>>> {
    const rows = await this.sql.rows<{ status: EmailStatus; n: number }>(
      `SELECT status, count(*)::int AS n FROM emails GROUP BY status`,
    );
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}

export class PgAuditStore implements AuditStore {
  constructor(private readonly sql: Sql) {}

  /**
   * Group-committed (the kernel's GroupCommit): the records that arrive while one inserting statement runs are
   * written together by the next (the consumer handles many events at once: a checkout brings four); each caller
   * learns whether its own row was new, or gets its own row's error.
   */
  async record(a: AuditRecord): Promise<boolean> {
    const outcome = await this.recorded.submit(a);
    if (typeof outcome !== 'boolean') throw outcome.error;
    return outcome;
  }

  // afterTurn: a socket read delivers several events at once; they go together even when no insert is running.
  private readonly recorded = new GroupCommit<AuditRecord, boolean | { error: unknown }>(
    (batch) => this.insert(batch),
    {
      afterTurn: true,
    },
  );

  private async insert(batch: AuditRecord[]): Promise<(boolean | { error: unknown })[]> {
    try {
      const rows = await this.sql.prepared<{ id: string }>(
        `INSERT INTO audit_events (id, type, subject, payload, occurred_at, recorded_at)
         SELECT id, type, subject, payload, occurred_at, recorded_at
         FROM jsonb_to_recordset(?::jsonb)
           AS r(id text, type text, subject text, payload text, occurred_at timestamptz, recorded_at timestamptz)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [
          JSON.stringify(
            batch.map((a) => ({
              id: a.id,
              type: a.type,
              subject: a.subject,
              payload: a.payload,
              occurred_at: a.occurredAt.toISOString(),
              recorded_at: a.recordedAt.toISOString(),
            })),
          ),
        ],
      );
      const created = new Set(rows.map((r) => r.id));
      // The same event twice in one batch: the first caller's row is the new one.
      return batch.map((a) => created.delete(a.id));
    } catch (error) {
      // Each record is a message of its own, redelivered and in the end dead-lettered when its write fails: one
      // refused row must not fail the rest of its batch, so a failed batch is written again row by row.
      if (batch.length === 1) return [{ error }];
      return (await Promise.all(batch.map((a) => this.insert([a])))).flat();
    }
  }

  async list(q: AuditQuery): Promise<Page<AuditRecord>> {
    const filters: [string, unknown][] = [['type', q.type]];
    const page = where(filters, q.after && { column: 'occurred_at', ...q.after });
    const all = where(filters);
    const [rows, [count]] = await Promise.all([
      this.sql.rows<AuditRow>(`SELECT * FROM audit_events ${page.clause} ORDER BY occurred_at DESC, id DESC LIMIT ?`, [
        ...page.params,
        q.limit,
      ]),
      this.sql.rows<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events ${all.clause}`, all.params),
    ]);
    return { rows: rows.map(toAudit), totalCount: Number(count.n) };
  }
}

interface LogRow {
  id: string;
  time: Date;
  service: string;
  level: number;
  message: string;
  request_id: string | null;
  trace_id: string | null;
  fields: Record<string, unknown> | null;
}

const toLog = (r: LogRow): LogRecord => ({
  id: r.id,
  time: new Date(r.time),
  service: r.service,
  level: Number(r.level),
  message: r.message,
  requestId: r.request_id,
  traceId: r.trace_id,
  fields: r.fields,
});

/** `LIKE` pattern matching `text` literally anywhere. */
const contains = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function logWhere(f: LogFilter, keyset?: { at: Date; id: string }): { clause: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    if (value === undefined) return;
    parts.push(sql);
    params.push(value);
  };
  add('service = ?', f.service);
  add('level >= ?', f.minLevel);
  add('request_id = ?', f.requestId);
  add('trace_id = ?', f.traceId);
  add('time >= ?', f.since);
  add('time < ?', f.until);
  add('message ILIKE ?', f.search === undefined ? undefined : contains(f.search));
  if (keyset) {
    parts.push('(time, id) < (?, ?)');
    params.push(keyset.at, keyset.id);
  }
  return { clause: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export class PgLogStore implements LogStore {
  constructor(private readonly sql: Sql) {}

  async insertMany(lines: LogRecord[]): Promise<number> {
    if (!lines.length) return 0;
    // One statement per batch: the rows travel as one JSON parameter.
    const rows = await this.sql.rows<{ n: number }>(
      `WITH inserted AS (
         INSERT INTO log_entry (id, time, service, level, message, request_id, trace_id, fields)
         SELECT id, time, service, level, message, request_id, trace_id, fields
         FROM jsonb_to_recordset(?::jsonb)
           AS r(id text, time timestamptz, service text, level smallint, message text, request_id text, trace_id text, fields jsonb)
         ON CONFLICT (id) DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS n FROM inserted`,
      [
        JSON.stringify(
          lines.map((l) => ({
            id: l.id,
            time: l.time.toISOString(),
            service: l.service,
            level: l.level,
            message: l.message,
            request_id: l.requestId,
            trace_id: l.traceId,
            fields: l.fields,
          })),
        ),
      ],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async list(q: LogQuery): Promise<LogRecord[]> {
    const w = logWhere(q, q.after);
    const rows = await this.sql.rows<LogRow>(
      `SELECT * FROM log_entry ${w.clause} ORDER BY time DESC, id DESC LIMIT ?`,
      [...w.params, q.limit],
    );
    return rows.map(toLog);
  }

  async count(f: LogFilter): Promise<number> {
    const w = logWhere(f);
    const [row] = await this.sql.rows<{ n: number }>(`SELECT count(*)::int AS n FROM log_entry ${w.clause}`, w.params);
    return Number(row.n);
  }

  async deleteOlderThan(cutoff: Date, batch = 10_000): Promise<number> {
    let total = 0;
    for (;;) {
      // SKIP LOCKED: instances purging at the same time take disjoint rows instead of waiting on each other.
      const [row] = await this.sql.rows<{ n: number }>(
        `WITH gone AS (
           DELETE FROM log_entry WHERE id IN (
             SELECT id FROM log_entry WHERE time < ? ORDER BY time LIMIT ? FOR UPDATE SKIP LOCKED)
           RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [cutoff, batch],
      );
      const n = Number(row.n);
      total += n;
      if (n < batch) return total;
    }
  }
}

/** PostgreSQL stores in the subgraph's own database `<prefix>_notification`. */
export async function openPostgresStores(
  config: Config,
  logger?: Logger,
): Promise<NotificationStores & { orm: MikroORM }> {
  const orm = await createOrm({
    config,
    service: 'notification',
    entities: [],
    migrations: NOTIFICATION_MIGRATIONS,
    logger,
  });
  const sql = new Sql(orm);
  return {
    kind: 'postgres',
    orm,
    emails: new PgEmailStore(sql),
    audit: new PgAuditStore(sql),
    logs: new PgLogStore(sql),
    migrate: () => migrate(orm, logger),
    async ping() {
      await sql.rows('SELECT 1');
    },
    close: () => orm.close(true),
  };
}
