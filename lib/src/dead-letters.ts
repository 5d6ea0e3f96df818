import {
  headers as natsHeaders,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
  JSONCodec,
  Match,
  MsgHdrs,
  nanos,
  RetentionPolicy,
  StorageType,
  StoredMsg,
} from 'nats';
import type { DirectMsgRequest } from 'nats/lib/jetstream/jsapi_types';
import { badInput } from './errors';
import { redactSecrets, SECRET_FIELDS } from './events';

/**
 * The dead-letter stream (README "Dead letters"). A durable consumer gives a message up after NATS_MAX_DELIVER
 * deliveries, or at once when its handler throws a NonRetryableError: the Bus copies it to the stream `DLQ`
 * (subject `dlq.<original subject>`) with the consumer's name, the error and the delivery count, then acks it, so
 * the consumer's later messages keep flowing. Admins list, replay and discard dead letters (the notification
 * subgraph's `deadLetters`, `replayDeadLetter`, `discardDeadLetter`).
 *
 * Bus.ts names the stream and subjects and hands them in: this module must not import the Bus (import cycles).
 */

/** A handler error that no retry can fix (a malformed payload, a rule the event breaks): dead-lettered at once. */
export class NonRetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/** The first subject token of dead letters: `dlq.<original subject>` (under the deployment prefix, like every subject). */
export const DLQ_TOKEN = 'dlq';

/** Trace context and request id: a dead letter and its replay stay in the trace of the request that caused the event. */
const CARRIED_HEADERS = ['traceparent', 'tracestate', 'x-request-id'];
/** Longest error text kept, its head and tail (a stack trace is for the logs, not the dead letter). */
const MAX_ERROR = 2000;
/** Longest non-JSON payload kept, as text. */
const MAX_RAW = 256 * 1024;

/** The body of a message in the DLQ stream (JSON). */
interface DeadLetterBody {
  v: 1;
  /** The original subject, full (with the deployment prefix): a replay publishes there. */
  subject: string;
  consumer: string;
  error: string;
  deliveryCount: number;
  /** Stream and sequence of the original message. */
  stream: string;
  streamSeq: number;
  /** The original `Nats-Msg-Id` (the event id for events). */
  msgId: string | null;
  /** True when secret fields were replaced by `[redacted]`: such a letter cannot be replayed. */
  redacted: boolean;
  /** The original payload when it was JSON (secrets redacted), else null. */
  payload: unknown;
  /** The original payload as text when it was not JSON (null for a secret subject: it may be the secret). */
  raw: string | null;
  /** True when `raw` is only the start of the payload (over 256 KiB): such a letter cannot be replayed. */
  truncated?: boolean;
  deadAt: string;
}

/** A dead letter as admins see it. */
export interface DeadLetter {
  /** Its sequence number in the DLQ stream, as a string. */
  id: string;
  /** The original subject, without the deployment prefix (`user.registered`). */
  subject: string;
  consumer: string;
  error: string;
  deliveryCount: number;
  stream: string;
  streamSeq: number;
  msgId: string | null;
  /** The event's id and type when the payload is an event envelope (a replay keeps them; its msgId is new). */
  eventId: string | null;
  eventType: string | null;
  redacted: boolean;
  payload: unknown;
  raw: string | null;
  /** `raw` is only the payload's start. */
  truncated: boolean;
  deadAt: Date;
}

/** Where the dead letters of one deployment live: the Bus hands these in (its prefix, its names). */
export interface DeadLetterNames {
  /** Stream name, `<prefix>_DLQ`. */
  stream: string;
  /** The deployment's subject prefix ('' for none). */
  prefix: string;
  /** Subjects whose payloads are secrets (`secret.>`): their undecodable payloads are never copied. */
  secretToken: string;
}

const codec = JSONCodec();

function withPrefix(prefix: string, subject: string): string {
  return prefix ? `${prefix}.${subject}` : subject;
}
function withoutPrefix(prefix: string, subject: string): string {
  return prefix && subject.startsWith(`${prefix}.`) ? subject.slice(prefix.length + 1) : subject;
}

