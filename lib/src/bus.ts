import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  JetStreamClient,
  JetStreamManager,
  JSONCodec,
  NatsConnection,
  RetentionPolicy,
  StorageType,
  Subscription,
  ConsumerConfig,
  ConsumerInfo,
  ConsumerMessages,
  JsMsg,
  Msg,
  nanos,
} from 'nats';
import { SpanKind } from '@opentelemetry/api';
import { coalesceNatsWrites } from './coalesce';
import { stacklessCancelledErrors } from './nats-cancel';
import type { Config } from './config';
import type { Logger } from './logger';
import { AppError, ErrorCode } from './errors';
import {
  failActiveSpan,
  handleWithContext,
  messagingAttributes,
  MessageOrigin,
  sendWithContext,
} from './message-context';
import { busConnected, busConsumed, busConsumerStarted, busPublished } from './bus-metrics';
import {
  copyToDeadLetters,
  DeadLetterNames,
  DeadLetters,
  ensureDeadLetterStream,
  loggableError,
  messageSecrets,
  NonRetryableError,
  secretValues,
} from './dead-letters';
import type { StopOptions } from './shutdown';

/** The stable envelope of every domain event: `{ v: 1, id, type, occurredAt, data }`. */
export interface EventEnvelope<T = Record<string, unknown>> {
  v: 1;
  id: string;
  type: string;
  occurredAt: string;
  data: T;
}

/** One JetStream stream per domain; a subject's first token names its domain (`payment.*`: the order subgraph's payment events). */
export const DOMAINS = ['user', 'product', 'cart', 'order', 'payment', 'media'] as const;
export type Domain = (typeof DOMAINS)[number];

/**
 * Subjects `secret.>` carry a raw secret (an email link token) to the one service that delivers it. They are not a
 * domain: their stream is a work queue (a message is deleted as soon as its consumer acks it, and dropped unconsumed
 * after SECRET_MESSAGE_MAX_AGE_SECONDS), and no audit or other broad consumer ever subscribes to them.
 */
export const SECRET_DOMAIN = 'secret' as const;
const DEFAULT_SECRET_MAX_AGE_SECONDS = 3600;

/** Durable consumers' retry policy (NATS_MAX_DELIVER, NATS_RETRY_BACKOFF_MS): deliveries, then a dead letter. */
export interface RetryPolicy {
  /** Deliveries before a message is dead-lettered. */
  maxDeliver: number;
  /** Delay before the n-th retry (the last one repeats). */
  backoffMs: number[];
}
const DEFAULT_RETRY: RetryPolicy = { maxDeliver: 10, backoffMs: [1000, 5000, 30_000, 120_000, 300_000] };
const DEFAULT_DLQ_MAX_AGE_DAYS = 30;

/** The delay before redelivering a message whose `deliveryCount`-th delivery failed. */
export function retryDelay(policy: RetryPolicy, deliveryCount: number): number {
  const list = policy.backoffMs.length ? policy.backoffMs : DEFAULT_RETRY.backoffMs;
  return list[Math.min(Math.max(deliveryCount, 1), list.length) - 1];
}

/**
 * JetStream's own bound for a consumer: one delivery more than the policy's, so that a message whose last delivery
 * never finished (the process died, the ack wait ran out) still reaches a handler once more, which dead-letters it.
 */
export function serverMaxDeliver(policy: RetryPolicy): number {
  return policy.maxDeliver + 1;
}

/** A subject under the deployment's NATS prefix (tests use one per file). */
export function natsSubject(prefix: string, type: string): string {
  return prefix ? `${prefix}.${type}` : type;
}

/** The stream holding a domain's events: one per domain, named under the deployment's prefix. */
export function natsStreamName(prefix: string, domain: Domain | typeof SECRET_DOMAIN): string {
  const name = domain === SECRET_DOMAIN ? 'SECRETS' : domain.toUpperCase();
  return `${prefix ? prefix.replace(/[^A-Za-z0-9_-]/g, '_') + '_' : ''}${name}`;
}

