/**
 * Group commit: many callers' small writes of one kind done by fewer statements. The first item submitted goes at
 * once, alone; the items submitted while that write runs go together in the next one, and so on. Nothing waits on a
 * timer, so a lone caller is not delayed, and under load the batches grow with the number of callers waiting (what
 * PostgreSQL's own `commit_delay` does for WAL flushes, here for whole statements and their transactions).
 *
 * `write` gets the batch in submission order and returns one result per item, in that order; when it throws, every
 * item of that batch is rejected with its error, and the next batch is tried on its own.
 */
export class GroupCommit<T, R = void> {
  private waiting: { item: T; resolve: (r: R) => void; reject: (err: unknown) => void }[] = [];
  private running = false;

  private readonly maxBatch: number;
  private readonly afterTurn: boolean;

  /**
   * `maxBatch`: most items per write (500). `afterTurn`: an idle queue's first write waits for the end of the current
   * turn of the event loop, so that the items submitted in that turn go together too — for callers that arrive in
   * bursts within one turn (the messages one socket read delivers), at the cost of that turn's delay for a lone one.
   */
  constructor(
    private readonly write: (items: T[]) => Promise<R[]>,
    opts: { maxBatch?: number; afterTurn?: boolean } = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.afterTurn = opts.afterTurn ?? false;
  }

  /** Resolves with this item's result once the write that took it has finished. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        if (this.afterTurn) setImmediate(() => void this.drain());
        else void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length) {
      const batch = this.waiting.splice(0, this.maxBatch);
      try {
        const results = await this.write(batch.map((w) => w.item));
        batch.forEach((w, i) => w.resolve(results[i]));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    // In the same synchronous stretch as the last look at `waiting`: an item submitted after it starts a new drain.
    this.running = false;
  }
}
