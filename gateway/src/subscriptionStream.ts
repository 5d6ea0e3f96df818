import { ExecutionResult, FormattedExecutionResult, GraphQLError } from 'graphql';
import type { Sink } from 'graphql-ws';
import { AppError, ErrorCode, LentResults, Logger } from '@shop/kernel';

/** One event as the subgraph sent it. */
export type UpstreamEvent = FormattedExecutionResult<Record<string, unknown>>;
type Event = UpstreamEvent;
type Item = ExecutionResult | Promise<ExecutionResult> | typeof END;

/** Marks the end of the stream in the queue (after every event queued before it). */
const END = Symbol('end');
const DONE: IteratorResult<ExecutionResult> = Object.freeze({ done: true, value: undefined });
const noop = () => undefined;

/**
 * One client operation's upstream, as a bridged stream uses it (one object per subscription, methods rather than
 * closures: at 10,000 subscriptions every per-subscription closure and context is ~1 MB of heap).
 */
export interface UpstreamSource {
  readonly service: string;
  readonly logger: Logger;
  /** Subscribes upstream (graphql-ws client) and returns its dispose. */
  open(sink: Sink<Event>): () => void;
  /** The client's result for one upstream event (synchronous when no plan runs). */
  shape(event: Event): ExecutionResult | Promise<ExecutionResult>;
  /** Runs once, when the upstream is no longer needed (client left, upstream ended or failed for good). */
  released(): void;
}

/**
 * One client subscription bridged to its subgraph's, pushed rather than pulled: the upstream's events arrive on a sink
 * (graphql-ws `client.subscribe`) and are shaped and queued at once, and the client's side (graphql-ws's server, which
 * pulls with `for await`) takes them from the queue. Between two ticks a subscription therefore waits on ONE pending
 * promise, not on a chain of async generators (graphql-ws's `iterate`, then an async `next` around it): at 10,000
 * countdowns that chain was most of the gateway's live heap per subscription, and its promises, living a whole tick
 * period, were promoted and died in old space (bench/README.md, "Round three").
 *
 * Resumption: an upstream socket lost without the subgraph ending the operation (an instance stopped or crashed) is
 * re-subscribed after ~100 ms — behind a load balancer that lands on another instance, and the subscription's first
 * event carries the current state — then with back-off. While attempts keep failing the client hears
 * SERVICE_UNAVAILABLE once per outage (a `next` with errors; its operation stays open), and the events resume by
 * themselves once the service answers again. The subgraph's own error (e.g. FORBIDDEN) ends the stream with it.
 */
export class BridgedStream implements AsyncIterableIterator<ExecutionResult> {
  private readonly queue: Item[] = [];
  private waiter: ((r: IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>>) => void) | undefined;
  private upstream: UpstreamSink | undefined;
  private dispose: (() => void) | undefined;
  private retry: NodeJS.Timeout | undefined;
  private released = false;
  private closed = false;
  private failures = 0;
  private announced = false;
  private lostAt = 0;
  /** The result handed to the client's side, emptied when it asks for the next one (see `next`). */
  private readonly lent = new LentResults();

  constructor(private readonly source: UpstreamSource) {
    this.open();
  }

  private open(): void {
    this.retry = undefined;
    if (this.released) return;
    const sink = new UpstreamSink(this);
    this.upstream = sink;
    this.dispose = this.source.open(sink);
  }

  /** An event from the upstream `sink` (ignored when that upstream was already replaced or the stream ended). */
  onEvent(sink: UpstreamSink, event: Event): void {
    if (sink !== this.upstream || this.released) return;
    if (this.failures > 0 || this.announced) {
      this.source.logger.info(
        { service: this.source.service, afterMs: Date.now() - this.lostAt },
        'upstream subscription resumed',
      );
      this.failures = 0;
      this.announced = false;
    }
    let item: ExecutionResult | Promise<ExecutionResult>;
    try {
      item = this.source.shape(event);
    } catch (err) {
      item = Promise.reject(err);
    }
    // A result the client never takes (it left) must not surface as an unhandled rejection.
    if (item instanceof Promise) item.catch(noop);
    this.push(item);
  }

