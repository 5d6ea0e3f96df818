import { randomUUID } from 'node:crypto';
import {
  connect,
  DiscardPolicy,
  JetStreamClient,
  JetStreamManager,
  NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
} from 'nats';
import type { Config } from './config';
import { natsSubject } from './bus';
import { createLogger, LOG_SECRET_KEYS, Logger } from './logger';
import { counter } from './metrics';

/**
 * Central logs, the shipping half: every process's pino lines (already serialized and redacted by pino) are also
 * written to a LogShipper, a bounded in-memory buffer that a timer empties in batches onto the JetStream stream
 * `<prefix>_LOGS` (subjects `<prefix>.logs.<service>`); the notification subgraph stores them. A log call only
 * appends a string to an array: it never waits for the broker. When the buffer is full (a flood, the broker
 * unreachable) a line is dropped and counted in `shop_log_lines_dropped_total`; lines the broker acknowledged are
 * counted in `shop_log_lines_shipped_total`. A batch is one message: the lines as NDJSON, `Nats-Msg-Id` = batch id
 * (a retried publish is deduplicated by the stream, and the store keys lines by `<batch id>:<index>`).
 */

const shipped = counter({
  name: 'shop_log_lines_shipped_total',
  help: 'Log lines shipped to the central log store (acknowledged by the broker).',
});
const dropped = counter<'reason'>({
  name: 'shop_log_lines_dropped_total',
  help: 'Log lines not shipped to the central log store, by reason: buffer_full, broker (unreachable or no ack), too_large, closed (logged after shutdown).',
  labelNames: ['reason'],
});
const droppedFull = dropped.labels('buffer_full');
const droppedBroker = dropped.labels('broker');
const droppedTooLarge = dropped.labels('too_large');
const droppedClosed = dropped.labels('closed');
// Exported at 0 from the start: a rule or panel on drops sees the series before the first drop, not an absent one.
for (const c of [droppedFull, droppedBroker, droppedTooLarge, droppedClosed]) c.inc(0);

/** The stream holding shipped log lines (a work queue: a batch is deleted once the log store has acked it). */
export function logStreamName(prefix: string): string {
  return `${prefix ? prefix.replace(/[^A-Za-z0-9_-]/g, '_') + '_' : ''}LOGS`;
}

/** `<prefix>.logs.<service>`: the subject a process ships its batches on (`logs.>` for every service). */
export function logSubject(prefix: string, service: string): string {
  return natsSubject(prefix, `logs.${service.replace(/[^A-Za-z0-9_-]/g, '_')}`);
}

/**
 * Creates the log stream when missing. Bounded on its own: if no log store consumes for a day, or the backlog
 * passes 1 GiB, the oldest batches go (logs must never fill the broker the domain events need).
 */
export async function ensureLogStream(jsm: JetStreamManager, prefix: string): Promise<void> {
  const name = logStreamName(prefix);
  try {
    await jsm.streams.info(name);
    return;
  } catch {
    /* missing: create it */
  }
  try {
    await jsm.streams.add({
      name,
      subjects: [natsSubject(prefix, 'logs.>')],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(24 * 3600 * 1000),
      max_bytes: 1024 * 1024 * 1024,
      duplicate_window: nanos(2 * 60 * 1000),
    });
  } catch (err) {
    if (!/already in use|stream name already/i.test(String(err))) throw err;
  }
}

export interface LogShipperOptions {
  /** The process's service name: the subject's last token. */
  service: string;
  /** Lines held while waiting for the broker; more are dropped (counted). */
  maxBufferedLines: number;
  /** Lines per batch (one NATS message). */
  batchLines: number;
  /** Bytes per batch, under NATS's default 1 MB message limit. */
  batchBytes: number;
  /** A line longer than this is dropped (counted), never split. */
  maxLineBytes: number;
  /** How often a partial batch is shipped. */
  flushIntervalMs: number;
  /** Batches awaiting the broker's ack at once. */
  maxInFlight: number;
  /** Publish attempts of one batch (same message id) before its lines count as dropped. */
  publishAttempts: number;
  publishTimeoutMs: number;
}

const DEFAULTS: Omit<LogShipperOptions, 'service'> = {
  maxBufferedLines: 10_000,
  batchLines: 500,
  batchBytes: 512 * 1024,
  maxLineBytes: 256 * 1024,
  flushIntervalMs: 200,
  maxInFlight: 4,
  publishAttempts: 3,
  publishTimeoutMs: 5000,
};

