/** Storage contract of the notification subgraph; implemented for PostgreSQL (default) and MongoDB (MONGO_URL). */
import type { MessageOrigin } from '@shop/kernel';

export enum EmailStatus {
  QUEUED = 'QUEUED',
  SENT = 'SENT',
  FAILED = 'FAILED',
  DEAD = 'DEAD',
}

export interface EmailRecord {
  id: string;
  /** Id of the domain event that asked for this email; unique together with `template`. */
  eventId: string;
  template: string;
  to: string;
  subject: string;
  status: EmailStatus;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
  /** When the sender may (re)try it; while claimed, the end of the claim's lease. */
  nextAttemptAt: Date;
}

/** A claimed email: the body is only read by the sender, and the claim id guards the result it reports. */
export interface ClaimedEmail extends EmailRecord {
  claimId: string;
  html: string;
  text: string;
  /** The request whose event queued it (trace context, request id): sending it continues that trace. */
  origin: MessageOrigin;
}

export interface NewEmail {
  id: string;
  eventId: string;
  template: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  createdAt: Date;
  origin?: MessageOrigin;
  /**
   * Inserted already claimed (by the sender of this instance, which sends it at once): no other instance takes it
   * before `until` (the lease), as after `claimDue`.
   */
  claim?: { claimId: string; until: Date };
}

/** Keyset position: newest first by (timestamp, id). */
export interface Keyset {
  at: Date;
  id: string;
}

export interface Page<T> {
  /** Up to `limit` rows, newest first (callers ask for one more than they show to learn whether there is a next page). */
  rows: T[];
  totalCount: number;
}

export interface EmailQuery {
  limit: number;
  after?: Keyset;
  to?: string;
  status?: EmailStatus;
}

export interface EmailStore {
  /** Inserts the email unless one exists for (eventId, template); `created` is false for a duplicate. */
  enqueue(email: NewEmail): Promise<{ created: boolean; email: EmailRecord }>;
  /**
   * Atomically claims up to `limit` QUEUED/FAILED emails due at `now`: each gets a fresh claim id and its
   * next attempt moved to `now + leaseMs`, so no other instance takes it unless this one dies mid-send.
   */
  claimDue(limit: number, now: Date, leaseMs: number): Promise<ClaimedEmail[]>;
  /** Records a successful attempt (no-op when the claim was lost); the body is dropped as it holds link secrets. */
  markSent(id: string, claimId: string, sentAt: Date): Promise<boolean>;
  /** Records a failed attempt: FAILED with a retry time, or DEAD (body dropped) when `retryAt` is null. */
  markFailed(id: string, claimId: string, error: string, retryAt: Date | null): Promise<boolean>;
  get(id: string): Promise<EmailRecord | null>;
  list(query: EmailQuery): Promise<Page<EmailRecord>>;
  /** Emails per status (the queue metric); statuses without any are absent. */
  countByStatus(): Promise<Partial<Record<EmailStatus, number>>>;
}

export interface AuditRecord {
  /** The domain event's id: recording the same event twice is a no-op. */
  id: string;
  type: string;
  /** Id of the entity the event is about (user, order, cart, product, image); empty when the event names none. */
  subject: string;
  /** The event's data as JSON, secrets redacted. */
  payload: string;
  occurredAt: Date;
  recordedAt: Date;
}

export interface AuditQuery {
  limit: number;
  after?: Keyset;
  type?: string;
}

export interface AuditStore {
  /** False when the event was recorded already. */
  record(entry: AuditRecord): Promise<boolean>;
  list(query: AuditQuery): Promise<Page<AuditRecord>>;
}

/** Severity of a log line: pino's levels. */
export enum LogLevel {
  TRACE = 'TRACE',
  DEBUG = 'DEBUG',
  INFO = 'INFO',
  WARN = 'WARN',
  ERROR = 'ERROR',
  FATAL = 'FATAL',
}

/** pino's number of each level (what the stores keep, so `minLevel` is a comparison). */
export const LEVEL_NUMBERS: Record<LogLevel, number> = {
  TRACE: 10,
  DEBUG: 20,
  INFO: 30,
  WARN: 40,
  ERROR: 50,
  FATAL: 60,
};

/** The level a stored number reads as (a custom level between two standard ones reads as the lower one). */
export function levelOf(level: number): LogLevel {
  let found = LogLevel.TRACE;
  for (const [name, n] of Object.entries(LEVEL_NUMBERS) as [LogLevel, number][]) if (n <= level) found = name;
  return found;
}

/** One central log line as stored: pino's fields, secrets redacted, the well-known ones in columns of their own. */
export interface LogRecord {
  /** `<batch id>:<index in the batch>`: a redelivered batch inserts nothing twice. */
  id: string;
  time: Date;
  service: string;
  /** pino's number: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal. */
  level: number;
  message: string;
  requestId: string | null;
  traceId: string | null;
  /** Every other field of the line (redacted), null when there is none. */
  fields: Record<string, unknown> | null;
}

/** Filters of the `logs` query, all optional and combined with AND. */
export interface LogFilter {
  service?: string;
  minLevel?: number;
  requestId?: string;
  traceId?: string;
  /** Inclusive lower bound of `time`. */
  since?: Date;
  /** Exclusive upper bound of `time`. */
  until?: Date;
  /** Case-insensitive substring of the message. */
  search?: string;
}

export interface LogQuery extends LogFilter {
  limit: number;
  after?: Keyset;
}

export interface LogStore {
  /** Inserts a batch in one statement; lines whose id exists already are skipped. Resolves with how many were new. */
  insertMany(lines: LogRecord[]): Promise<number>;
  /** Newest first by (time, id). */
  list(query: LogQuery): Promise<LogRecord[]>;
  count(filter: LogFilter): Promise<number>;
  /**
   * Deletes lines older than `cutoff`, `batch` at a time (several instances may run it at once: each deletes rows no
   * other is deleting). Resolves with how many this call deleted.
   */
  deleteOlderThan(cutoff: Date, batch?: number): Promise<number>;
}

export interface NotificationStores {
  kind: 'postgres' | 'mongo';
  emails: EmailStore;
  audit: AuditStore;
  logs: LogStore;
  /** Applies migrations / index definitions (idempotent, safe from several processes). */
  migrate(): Promise<string[]>;
  /** Round trip to the database (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