export function makeEvent<T>(type: string, data: T, id: string = randomUUID()): EventEnvelope<T> {
  return { v: 1, id, type, occurredAt: new Date().toISOString(), data };
}

const codec = JSONCodec();

export interface ConsumeOptions {
  /** Durable consumer name; restarts resume where it left off. */
  durable: string;
  /** Event types or wildcards without the deployment prefix, e.g. `user.registered` or `user.>`. */
  subjects: string[];
  /** Throws to retry the message later; a NonRetryableError dead-letters it at once. */
  handler: (event: EventEnvelope, meta: { redelivered: boolean; deliveryCount: number }) => Promise<void>;
  /** Deliveries before a message is dead-lettered (default NATS_MAX_DELIVER). */
  maxDeliver?: number;
  ackWaitMs?: number;
  /**
   * Messages of one durable consumer handled at once (default 1: in stream order, one after the other). Only for
   * handlers whose effects do not depend on the order (an audit record per event), or with `orderKey`: each message
   * is still acked only after its own handler succeeded.
   */
  concurrency?: number;
  /**
   * With `concurrency` > 1: messages with the same key are handled one after another, in stream order (the emails of
   * one order go out in the order of its events); different keys run side by side. Undecodable messages key ''.
   * `undefined`: the message is not ordered with any other (its handling does not depend on the order).
   */
  orderKey?: (event: EventEnvelope) => string | undefined;
  /**
   * Durable names this consumer takes over (a rename, or two consumers merged into one): on the first start under
   * the new name, each of the old consumers of the same subject hands over its position — the new one starts at
   * the lowest ack floor among them, so nothing unacknowledged is skipped (a message between the floor and what was
   * acked out of order is delivered again: handlers are idempotent) — and is deleted.
   */
  replaces?: string[];
}

/** A message's event, or why it could not be decoded. */
type Decoded = { ok: true; event: EventEnvelope } | { ok: false; error: unknown };

/** The message's `orderKey`: '' when it cannot be read (a malformed event shares that line; its handler decides). */
function keyOf(orderKey: NonNullable<ConsumeOptions['orderKey']>, decoded: Decoded): string | undefined {
  if (!decoded.ok) return '';
  try {
    return orderKey(decoded.event);
  } catch {
    return '';
  }
}

