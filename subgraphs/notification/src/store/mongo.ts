import { randomUUID } from 'node:crypto';
import mongoose, { Connection, FilterQuery, Model, Schema } from 'mongoose';
import { Config, databaseName, Logger, MessageOrigin } from '@shop/kernel';
import {
  AuditQuery,
  AuditRecord,
  AuditStore,
  ClaimedEmail,
  EmailQuery,
  EmailRecord,
  EmailStatus,
  EmailStore,
  Keyset,
  LogFilter,
  LogQuery,
  LogRecord,
  LogStore,
  NewEmail,
  NotificationStores,
  Page,
} from './types';

interface EmailDoc {
  _id: string;
  eventId: string;
  template: string;
  to: string;
  subject: string;
  html: string | null;
  text: string | null;
  status: EmailStatus;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date;
  claimId: string | null;
  createdAt: Date;
  sentAt: Date | null;
  origin?: MessageOrigin;
}

interface AuditDoc {
  _id: string;
  type: string;
  subject: string;
  payload: string;
  occurredAt: Date;
  recordedAt: Date;
}

const emailSchema = new Schema<EmailDoc>(
  {
    _id: { type: String, required: true },
    eventId: { type: String, required: true },
    template: { type: String, required: true },
    to: { type: String, required: true },
    subject: { type: String, required: true },
    html: { type: String, default: null },
    text: { type: String, default: null },
    status: { type: String, enum: Object.values(EmailStatus), required: true },
    attempts: { type: Number, required: true, min: 0 },
    lastError: { type: String, default: null },
    nextAttemptAt: { type: Date, required: true },
    claimId: { type: String, default: null },
    createdAt: { type: Date, required: true },
    sentAt: { type: Date, default: null },
    origin: { type: Schema.Types.Mixed, default: undefined },
  },
  { collection: 'emails', versionKey: false, autoIndex: false },
);
// Idempotency: a redelivered event cannot create a second email.
emailSchema.index({ eventId: 1, template: 1 }, { unique: true });
emailSchema.index({ status: 1, nextAttemptAt: 1 });
emailSchema.index({ createdAt: -1, _id: -1 });
emailSchema.index({ to: 1, createdAt: -1, _id: -1 });
emailSchema.index({ status: 1, createdAt: -1, _id: -1 });

const auditSchema = new Schema<AuditDoc>(
  {
    _id: { type: String, required: true },
    type: { type: String, required: true },
    subject: { type: String, default: '' },
    payload: { type: String, required: true },
    occurredAt: { type: Date, required: true },
    recordedAt: { type: Date, required: true },
  },
  { collection: 'audit_events', versionKey: false, autoIndex: false },
);
auditSchema.index({ occurredAt: -1, _id: -1 });
auditSchema.index({ type: 1, occurredAt: -1, _id: -1 });

interface LogDoc {
  _id: string;
  time: Date;
  service: string;
  level: number;
  message: string;
  requestId: string | null;
  traceId: string | null;
  fields: Record<string, unknown> | null;
}

const logSchema = new Schema<LogDoc>(
  {
    _id: { type: String, required: true },
    time: { type: Date, required: true },
    service: { type: String, required: true },
    level: { type: Number, required: true },
    message: { type: String, default: '' },
    requestId: { type: String, default: null },
    traceId: { type: String, default: null },
    fields: { type: Schema.Types.Mixed, default: null },
  },
  // `minimize: false`: an empty fields object stays what it was.
  { collection: 'log_entries', versionKey: false, autoIndex: false, minimize: false },
);
logSchema.index({ time: -1, _id: -1 });
logSchema.index({ service: 1, time: -1, _id: -1 });
logSchema.index({ level: 1, time: -1, _id: -1 });
logSchema.index({ requestId: 1, time: -1 }, { partialFilterExpression: { requestId: { $type: 'string' } } });
logSchema.index({ traceId: 1, time: -1 }, { partialFilterExpression: { traceId: { $type: 'string' } } });

const DUPLICATE_KEY = 11000;
const isDuplicate = (err: unknown) => (err as { code?: number })?.code === DUPLICATE_KEY;

const toEmail = (d: EmailDoc): EmailRecord => ({
  id: d._id,
  eventId: d.eventId,
  template: d.template,
  to: d.to,
  subject: d.subject,
  status: d.status,
  attempts: d.attempts,
  lastError: d.lastError ?? null,
  nextAttemptAt: d.nextAttemptAt,
  createdAt: d.createdAt,
  sentAt: d.sentAt ?? null,
});

const toAudit = (d: AuditDoc): AuditRecord => ({
  id: d._id,
  type: d.type,
  subject: d.subject,
  payload: d.payload,
  occurredAt: d.occurredAt,
  recordedAt: d.recordedAt,
});

