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