function decode(m: JsMsg): Decoded {
  try {
    return { ok: true, event: codec.decode(m.data) as EventEnvelope };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * A durable's name for one subject filter: `<durable>-<subject>` (`*` → star, `>` → all, the rest `_`); what
 * `consume` names the consumers it makes (tools that inspect them, such as the checkout bench, ask it too).
 */
export function durableName(base: string, subject: string): string {
  return `${base}-${subject.replace(/\*/g, 'star').replace(/>/g, 'all')}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** NATS connection with JetStream streams, typed events (`Nats-Msg-Id` = event id) and request/reply commands. */
export class Bus {
  private subs: { stop(): void | Promise<void> }[] = [];
  /** Event and command handlers running now: `close` lets them finish (their acks and replies need the connection). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly prefix: string,
    private readonly logger?: Logger,
    /** Durable consumers' deliveries and back-off (NATS_MAX_DELIVER, NATS_RETRY_BACKOFF_MS). */
    readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {}

  static async connect(
    config: Pick<Config, 'natsUrl' | 'natsPrefix'> &
      Partial<Pick<Config, 'secretMessageMaxAgeSeconds' | 'natsRetry' | 'dlqMaxAgeDays'>>,
    logger?: Logger,
    name?: string,
  ): Promise<Bus> {
    // A settled request's "cancelled" error without a stack (./nats-cancel.ts).
    stacklessCancelledErrors();
    const nc = await connect({
      servers: config.natsUrl,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // Without it every request and JetStream publish builds an Error up front, for a stack a timeout would show:
      // ~4 % of the order process's busy time in a checkout. A failed request is logged with its command instead.
      noAsyncTraces: true,
    });
    // What one turn sends leaves in one write (./coalesce.ts).
    coalesceNatsWrites(nc);
    const jsm = await nc.jetstreamManager();
    const bus = new Bus(nc, nc.jetstream(), jsm, config.natsPrefix, logger, config.natsRetry ?? DEFAULT_RETRY);
    busConnected(bus, name);
    await bus.ensureStreams(config.secretMessageMaxAgeSeconds ?? DEFAULT_SECRET_MAX_AGE_SECONDS);
    await ensureDeadLetterStream(jsm, bus.deadLetterNames, config.dlqMaxAgeDays ?? DEFAULT_DLQ_MAX_AGE_DAYS);
    return bus;
  }

  /** The dead-letter stream `<prefix>_DLQ` (subjects `dlq.>`): lib/src/dead-letters.ts. */
  get deadLetterNames(): DeadLetterNames {
    return {
      stream: `${this.prefix ? this.prefix.replace(/[^A-Za-z0-9_-]/g, '_') + '_' : ''}DLQ`,
      prefix: this.prefix,
      secretToken: SECRET_DOMAIN,
    };
  }

  /** The dead letters, for the admin API (the notification subgraph). */
  deadLetters(): DeadLetters {
    return new DeadLetters(this.js, this.jsm, this.deadLetterNames);
  }

  /**
   * Ends a failed delivery by the retry policy: a NonRetryableError, or a failure of the last allowed delivery, copies
   * the message to the DLQ stream and acks it; any other failure naks it with the policy's back-off. A copy that
   * fails (NATS trouble) naks instead: the message is not lost. Returns what happened.
   */
  async failDelivery(
    m: JsMsg,
    consumer: string,
    err: unknown,
    policy: RetryPolicy = this.retry,
  ): Promise<'retry' | 'dead_letter'> {
    const deliveryCount = m.info.redeliveryCount;
    if (!(err instanceof NonRetryableError) && deliveryCount < policy.maxDeliver) {
      m.nak(retryDelay(policy, deliveryCount));
      return 'retry';
    }
    try {
      await copyToDeadLetters(this.js, this.deadLetterNames, m, { consumer, error: err, deliveryCount });
    } catch (copyErr) {
      this.logger?.error({ err: copyErr, consumer, subject: m.subject }, 'could not dead-letter a message; will retry');
      m.nak(retryDelay(policy, deliveryCount));
      return 'retry';
    }
    m.ack();
    this.logger?.error(
      {
        err: loggableError(err, messageSecrets(m)),
        consumer,
        subject: m.subject,
        deliveryCount,
        streamSeq: m.info.streamSequence,
      },
      'message dead-lettered',
    );
    return 'dead_letter';
  }

  subject(type: string): string {
    return natsSubject(this.prefix, type);
  }
  streamName(domain: Domain | typeof SECRET_DOMAIN): string {
    return natsStreamName(this.prefix, domain);
  }

  async ensureStreams(secretMaxAgeSeconds = DEFAULT_SECRET_MAX_AGE_SECONDS): Promise<void> {
    const configs = DOMAINS.map((domain) => ({
      name: this.streamName(domain),
      subjects: [this.subject(`${domain}.>`)],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(7 * 24 * 3600 * 1000),
      // Outbox relays retry after crashes; a duplicate id inside this window is dropped by the server.
      duplicate_window: nanos(10 * 60 * 1000),
    }));
    const secretMaxAge = nanos(secretMaxAgeSeconds * 1000);
    configs.push({
      name: this.streamName(SECRET_DOMAIN),
      subjects: [this.subject(`${SECRET_DOMAIN}.>`)],
      // Deleted when acked: a delivered secret is gone from the broker, and an undeliverable one goes with its age.
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_age: secretMaxAge,
      duplicate_window: nanos(Math.min(10 * 60, secretMaxAgeSeconds) * 1000),
    });
    for (const cfg of configs) {
      try {
        const info = await this.jsm.streams.info(cfg.name);
        // The secrets stream follows SECRET_MESSAGE_MAX_AGE_SECONDS when it changes.
        if (cfg.retention === RetentionPolicy.Workqueue && info.config.max_age !== cfg.max_age) {
          await this.jsm.streams
            .update(cfg.name, { max_age: cfg.max_age, duplicate_window: cfg.duplicate_window })
            .catch((err) =>
              this.logger?.warn({ err: String(err), stream: cfg.name }, 'could not update the secrets stream max age'),
            );
        }
      } catch {
        try {
          await this.jsm.streams.add(cfg);
        } catch (err) {
          if (!/already in use|stream name already/i.test(String(err))) throw err;
        }
      }
    }
  }

  /**
   * Publishes to JetStream and waits for the server's ack; `duplicate` is true when the id was seen already. The
   * message carries the request's trace context and request id: `origin`'s (an outbox row's) or the current ones.
   */
  async publish(
    event: EventEnvelope,
    opts: { timeoutMs?: number; origin?: MessageOrigin } = {},
  ): Promise<{ duplicate: boolean }> {
    const subject = this.subject(event.type);
    const data = codec.encode(event);
    const attributes = messagingAttributes(
      subject,
      { type: 'send', name: 'publish' },
      { 'messaging.message.id': event.id, 'messaging.message.body.size': data.length },
    );
    const ack = await sendWithContext(`publish ${event.type}`, SpanKind.PRODUCER, attributes, opts.origin, (headers) =>
      this.js.publish(subject, data, { msgID: event.id, timeout: opts.timeoutMs ?? 5000, headers }),
    );
    busPublished(this, event.type);
    return { duplicate: ack.duplicate };
  }

  /** Durable pull consumers (one per stream the subjects touch); each message acked only after its handler succeeded. */
  async consume(opts: ConsumeOptions): Promise<void> {
    // One durable consumer per subject filter: multi-filter consumers need NATS 2.10, and 2.9 is common.
    for (const s of opts.subjects) {
      const domain = s.split('.')[0] as Domain | typeof SECRET_DOMAIN;
      if (domain !== SECRET_DOMAIN && !DOMAINS.includes(domain)) throw new Error(`no stream for subject ${s}`);
      const stream = this.streamName(domain);
      const durable = durableName(opts.durable, s);
      const ackWaitMs = opts.ackWaitMs ?? 30_000;
      const policy = this.policyOf(opts);
      const config: Partial<ConsumerConfig> = {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(ackWaitMs),
        max_deliver: serverMaxDeliver(policy),
        filter_subject: this.subject(s),
      };
      const add = () =>
        this.jsm.consumers.add(stream, config).catch(async (err) => {
          // A consumer made by an earlier version (another max_deliver), or one that took over another's position
          // (its start policy differs): its editable settings follow this one's.
          if (!/already exists|already in use|can ?not be updated/i.test(String(err))) throw err;
          await this.jsm.consumers.update(stream, durable, {
            ack_wait: config.ack_wait,
            max_deliver: config.max_deliver,
          });
        });
      const replaced = opts.replaces?.length ? await this.replacedConsumers(stream, durable, opts.replaces, s) : [];
      if (!replaced.length) await add();
      else if (domain === SECRET_DOMAIN) {
        // A work-queue stream takes one consumer per subject: the old one goes first. Its unacknowledged messages
        // stay in the stream (acked ones are gone), so the new one starting at the beginning takes exactly those.
        await this.deleteConsumers(stream, replaced);
        await add();
      } else {
        // Made before the old ones go, so another instance starting now finds one or the other, never neither.
        config.deliver_policy = DeliverPolicy.StartSequence;
        config.opt_start_seq = Math.min(...replaced.map((c) => c.ack_floor.stream_seq)) + 1;
        await add();
        await this.deleteConsumers(stream, replaced);
        this.logger?.info(
          { stream, durable, replaced: replaced.map((c) => c.name), startSeq: config.opt_start_seq },
          'consumer took over the position of the consumers it replaces',
        );
      }
      const consumer = await this.js.consumers.get(stream, durable);
      busConsumerStarted(this, stream, durable);
      const messages: ConsumerMessages = await consumer.consume({ max_messages: 64 });
      this.subs.push({ stop: () => messages.stop() });
      const max = Math.max(1, opts.concurrency ?? 1);
      let inFlight = 0;
      let freed: (() => void) | undefined;
      // orderKey: the last handling queued per key; a message's handling starts once its key's previous one ended.
      const tails = new Map<string, Promise<unknown>>();
      void (async () => {
        for await (const m of messages) {
          // In the sender's trace and request (message headers): the handler's spans and log lines belong to them.
          const type = this.prefix ? m.subject.slice(this.prefix.length + 1) : m.subject;
          const attributes = messagingAttributes(
            m.subject,
            { type: 'process', name: 'process' },
            { 'messaging.consumer.group.name': durable, 'messaging.message.body.size': m.data.length },
          );
          // Decoded once: for the key and for the handler.
          const decoded = opts.orderKey ? decode(m) : undefined;
          const handle = () =>
            handleWithContext(`process ${type}`, SpanKind.CONSUMER, attributes, m.headers, () =>
              this.deliver(m, opts, durable, policy, decoded),
            );
          let handled: Promise<void>;
          const key = max > 1 && opts.orderKey ? keyOf(opts.orderKey, decoded!) : undefined;
          if (key !== undefined) {
            const previous = tails.get(key);
            handled = this.track(previous ? previous.then(handle, handle) : handle());
            tails.set(key, handled);
            const last = handled;
            const forget = () => {
              if (tails.get(key) === last) tails.delete(key);
            };
            handled.then(forget, forget);
          } else handled = this.track(handle());
          if (max === 1) {
            await handled;
            continue;
          }
          inFlight++;
          void handled
            .catch((err) => this.logger?.error({ err, durable }, 'message handling failed'))
            .finally(() => {
              inFlight--;
              freed?.();
              freed = undefined;
            });
          if (inFlight >= max) await new Promise<void>((resolve) => (freed = resolve));
        }
      })().catch((err) => this.logger?.error({ err, durable }, 'consumer loop ended'));
    }
  }

  /** The consumers named by `replaces` on this subject that exist, when `durable` itself does not exist yet. */
  private async replacedConsumers(
    stream: string,
    durable: string,
    replaces: string[],
    subject: string,
  ): Promise<ConsumerInfo[]> {
    const info = (name: string) =>
      this.jsm.consumers.info(stream, name).catch((err) => {
        if (/not found/i.test(String(err))) return null;
        throw err;
      });
    if (await info(durable)) return [];
    const olds = await Promise.all(replaces.map((r) => info(durableName(r, subject))));
    return olds.filter((c): c is ConsumerInfo => c !== null);
  }

  private async deleteConsumers(stream: string, consumers: ConsumerInfo[]): Promise<void> {
    for (const c of consumers)
      await this.jsm.consumers.delete(stream, c.name).catch((err) => {
        // Another instance taking over at the same time deleted it first.
        if (!/not found/i.test(String(err))) throw err;
      });
  }

  private policyOf(opts: ConsumeOptions): RetryPolicy {
    return opts.maxDeliver ? { ...this.retry, maxDeliver: opts.maxDeliver } : this.retry;
  }

  private async deliver(
    m: JsMsg,
    opts: ConsumeOptions,
    durable: string,
    policy: RetryPolicy,
    decoded: Decoded = decode(m),
  ): Promise<void> {
    const deliveryCount = m.info.redeliveryCount;
    if (!decoded.ok) {
      failActiveSpan(decoded.error);
      const why = new NonRetryableError(`undecodable message: ${(decoded.error as Error).message}`);
      busConsumed(this, m, await this.failDelivery(m, durable, why, policy));
      return;
    }
    const event = decoded.event;
    if (deliveryCount > policy.maxDeliver) {
      // The spare delivery (serverMaxDeliver): the last allowed one never finished. The handler does not run again.
      const why = new Error(`delivery ${deliveryCount - 1} of ${policy.maxDeliver} did not finish within the ack wait`);
      busConsumed(this, m, await this.failDelivery(m, durable, why, { ...policy, maxDeliver: 0 }));
      return;
    }
    try {
      await opts.handler(event, { redelivered: m.redelivered, deliveryCount });
      m.ack();
      busConsumed(this, m, 'ack');
    } catch (err) {
      // A secret of the message may be quoted in the error (a failed SQL statement): never in a span or a log line.
      const shown = loggableError(err, secretValues(event));
      failActiveSpan(shown);
      const outcome = await this.failDelivery(m, durable, err, policy);
      if (outcome === 'retry')
        this.logger?.warn(
          {
            err: shown,
            eventId: event.id,
            type: event.type,
            attempt: deliveryCount,
            retryInMs: retryDelay(policy, deliveryCount),
          },
          'event handler failed; will retry',
        );
      busConsumed(this, m, outcome);
    }
  }

  /**
   * Serves an internal command (request/reply) in a queue group so any number of instances share the load. Up to
   * `concurrency` requests (default 64) are handled at once per instance: one slow request must not queue the rest
   * behind it, and concurrent peers must meet the same races here as against several instances.
   */
  serve<Req, Res>(command: string, handler: (req: Req) => Promise<Res>, opts: { concurrency?: number } = {}): void {
    const max = Math.max(1, opts.concurrency ?? 64);
    const subject = this.subject(`cmd.${command}`);
    const sub: Subscription = this.nc.subscribe(subject, { queue: `cmd.${command}` });
    const attributes = messagingAttributes(
      subject,
      { type: 'process', name: 'process' },
      { 'messaging.consumer.group.name': `cmd.${command}` },
    );
    // Drain: leave the queue group (peers take the next requests) and still answer what was already delivered.
    this.subs.push({ stop: () => sub.drain() });
    const handle = async (m: Msg): Promise<void> => {
      let reply: unknown;
      try {
        reply = { ok: true, result: await handler(codec.decode(m.data) as Req) };
      } catch (err) {
        const e = err as AppError;
        const coded = e instanceof AppError;
        if (!coded) {
          failActiveSpan(err);
          this.logger?.error({ err, command }, 'command failed');
        }
        reply = {
          ok: false,
          error: coded
            ? { code: e.code, message: e.message, extensions: e.extensions }
            : { code: ErrorCode.INTERNAL_SERVER_ERROR, message: 'Internal error in command', extensions: {} },
        };
      }
      try {
        m.respond(codec.encode(reply));
      } catch (err) {
        this.logger?.warn({ err, command }, 'could not send a command reply');
      }
    };
    let inFlight = 0;
    let freed: (() => void) | undefined;
    void (async () => {
      for await (const m of sub) {
        inFlight++;
        // In the caller's trace and request (message headers), as an HTTP server continues its client's.
        void this.track(
          handleWithContext(`process cmd.${command}`, SpanKind.SERVER, attributes, m.headers, () => handle(m)),
        ).finally(() => {
          inFlight--;
          freed?.();
          freed = undefined;
        });
        if (inFlight >= max) await new Promise<void>((resolve) => (freed = resolve));
      }
    })();
  }

  /**
   * A notice to every instance listening (`listen`), at most once and unacknowledged: for hints a listener can do
   * without, such as "drop what you cached of these products". Notices live under `notice.`, outside every stream.
   */
  notify(topic: string, data: unknown): void {
    this.nc.publish(this.subject(`notice.${topic}`), codec.encode(data));
  }

  /**
   * This instance's own subscription (no queue group: every instance gets every message) to notices (`notice.<topic>`)
   * and to domain events as they are published (`<type>`, the envelope), for state each instance keeps in memory.
   * Nothing is replayed: `onGap` is called when the connection was lost and messages may have been missed.
   */
  listen(
    names: readonly string[],
    handler: (name: string, data: unknown) => void,
    onGap: () => void = () => undefined,
  ): void {
    const subs = names.map((name) =>
      this.nc.subscribe(this.subject(name), {
        callback: (err, m) => {
          if (err) return;
          try {
            handler(name, codec.decode(m.data));
          } catch (e) {
            this.logger?.warn({ err: e, name }, 'a listener failed');
          }
        },
      }),
    );
    let stopped = false;
    void (async () => {
      for await (const s of this.nc.status()) {
        if (stopped) break;
        if (s.type === 'disconnect' || s.type === 'reconnect') onGap();
      }
    })();
    this.subs.push({
      stop: () => {
        stopped = true;
        for (const s of subs) s.unsubscribe();
      },
    });
  }

  /** Sends an internal command and returns its result, re-raising a coded error from the handler as the same AppError. */
  async request<Req, Res>(command: string, payload: Req, timeoutMs = 5000): Promise<Res> {
    const subject = this.subject(`cmd.${command}`);
    const data = codec.encode(payload);
    const attributes = messagingAttributes(
      subject,
      { type: 'send', name: 'send' },
      { 'messaging.message.body.size': data.length },
    );
    const msg = await sendWithContext(`send cmd.${command}`, SpanKind.CLIENT, attributes, undefined, (headers) =>
      this.nc.request(subject, data, { timeout: timeoutMs, headers }),
    );
    const reply = codec.decode(msg.data) as {
      ok: boolean;
      result?: Res;
      error?: { code: ErrorCode; message: string; extensions: Record<string, unknown> };
    };
    if (reply.ok) return reply.result as Res;
    const { code: _c, ...ext } = reply.error!.extensions ?? {};
    throw new AppError(reply.error!.code, reply.error!.message, ext);
  }

  /** Deletes this deployment's streams (tests). */
  async deleteStreams(): Promise<void> {
    for (const d of [...DOMAINS, SECRET_DOMAIN] as const)
      await this.jsm.streams.delete(this.streamName(d)).catch(() => undefined);
    await this.jsm.streams.delete(this.deadLetterNames.stream).catch(() => undefined);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const done = () => this.inFlight.delete(work);
    work.then(done, done);
    return work;
  }

  /** Handlers running now (shutdown tests). */
  get handlersInFlight(): number {
    return this.inFlight.size;
  }

  /**
   * Stops taking messages (consumers stop pulling: what they had not started is redelivered to another instance
   * after its ack wait; command subscriptions leave their queue group), lets the handlers in flight finish within
   * `graceMs` (unset: no wait), then drains the connection.
   */
  async close(opts: StopOptions = {}): Promise<void> {
    for (const s of this.subs) await Promise.resolve(s.stop()).catch(() => undefined);
    this.subs = [];
    if (this.inFlight.size && opts.graceMs) {
      let timer: NodeJS.Timeout | undefined;
      const left = this.inFlight.size;
      const settled = await Promise.race([
        Promise.allSettled([...this.inFlight]).then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), opts.graceMs))),
      ]);
      clearTimeout(timer);
      if (!settled) this.logger?.warn({ handlers: this.inFlight.size, of: left }, 'NATS handlers cut off at shutdown');
    }
    await this.nc.drain().catch(() => this.nc.close());
  }
}

/**
 * A port to another service's commands: each method sends its request to the named command over `bus`
 * (`Bus.request`, so coded errors come back as AppError).
 */
export function commandPort<P extends { [K in keyof P]: (req: never) => Promise<unknown> }>(
  bus: Bus,
  commands: { readonly [K in keyof P]: string },
  timeoutMs = 5000,
): P {
  const port: Record<string, (req: unknown) => Promise<unknown>> = {};
  for (const [method, command] of Object.entries<string>(commands)) {
    port[method] = (req) => bus.request(command, req, timeoutMs);
  }
  return port as unknown as P;
}
