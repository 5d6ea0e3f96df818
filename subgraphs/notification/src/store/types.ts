/** Storage contract of the notification subgraph; implemented for PostgreSQL (default) and MongoDB (MONGO_URL). */

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

export interface NotificationStores {
  kind: 'postgres' | 'mongo';
  emails: EmailStore;
  audit: AuditStore;
  /** Applies migrations / index definitions (idempotent, safe from several processes). */
  migrate(): Promise<string[]>;
  /** Round trip to the database (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