const toLog = (d: LogDoc): LogRecord => ({
  id: d._id,
  time: d.time,
  service: d.service,
  level: d.level,
  message: d.message ?? '',
  requestId: d.requestId ?? null,
  traceId: d.traceId ?? null,
  fields: d.fields ?? null,
});

/** Newest first by (field, _id): strictly before the cursor position. */
function before(field: string, k: Keyset | undefined): Record<string, unknown> {
  return k ? { $or: [{ [field]: { $lt: k.at } }, { [field]: k.at, _id: { $lt: k.id } }] } : {};
}

export class MongoEmailStore implements EmailStore {
  constructor(private readonly model: Model<EmailDoc>) {}

  async enqueue(e: NewEmail): Promise<{ created: boolean; email: EmailRecord }> {
    try {
      await this.model.create({
        _id: e.id,
        eventId: e.eventId,
        template: e.template,
        to: e.to,
        subject: e.subject,
        html: e.html,
        text: e.text,
        status: EmailStatus.QUEUED,
        attempts: 0,
        lastError: null,
        nextAttemptAt: e.claim?.until ?? e.createdAt,
        claimId: e.claim?.claimId ?? null,
        createdAt: e.createdAt,
        sentAt: null,
        origin: e.origin,
      });
      return { created: true, email: toEmail((await this.model.findById(e.id).lean<EmailDoc>())!) };
    } catch (err) {
      if (!isDuplicate(err)) throw err;
      const existing = await this.model.findOne({ eventId: e.eventId, template: e.template }).lean<EmailDoc>();
      return { created: false, email: toEmail(existing!) };
    }
  }

  async claimDue(limit: number, now: Date, leaseMs: number): Promise<ClaimedEmail[]> {
    const claimId = randomUUID();
    const claimed: ClaimedEmail[] = [];
    // Each findOneAndUpdate is atomic per document, so two instances never claim the same email at once.
    while (claimed.length < limit) {
      const doc = await this.model
        .findOneAndUpdate(
          { status: { $in: [EmailStatus.QUEUED, EmailStatus.FAILED] }, nextAttemptAt: { $lte: now } },
          { $set: { claimId, nextAttemptAt: new Date(now.getTime() + leaseMs) } },
          { sort: { nextAttemptAt: 1, _id: 1 }, returnDocument: 'after' },
        )
        .lean<EmailDoc>();
      if (!doc) break;
      claimed.push({ ...toEmail(doc), claimId, html: doc.html ?? '', text: doc.text ?? '', origin: doc.origin ?? {} });
    }
    return claimed;
  }

  async markSent(id: string, claimId: string, sentAt: Date): Promise<boolean> {
    const res = await this.model.updateOne(
      { _id: id, claimId },
      { $set: { status: EmailStatus.SENT, sentAt, claimId: null, html: null, text: null }, $inc: { attempts: 1 } },
    );
    return res.modifiedCount > 0;
  }

  async markFailed(id: string, claimId: string, error: string, retryAt: Date | null): Promise<boolean> {
    const set = retryAt
      ? { status: EmailStatus.FAILED, lastError: error, nextAttemptAt: retryAt, claimId: null }
      : { status: EmailStatus.DEAD, lastError: error, claimId: null, html: null, text: null };
    const res = await this.model.updateOne({ _id: id, claimId }, { $set: set, $inc: { attempts: 1 } });
    return res.modifiedCount > 0;
  }

  async get(id: string): Promise<EmailRecord | null> {
    const doc = await this.model.findById(id).lean<EmailDoc>();
    return doc ? toEmail(doc) : null;
  }

  async list(q: EmailQuery): Promise<Page<EmailRecord>> {
    const filter: FilterQuery<EmailDoc> = {};
    if (q.to !== undefined) filter.to = q.to;
    if (q.status !== undefined) filter.status = q.status;
    const [rows, totalCount] = await Promise.all([
      this.model
        .find({ ...filter, ...before('createdAt', q.after) })
        .sort({ createdAt: -1, _id: -1 })
        .limit(q.limit)
        .lean<EmailDoc[]>(),
      this.model.countDocuments(filter),
    ]);
    return { rows: rows.map(toEmail), totalCount };
  }

  async countByStatus(): Promise<Partial<Record<EmailStatus, number>>> {
    const groups = await this.model.aggregate<{ _id: EmailStatus; n: number }>([
      { $group: { _id: '$status', n: { $sum: 1 } } },
    ]);
    return Object.fromEntries(groups.map((g) => [g._id, g.n]));
  }
}

export class MongoAuditStore implements AuditStore {
  constructor(private readonly model: Model<AuditDoc>) {}