/** The DLQ stream: limits retention (a letter stays until replayed, discarded or NATS_DLQ_MAX_AGE_DAYS old). */
export async function ensureDeadLetterStream(
  jsm: JetStreamManager,
  names: DeadLetterNames,
  maxAgeDays: number,
): Promise<void> {
  const cfg = {
    name: names.stream,
    subjects: [withPrefix(names.prefix, `${DLQ_TOKEN}.>`)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(maxAgeDays * 24 * 3600 * 1000),
    // The Bus's copy is idempotent: a consumer that dies between copying and acking copies again with the same id.
    duplicate_window: nanos(10 * 60 * 1000),
    // Admins page through the stream with direct gets (next message by subject from a sequence).
    allow_direct: true,
  };
  try {
    const info = await jsm.streams.info(cfg.name);
    if (info.config.max_age !== cfg.max_age) await jsm.streams.update(cfg.name, { max_age: cfg.max_age });
  } catch (err) {
    if (!/stream not found/i.test(String(err))) throw err;
    try {
      await jsm.streams.add(cfg);
    } catch (e) {
      if (!/already in use|stream name already/i.test(String(e))) throw e;
    }
  }
}

/** The values of secret fields (SECRET_FIELDS) anywhere in a JSON value. */
export function secretValues(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) secretValues(v, out);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_FIELDS.has(k) && typeof v === 'string' && v) out.push(v);
      else secretValues(v, out);
    }
  return out;
}

/** The secrets of a message's JSON payload (none when it is not JSON). */
export function messageSecrets(m: { string(): string }): string[] {
  try {
    return secretValues(JSON.parse(m.string()));
  } catch {
    return [];
  }
}

/** What a log line shows of a handler's error: the error itself, or its text without the message's secrets. */
export function loggableError(err: unknown, secrets: string[]): unknown {
  return secrets.length ? errorText(err, secrets) : err;
}

/**
 * An error's text with every secret of the message replaced: errors quote what failed (PostgreSQL's quote the
 * whole statement, with the link the token is in), so the text would carry the secret the payload no longer does.
 */
export function errorText(err: unknown, secrets: string[] = []): string {
  let text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  for (const secret of secrets) text = text.split(secret).join('[redacted]');
  // Head and tail: drivers put the statement first and the reason last (`INSERT … - <reason>`).
  if (text.length <= MAX_ERROR) return text;
  const half = Math.floor((MAX_ERROR - 3) / 2);
  return `${text.slice(0, half)} … ${text.slice(-half)}`;
}

/**
 * Copies `m` to `dlq.<its subject>` with why it was given up (the caller acks it afterwards). Secret fields of a
 * JSON payload are redacted (events.ts SECRET_FIELDS); a payload that is not JSON is kept as text unless its subject
 * is a secret one. The copy's `Nats-Msg-Id` is `<consumer>:<stream>:<seq>`: copying the same delivery twice (the
 * process died before its ack) leaves one letter.
 */
export async function copyToDeadLetters(
  js: JetStreamClient,
  names: DeadLetterNames,
  m: JsMsg,
  why: { consumer: string; error: unknown; deliveryCount: number },
): Promise<void> {
  const subject = withoutPrefix(names.prefix, m.subject);
  let payload: unknown = null;
  let raw: string | null = null;
  let redacted = false;
  let secrets: string[] = [];
  let truncated = false;
  try {
    const original = JSON.parse(m.string()) as unknown;
    payload = redactSecrets(original);
    secrets = secretValues(original);
    redacted = JSON.stringify(payload) !== JSON.stringify(original);
  } catch {
    if (subject.split('.')[0] === names.secretToken) redacted = true;
    else {
      const text = m.string();
      truncated = text.length > MAX_RAW;
      raw = text.slice(0, MAX_RAW);
    }
  }
  const body: DeadLetterBody = {
    v: 1,
    subject: m.subject,
    consumer: why.consumer,
    error: errorText(why.error, secrets),
    deliveryCount: why.deliveryCount,
    stream: m.info.stream,
    streamSeq: m.info.streamSequence,
    msgId: m.headers?.get('Nats-Msg-Id') || null,
    redacted,
    payload,
    raw,
    truncated,
    deadAt: new Date().toISOString(),
  };
  await js.publish(withPrefix(names.prefix, `${DLQ_TOKEN}.${subject}`), codec.encode(body), {
    msgID: `${why.consumer}:${m.info.stream}:${m.info.streamSequence}`,
    headers: carried(m.headers),
  });
}

function carried(from: MsgHdrs | undefined): MsgHdrs | undefined {
  if (!from) return undefined;
  const h = natsHeaders();
  for (const name of CARRIED_HEADERS) {
    const v = from.get(name, Match.IgnoreCase);
    if (v) h.set(name, v);
  }
  return h;
}

const isNotFound = (err: unknown) => /no message found|404|not found/i.test(String((err as Error)?.message ?? err));

/** Parses an admin's dead-letter id (its DLQ sequence); anything else is BAD_USER_INPUT on `id`. */
export function parseDeadLetterId(id: string): number {
  if (!/^[1-9]\d{0,15}$/.test(id) || !Number.isSafeInteger(Number(id)))
    throw badInput('id', 'id must be the id of a dead letter');
  return Number(id);
}

