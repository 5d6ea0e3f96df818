import type { ExecutionResult } from 'graphql';

/**
 * Subscription results lent to graphql-ws's server rather than given: the payload is let go when the server asks for
 * the next result. graphql-ws pulls with `for await`, and V8 keeps that loop's previous value alive while it awaits
 * the next one; without this every subscription holds its last event for a whole tick period, long enough to be
 * promoted to old space, and at 10,000 countdowns the collector then stalls the process every few seconds
 * (bench/README.md, "Round five"). The server asks for the next result only after it has sent the previous one.
 */

/** An execution result on loan (the fields of an `ExecutionResult`, refilled by `hold`, emptied by `release`). */
class LentResult implements ExecutionResult {
  data: ExecutionResult['data'] = undefined;
  errors: ExecutionResult['errors'] = undefined;
  extensions: ExecutionResult['extensions'] = undefined;
  hold(result: ExecutionResult): void {
    this.data = result.data;
    this.errors = result.errors;
    this.extensions = result.extensions;
  }
  release(): void {
    this.data = undefined;
    this.errors = undefined;
    this.extensions = undefined;
  }
}

/** One result and its iterator record per subscription, refilled per event (no two objects per event either). */
export class LentResults {
  private readonly lent = new LentResult();
  private readonly record: IteratorYieldResult<ExecutionResult> = { done: false, value: this.lent };
  lend(result: ExecutionResult): IteratorYieldResult<ExecutionResult> {
    this.lent.hold(result);
    return this.record;
  }
  release(): void {
    this.lent.release();
  }
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** Wraps a subscription's results (graphql-js `subscribe`) so that graphql-ws's server borrows each one. */
export class LendingIterator implements AsyncIterableIterator<ExecutionResult> {
  private readonly results = new LentResults();
  private readonly lend = (r: IteratorResult<ExecutionResult>): IteratorResult<ExecutionResult> =>
    r.done ? r : this.results.lend(r.value);

  constructor(private readonly source: AsyncIterator<ExecutionResult>) {}

  next(): Promise<IteratorResult<ExecutionResult>> {
    this.results.release();
    return this.source.next().then(this.lend);
  }

  return(value?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.results.release();
    return this.source.return ? this.source.return(value) : Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.results.release();
    return this.source.throw ? this.source.throw(err) : Promise.reject(err);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }
}

/** `subscribe`'s outcome with its stream of results lent (a single result, e.g. errors, passes unchanged). */
export function lendResults<T extends ExecutionResult | AsyncIterable<ExecutionResult>>(outcome: T): T {
  if (outcome && typeof outcome === 'object' && Symbol.asyncIterator in outcome)
    return new LendingIterator((outcome as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]()) as unknown as T;
  return outcome;
}
