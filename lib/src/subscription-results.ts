import { createSourceEventStream, execute, ExecutionArgs, ExecutionResult } from 'graphql';
import { LentResults } from './lending';

/**
 * A subgraph's subscriptions executed for graphql-ws's server (`subscribeLent`), in place of graphql-js `subscribe`.
 *
 * graphql-js maps a subscription's event stream with async functions (`mapAsyncIterator`): between two events each
 * subscription waits on a chain of promises (graphql-ws's `for await` → the mapped `next` → its `await` of the source's
 * `next`), and every one of them lives a whole tick period. At 10,000 countdowns that chain, renewed every second, was
 * promoted to old space and kept the cart subgraph's collector busy (bench/README.md, "Round six"). A source that can
 * push its events (`PushSource`, the cart's timer queue) is instead executed as each event arrives and its result
 * handed straight to the one promise graphql-ws waits on; any other source is pulled as graphql-js does. Either way
 * the result is lent (lending.ts) and let go once graphql-ws asks for the next one.
 */

/** Where a push source delivers its events. */
export interface PushSink<T> {
  /** One event, in order. */
  push(value: T): void;
  /** No more events: the stream ends after those already pushed. */
  end(): void;
}

/** An event stream that can push its events instead of being pulled (it still works as a plain iterator). */
export interface PushSource<T> extends AsyncIterator<T> {
  /** From now on every event (and any queued before) goes to `sink`; called at most once, before any `next()`. */
  attach(sink: PushSink<T>): void;
  /** At most this many undelivered results are kept; beyond, the oldest go (events that supersede each other). */
  readonly maxBacklog?: number;
}

function isPushSource(it: AsyncIterator<unknown>): it is PushSource<unknown> {
  return typeof (it as Partial<PushSource<unknown>>).attach === 'function';
}

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}

type Result = ExecutionResult | Promise<ExecutionResult>;
type Next = IteratorResult<ExecutionResult>;
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
const noop = () => undefined;

/** Runs the operation with `payload` as its root value (one arguments object per subscription, refilled per event). */
function executeWith(args: ExecutionArgs, payload: unknown): Result {
  args.rootValue = payload;
  try {
    // execute reads its arguments into a fresh execution context before it returns.
    return execute(args);
  } catch (err) {
    return Promise.reject(err);
  } finally {
    args.rootValue = undefined;
  }
}

/** A pushed subscription's results: executed on arrival, queued until graphql-ws asks, lent when handed over. */
export class PushedResults implements AsyncIterableIterator<ExecutionResult>, PushSink<unknown> {
  private readonly queue: Result[] = [];
  private waiter: ((r: Next | Promise<Next>) => void) | undefined;
  private ending = false;
  private closed = false;
  private readonly lent = new LentResults();
  private readonly args: ExecutionArgs;
  private readonly maxBacklog: number;
  private readonly lend = (r: ExecutionResult): Next => this.lent.lend(r);
  // An event that fails to execute ends the stream (graphql-ws reports the error): the source is released.
  private readonly fail = (err: unknown): never => {
    this.close();
    throw err;
  };

  constructor(
    private readonly source: PushSource<unknown>,
    args: ExecutionArgs,
  ) {
    this.args = { ...args };
    this.maxBacklog = source.maxBacklog ?? Infinity;
    source.attach(this);
  }

  push(payload: unknown): void {
    if (this.closed || this.ending) return;
    const result = executeWith(this.args, payload);
    // A result the subscriber never takes (it left) must not surface as an unhandled rejection.
    if (result instanceof Promise) result.catch(noop);
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter(this.take(result));
      return;
    }
    this.queue.push(result);
    // The dropped result's rejection (if any) is already handled above.
    if (this.queue.length > this.maxBacklog) void this.queue.shift();
  }

  end(): void {
    if (this.ending) return;
    this.ending = true;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter(DONE);
    }
  }

  private take(result: Result): Next | Promise<Next> {
    return result instanceof Promise ? result.then(this.lend, this.fail) : this.lent.lend(result);
  }

  /** One call at a time (graphql-ws's `for await` asks for the next result once it has sent the last). */
  next(): Promise<Next> {
    this.lent.release();
    if (this.queue.length) return Promise.resolve(this.take(this.queue.shift()!));
    if (this.ending || this.closed) return Promise.resolve(DONE);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  return(): Promise<Next> {
    this.close();
    return Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<Next> {
    this.close();
    return Promise.reject(err);
  }

  /** The subscriber left (graphql-ws calls `return`): the source is told, nothing more is queued. */
  private close(): void {
    this.lent.release();
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(DONE);
    void this.source.return?.()?.catch(noop);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }
}

/** Any other source, pulled as graphql-js pulls it: each event executed when graphql-ws asks for it. */
export class PulledResults implements AsyncIterableIterator<ExecutionResult> {
  private readonly lent = new LentResults();
  private readonly args: ExecutionArgs;
  private readonly lend = (r: ExecutionResult): Next => this.lent.lend(r);
  private readonly fail = (err: unknown): Promise<never> => {
    const rethrow = () => Promise.reject(err);
    return this.source.return ? this.source.return().then(rethrow, rethrow) : rethrow();
  };
  private readonly map = (r: IteratorResult<unknown>): Next | Promise<Next> => {
    if (r.done) return DONE;
    const result = executeWith(this.args, r.value);
    return result instanceof Promise ? result.then(this.lend, this.fail) : this.lent.lend(result);
  };

  constructor(
    private readonly source: AsyncIterator<unknown>,
    args: ExecutionArgs,
  ) {
    this.args = { ...args };
  }

  next(): Promise<Next> {
    this.lent.release();
    return this.source.next().then(this.map);
  }

  return(): Promise<Next> {
    this.lent.release();
    return this.source.return ? this.source.return().then(() => DONE) : Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<Next> {
    this.lent.release();
    return this.source.throw ? this.source.throw(err).then(() => DONE) : Promise.reject(err);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }
}

/**
 * graphql-js `subscribe` for graphql-ws's server: the same source event stream (the field's subscribe resolver, its
 * errors as a single result), each event executed as graphql-js would, results lent.
 */
export async function subscribeLent(
  args: ExecutionArgs,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source as ExecutionResult;
  const it = source[Symbol.asyncIterator]();
  return isPushSource(it) ? new PushedResults(it, args) : new PulledResults(it, args);
}