  onError(sink: UpstreamSink, err: unknown): void {
    if (sink !== this.upstream || this.released) return;
    this.upstream = undefined;
    this.dispose = undefined;
    if (isConnectionLoss(err)) {
      if (this.failures === 0 && !this.announced) {
        this.lostAt = Date.now();
        this.source.logger.warn(
          { service: this.source.service, err: describe(err) },
          'upstream subscription lost; re-subscribing',
        );
      }
      this.failures++;
      if (this.failures >= UNAVAILABLE_AFTER_FAILURES && !this.announced) {
        this.announced = true;
        this.push({ errors: [unavailableWhileRetrying(this.source.service)] });
      }
      this.retry = setTimeout(() => this.open(), resubscribeDelay(this.failures));
      return;
    }
    const errors = Array.isArray(err) ? err : [err];
    this.push({
      errors: errors.map((e) =>
        e instanceof GraphQLError ? e : new GraphQLError(String(e?.message ?? e), { extensions: e?.extensions }),
      ),
    });
    this.push(END);
    this.release();
  }

  /** The subgraph completed the operation (e.g. the cart's final event): the client's stream ends after what is queued. */
  onComplete(sink: UpstreamSink): void {
    if (sink !== this.upstream || this.released) return;
    this.upstream = undefined;
    this.dispose = undefined;
    this.push(END);
    this.release();
  }

  private push(item: Item): void {
    if (this.closed) return;
    const waiter = this.waiter;
    if (waiter && !this.queue.length) {
      this.waiter = undefined;
      waiter(this.take(item));
      return;
    }
    this.queue.push(item);
  }

  private take(item: Item): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> {
    if (item === END) {
      this.close();
      return DONE;
    }
    if (item instanceof Promise) return item.then((result) => this.lent.lend(result));
    return this.lent.lend(item);
  }

  /**
   * A result is the client side's until it asks for the next one; then its payload is let go (kernel `LentResults`:
   * graphql-ws's `for await` would otherwise keep each subscription's last event alive for a whole tick period).
   */
  next(): Promise<IteratorResult<ExecutionResult>> {
    this.lent.release();
    if (this.queue.length) return Promise.resolve(this.take(this.queue.shift()!));
    if (this.closed) return Promise.resolve(DONE);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** The client left (or graphql-ws's server is closing the socket). */
  return(): Promise<IteratorResult<ExecutionResult>> {
    this.close();
    return Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.close();
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lent.release();
    this.queue.length = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(DONE);
    this.release();
  }

  /** Unsubscribes upstream (if still open) and stops re-subscribing; once. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    const dispose = this.dispose;
    this.dispose = undefined;
    this.upstream = undefined;
    dispose?.();
    this.source.released();
  }
}

/** The sink one upstream subscription reports to: a method-bearing object, so a subscription costs no closures here. */
class UpstreamSink implements Sink<Event> {
  constructor(private readonly stream: BridgedStream) {}
  next(value: Event): void {
    this.stream.onEvent(this, value);
  }
  error(err: unknown): void {
    this.stream.onError(this, err);
  }
  complete(): void {
    this.stream.onComplete(this);
  }
}

/** Consecutive failed attempts after which the client hears SERVICE_UNAVAILABLE: the first re-subscribe (100 ms later)
 * normally reaches another instance, so a single lost instance is never reported. */
const UNAVAILABLE_AFTER_FAILURES = 2;
export const RESUBSCRIBE_BASE_MS = 100;
const RESUBSCRIBE_MAX_MS = 2_000;

/** Wait before the n-th failed attempt's successor (n ≥ 1): doubling from 100 ms up to 2 s, ±20 % so that many
 * subscriptions lost together do not retry in lockstep. */
function resubscribeDelay(failures: number): number {
  const base = Math.min(RESUBSCRIBE_MAX_MS, RESUBSCRIBE_BASE_MS * 2 ** (failures - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Whether an upstream failure is the transport's (worth re-subscribing) rather than the subgraph's answer: GraphQL
 * errors (an array) and protocol/authorization close codes (4400–4498, 4500+) are answers; socket errors (refused,
 * reset, a load balancer's 503 to the upgrade) and the 1xxx closes (going away, abnormal) are losses.
 */
function isConnectionLoss(err: unknown): boolean {
  if (Array.isArray(err)) return false;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number') return code < 4000 || code === 4499;
  return err instanceof Error || (typeof err === 'object' && err !== null && 'type' in err);
}

function describe(err: unknown): string {
  const e = err as { message?: string; code?: unknown; reason?: string } | undefined;
  return e?.message ?? `close ${String(e?.code)} ${e?.reason ?? ''}`.trim();
}

/** Names the service, never its address: the client keeps its operation and the events resume by themselves. */
function unavailableWhileRetrying(service: string): GraphQLError {
  return new AppError(ErrorCode.SERVICE_UNAVAILABLE, `The ${service} service is unavailable; retrying`, { service });
}