  async record(a: AuditRecord): Promise<boolean> {
    try {
      await this.model.create({
        _id: a.id,
        type: a.type,
        subject: a.subject,
        payload: a.payload,
        occurredAt: a.occurredAt,
        recordedAt: a.recordedAt,
      });
      return true;
    } catch (err) {
      if (isDuplicate(err)) return false;
      throw err;
    }
  }

  async list(q: AuditQuery): Promise<Page<AuditRecord>> {
    const filter: FilterQuery<AuditDoc> = q.type !== undefined ? { type: q.type } : {};
    const [rows, totalCount] = await Promise.all([
      this.model
        .find({ ...filter, ...before('occurredAt', q.after) })
        .sort({ occurredAt: -1, _id: -1 })
        .limit(q.limit)
        .lean<AuditDoc[]>(),
      this.model.countDocuments(filter),
    ]);
    return { rows: rows.map(toAudit), totalCount };
  }
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function logFilter(f: LogFilter): FilterQuery<LogDoc> {
  const q: FilterQuery<LogDoc> = {};
  if (f.service !== undefined) q.service = f.service;
  if (f.minLevel !== undefined) q.level = { $gte: f.minLevel };
  if (f.requestId !== undefined) q.requestId = f.requestId;
  if (f.traceId !== undefined) q.traceId = f.traceId;
  if (f.since !== undefined || f.until !== undefined)
    q.time = { ...(f.since && { $gte: f.since }), ...(f.until && { $lt: f.until }) };
  // The same meaning as PostgreSQL's ILIKE '%…%': a literal, case-insensitive substring.
  if (f.search !== undefined) q.message = { $regex: escapeRegex(f.search), $options: 'i' };
  return q;
}

export class MongoLogStore implements LogStore {
  constructor(private readonly model: Model<LogDoc>) {}

  async insertMany(lines: LogRecord[]): Promise<number> {
    if (!lines.length) return 0;
    const docs = lines.map((l) => ({
      _id: l.id,
      time: l.time,
      service: l.service,
      level: l.level,
      message: l.message,
      requestId: l.requestId,
      traceId: l.traceId,
      fields: l.fields,
    }));
    // Unordered: a duplicate (redelivered batch) is skipped and the rest still go in.
    try {
      const res = await this.model.collection.insertMany(docs as never[], { ordered: false });
      return res.insertedCount;
    } catch (err) {
      const e = err as { code?: number; writeErrors?: { code: number }[]; result?: { insertedCount?: number } };
      const errors = e.writeErrors ?? [];
      if (errors.length && errors.every((w) => w.code === DUPLICATE_KEY)) return lines.length - errors.length;
      throw err;
    }
  }

  async list(q: LogQuery): Promise<LogRecord[]> {
    const rows = await this.model
      .find({ ...logFilter(q), ...before('time', q.after) })
      .sort({ time: -1, _id: -1 })
      .limit(q.limit)
      .lean<LogDoc[]>();
    return rows.map(toLog);
  }

  count(f: LogFilter): Promise<number> {
    return this.model.countDocuments(logFilter(f));
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    // One deleteMany is atomic per document: instances purging at once never delete a line twice.
    const res = await this.model.deleteMany({ time: { $lt: cutoff } });
    return res.deletedCount;
  }
}

/**
 * MongoDB stores (used when MONGO_URL is set), in database `<prefix>_notification` like the PostgreSQL one.
 * Indexes are created by `migrate()` (and at start) rather than mongoose's background autoIndex, because
 * idempotency depends on the unique ones existing before the first insert.
 */
export async function openMongoStores(
  config: Config,
  logger?: Logger,
): Promise<NotificationStores & { connection: Connection }> {
  const connection = mongoose.createConnection(config.mongoUrl!, {
    dbName: databaseName(config, 'notification'),
    serverSelectionTimeoutMS: 5000,
    autoIndex: false,
  });
  await connection.asPromise();
  const Email = connection.model<EmailDoc>('Email', emailSchema);
  const Audit = connection.model<AuditDoc>('AuditEvent', auditSchema);
  const Log = connection.model<LogDoc>('LogEntry', logSchema);
  return {
    kind: 'mongo',
    connection,
    emails: new MongoEmailStore(Email),
    audit: new MongoAuditStore(Audit),
    logs: new MongoLogStore(Log),
    async migrate() {
      await Promise.all([Email.createIndexes(), Audit.createIndexes(), Log.createIndexes()]);
      logger?.debug('mongo indexes ensured');
      return ['emails indexes', 'audit_events indexes', 'log_entries indexes'];
    },
    async ping() {
      if (!connection.db) throw new Error('MongoDB is not connected');
      await connection.db.admin().ping();
    },
    close: () => connection.close(),
  };
}