/**
 * nats.js implements JetStream's direct get on every JetStreamManager (`jsm.direct`, JetStreamManagerImpl) but its
 * public interface leaves it out; paging by "next message of a subject from a sequence" needs it.
 */
type WithDirect = JetStreamManager & {
  direct: { getMessage(stream: string, query: DirectMsgRequest): Promise<StoredMsg> };
};

/** The DLQ stream as admins use it: page through, replay, discard. */
export class DeadLetters {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly names: DeadLetterNames,
  ) {}

  /** Letters after sequence `afterSeq`, oldest first, at most `limit` (direct gets: any server of the stream answers). */
  async list(limit: number, afterSeq = 0): Promise<DeadLetter[]> {
    const filter = withPrefix(this.names.prefix, `${DLQ_TOKEN}.>`);
    const out: DeadLetter[] = [];
    let seq = afterSeq + 1;
    while (out.length < limit) {
      let m: StoredMsg;
      try {
        m = await (this.jsm as WithDirect).direct.getMessage(this.names.stream, { seq, next_by_subj: filter });
      } catch (err) {
        if (isNotFound(err)) break;
        throw err;
      }
      out.push(this.view(m));
      seq = m.seq + 1;
    }
    return out;
  }

  /** Letters now in the stream. */
  async count(): Promise<number> {
    return (await this.jsm.streams.info(this.names.stream)).state.messages;
  }

  async get(seq: number): Promise<DeadLetter | null> {
    const m = await this.stored(seq);
    return m && this.view(m);
  }

  private async stored(seq: number): Promise<StoredMsg | null> {
    try {
      return await (this.jsm as WithDirect).direct.getMessage(this.names.stream, { seq });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * Publishes the letter's payload again to its original subject, then deletes the letter. True when this call
   * replayed it; false when there is no such letter (replayed or discarded already). The republished message's
   * `Nats-Msg-Id` is `replay:<DLQ stream>:<seq>`, not the original one (the domain stream would drop that as a
   * duplicate for 10 minutes): two replays of one letter at once publish one message. Every consumer of the subject
   * sees the event again, with its original event id; their handlers are idempotent by that id, so only the one
   * that had failed does anything. A letter whose secrets were redacted cannot be replayed (BAD_USER_INPUT).
   */
  async replay(seq: number): Promise<boolean> {
    const stored = await this.stored(seq);
    if (!stored) return false;
    const letter = this.view(stored);
    if (letter.redacted)
      throw badInput(
        'id',
        'This dead letter carried a secret (a link token), which was redacted: it cannot be replayed. The user asks for a new link.',
      );
    if (letter.truncated)
      throw badInput('id', 'This dead letter kept only the start of its payload: it cannot be replayed.');
    const data = letter.raw !== null ? new TextEncoder().encode(letter.raw) : codec.encode(letter.payload);
    const ack = await this.js.publish(withPrefix(this.names.prefix, letter.subject), data, {
      msgID: `replay:${this.names.stream}:${seq}`,
      headers: carried(stored.header),
    });
    await this.discard(seq);
    return !ack.duplicate;
  }

  /** Deletes the letter. True when this call deleted it; false when there is no such letter. */
  async discard(seq: number): Promise<boolean> {
    try {
      return await this.jsm.streams.deleteMessage(this.names.stream, seq, false);
    } catch (err) {
      // The server words a missing message in several ways (past the last sequence: "stream store EOF").
      if (isNotFound(err) || (await this.stored(seq)) === null) return false;
      throw err;
    }
  }

  private view(m: StoredMsg): DeadLetter {
    const b = m.json<DeadLetterBody>();
    const envelope = (b.payload ?? {}) as { id?: unknown; type?: unknown };
    return {
      id: String(m.seq),
      subject: withoutPrefix(this.names.prefix, b.subject),
      consumer: b.consumer,
      error: b.error,
      deliveryCount: b.deliveryCount,
      stream: b.stream,
      streamSeq: b.streamSeq,
      msgId: b.msgId,
      eventId: typeof envelope.id === 'string' ? envelope.id : null,
      eventType: typeof envelope.type === 'string' ? envelope.type : null,
      redacted: b.redacted,
      // Redacted when copied; redacted again in case SECRET_FIELDS grew since.
      payload: redactSecrets(b.payload),
      raw: b.raw,
      truncated: b.truncated === true,
      deadAt: new Date(b.deadAt),
    };
  }
}