/** A secret key whose value pino left in place (nested deeper than its redact paths reach). */
const UNREDACTED = new RegExp(
  `"(?:${LOG_SECRET_KEYS.map((k) => k.replace(/[-]/g, '\\$&')).join('|')})":(?!"\\[redacted\\]")`,
);

/** Every secret key at any depth replaced by `[redacted]` (pino's paths stop at three levels). */
export function redactLogFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactLogFields);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEY_SET.has(k) ? '[redacted]' : redactLogFields(v)]),
    );
  }
  return value;
}
const SECRET_KEY_SET = new Set(LOG_SECRET_KEYS);

/** A line as it leaves the process: unchanged unless a secret key survived pino's redaction somewhere deeper. */
export function scrubLine(line: string): string | undefined {
  if (!UNREDACTED.test(line)) return line;
  try {
    return JSON.stringify(redactLogFields(JSON.parse(line)));
  } catch {
    return undefined;
  }
}

/** Where batches go: a JetStream publish of one message (tests may stand in). */
interface Target {
  js: JetStreamClient;
  jsm: JetStreamManager;
  prefix: string;
}

/**
 * A pino destination (`write(line)`) that ships lines to the central log store. Lines wait in the buffer until a
 * NATS connection is attached (`connect(config)` opens the shipper's own, or `attach` takes one); stdout output is
 * untouched (createLogger writes to both).
 */
export class LogShipper {
  private readonly opts: LogShipperOptions;
  private buffer: string[] = [];
  private target?: Target;
  private nc?: NatsConnection;
  private ownConnection = false;
  private inFlight = 0;
  private readonly pending = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private scheduled = false;
  private closed = false;
  private connected = true;
  private waiters: (() => void)[] = [];
  /** Lines this shipper had acked / dropped (the metrics add up every shipper of the process). */
  readonly stats = { shipped: 0, dropped: 0 };

  constructor(opts: Partial<LogShipperOptions> & { service: string }) {
    this.opts = { ...DEFAULTS, ...opts };
    this.timer = setInterval(() => this.flush(), this.opts.flushIntervalMs);
    this.timer.unref();
  }

  /** pino's destination interface: called synchronously for every line; only appends. */
  write(line: string): boolean {
    if (this.closed) {
      this.drop(droppedClosed, 1);
      return true;
    }
    if (this.buffer.length >= this.opts.maxBufferedLines) {
      this.drop(droppedFull, 1);
    } else if (line.length > this.opts.maxLineBytes) {
      this.drop(droppedTooLarge, 1);
    } else {
      this.buffer.push(line);
      // A full batch leaves at the next turn of the event loop, not inside the log call.
      if (this.buffer.length >= this.opts.batchLines && !this.scheduled && this.target) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    }
    return true;
  }

  /** Lines waiting in the buffer. */
  get buffered(): number {
    return this.buffer.length;
  }

  /**
   * Opens the shipper's own NATS connection (retrying until the broker answers; lines wait in the buffer meanwhile)
   * and ensures the log stream. Its own connection keeps a burst of logs from queueing ahead of a service's commands.
   */
  connect(config: Pick<Config, 'natsUrl' | 'natsPrefix'>): Promise<void> {
    const ready = (async () => {
      const nc = await connect({
        servers: config.natsUrl,
        name: `${this.opts.service}-logs`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        waitOnFirstConnect: true,
      });
      if (this.closed) {
        await nc.close();
        return;
      }
      this.ownConnection = true;
      await this.attach(nc, config.natsPrefix);
    })();
    // A process must not crash because its logs cannot leave: lines stay buffered (then dropped, counted).
    ready.catch(() => undefined);
    return ready;
  }

  /** Ships over an open connection (ensures the stream first). */
  async attach(nc: NatsConnection, prefix: string): Promise<void> {
    const jsm = await nc.jetstreamManager();
    await ensureLogStream(jsm, prefix);
    this.nc = nc;
    this.target = { js: nc.jetstream(), jsm, prefix };
    void this.watch(nc);
    this.flush();
  }

