import { AppError, ErrorCode } from './errors';

export interface BulkheadOptions {
  /** Runs at once; 0 = no limit (every call runs at once, nothing waits). */
  maxConcurrent: number;
  /** Calls waiting for a turn beyond which a call is refused at once (RATE_LIMITED). */
  maxWaiting: number;
  /** How long a call waits for its turn before it is refused (RATE_LIMITED); it never starts late. */
  maxWaitMs: number;
  /** The refusal's message. */
  busyMessage?: string;
}

/**
 * A bulkhead: at most `maxConcurrent` calls of one kind run at once in this process; the others wait in line, first
 * come first served, for up to `maxWaitMs`, and at most `maxWaiting` of them; beyond either bound a call is refused
 * with RATE_LIMITED (`retryAfter` 1 s) without having started. A waiting call costs nothing but its place in line, so
 * a burst of expensive calls (a sale's checkouts) queues here instead of slowing every other request of the machine
 * down with it.
 */
export class Bulkhead {
  private running = 0;
  private readonly line: { start: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(private readonly opts: BulkheadOptions) {}

  /** Calls running now. */
  get active(): number {
    return this.running;
  }

  /** Calls waiting for a turn now. */
  get waiting(): number {
    return this.line.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.opts.maxConcurrent <= 0) return fn();
    if (this.running < this.opts.maxConcurrent) this.running++;
    else await this.turn();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Waits for a running call to hand over its slot (the slot count does not change in between). */
  private turn(): Promise<void> {
    if (this.line.length >= this.opts.maxWaiting) return Promise.reject(this.busy());
    return new Promise<void>((resolve, reject) => {
      const entry = {
        start: resolve,
        timer: setTimeout(() => {
          const i = this.line.indexOf(entry);
          if (i >= 0) this.line.splice(i, 1);
          reject(this.busy());
        }, this.opts.maxWaitMs),
      };
      this.line.push(entry);
    });
  }

  private release(): void {
    const next = this.line.shift();
    if (!next) {
      this.running--;
      return;
    }
    clearTimeout(next.timer);
    next.start();
  }

  private busy(): AppError {
    return new AppError(ErrorCode.RATE_LIMITED, this.opts.busyMessage ?? 'Too busy; try again in a moment', {
      retryAfter: 1,
    });
  }
}