  /**
   * Follows the connection: while it is down nothing new is taken from the buffer (it fills, then lines are
   * dropped at the door), and batches already in flight wait for the reconnect to retry with their message id.
   * Counting those as dropped would be wrong: the client sends what it buffered during the outage once it is back,
   * and the stream's dedupe window then tells the retry apart.
   */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.wakeUp();
        this.flush();
      }
    }
  }

  private wakeUp(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }

  /** Resolves on reconnect or close. */
  private back(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Starts shipping what the buffer holds (as many batches as the in-flight limit allows). */
  flush(): void {
    const target = this.target;
    if (!target || !this.connected) return;
    while (this.buffer.length && this.inFlight < this.opts.maxInFlight) {
      const batch = this.takeBatch();
      if (!batch.length) continue;
      this.inFlight++;
      const p = this.publish(target, batch).finally(() => {
        this.inFlight--;
        this.pending.delete(p);
        if (this.buffer.length) this.flush();
      });
      this.pending.add(p);
    }
  }

  /** Resolves when the buffer is empty and nothing is in flight (or `timeoutMs` passed). */
  async drain(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.buffer.length || this.pending.size) && Date.now() < deadline) {
      this.flush();
      await Promise.race([Promise.all(this.pending), new Promise((r) => setTimeout(r, 50))]);
    }
  }

  /** Ships what is buffered (bounded by `timeoutMs`), then stops; closes the connection if it opened it. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    await this.drain(timeoutMs);
    this.closed = true;
    this.wakeUp();
    await Promise.all(this.pending);
    clearInterval(this.timer);
    // Whatever could not leave in time is lost: say so in the metric.
    if (this.buffer.length) this.drop(droppedBroker, this.buffer.splice(0).length);
    if (this.ownConnection) await this.nc?.drain().catch(() => this.nc?.close());
  }

  private drop(child: { inc(n?: number): void }, n: number): void {
    this.stats.dropped += n;
    child.inc(n);
  }

  private takeBatch(): string[] {
    const batch: string[] = [];
    let bytes = 0;
    let taken = 0;
    for (const raw of this.buffer) {
      if (batch.length >= this.opts.batchLines) break;
      if (batch.length && bytes + raw.length > this.opts.batchBytes) break;
      taken++;
      const line = scrubLine(raw);
      if (line === undefined) {
        this.drop(droppedTooLarge, 1);
        continue;
      }
      bytes += line.length;
      batch.push(line.endsWith('\n') ? line : `${line}\n`);
    }
    this.buffer.splice(0, taken);
    return batch;
  }

  private async publish(target: Target, batch: string[]): Promise<void> {
    const id = randomUUID();
    const data = Buffer.from(batch.join(''));
    for (let attempt = 1; ; attempt++) {
      try {
        await target.js.publish(logSubject(target.prefix, this.opts.service), data, {
          msgID: id,
          timeout: this.opts.publishTimeoutMs,
        });
        this.stats.shipped += batch.length;
        shipped.inc(batch.length);
        return;
      } catch {
        if (this.closed) {
          this.drop(droppedBroker, batch.length);
          return;
        }
        if (!this.connected) {
          // Not an attempt of its own: the outage is waited out (the buffer meanwhile fills and drops).
          attempt--;
          await this.back();
          continue;
        }
        if (attempt >= this.opts.publishAttempts) {
          this.drop(droppedBroker, batch.length);
          return;
        }
        // The stream may have been deleted (a broker reset): make sure it exists before the next attempt.
        await ensureLogStream(target.jsm, target.prefix).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }
}

/**
 * The logger of a service process (`runSubgraph`, the gateway's main): stdout as always and, unless
 * LOG_SHIPPING=off, a shipper that opens its own NATS connection in the background. `close` ships what is left
 * (bounded) at shutdown.
 */
export function createProcessLogger(
  service: string,
  config: Pick<Config, 'logLevel' | 'logs' | 'natsUrl' | 'natsPrefix'>,
): { logger: Logger; shipper?: LogShipper; close(): Promise<void> } {
  if (!config.logs.shipping) return { logger: createLogger(service, config.logLevel), close: async () => undefined };
  const shipper = new LogShipper({ service, maxBufferedLines: config.logs.bufferLines });
  const logger = createLogger(service, config.logLevel, undefined, { ship: shipper });
  void shipper.connect(config);
  return { logger, shipper, close: () => shipper.close() };
}
