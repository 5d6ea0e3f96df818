import { gauge, Logger } from '@shop/kernel';

/** One subgraph's health as this gateway last saw it. */
export interface SubgraphStatus {
  name: string;
  /** Its `/ready` answered 200 at the last check. */
  up: boolean;
  /** When that check ran (ISO); absent before the first one finished. */
  checkedAt?: string;
  /** Why it was not up (status code or connection error). */
  error?: string;
}

const subgraphUp = gauge({
  name: 'shop_gateway_subgraph_up',
  help: "1 when the subgraph answered its /ready at this gateway's last check, else 0",
  labelNames: ['subgraph'],
});

/**
 * Per-subgraph health, polled in the background (every `intervalMs`, each check bounded by `timeoutMs`): reported in
 * the gateway's `/ready` body and as `shop_gateway_subgraph_up{subgraph}`. It never decides the gateway's own
 * readiness: a gateway serves what the subgraphs that are up can answer, and taking every gateway out of rotation
 * because one subgraph is down would turn a partial outage into a total one.
 */
export class SubgraphHealth {
  private readonly status = new Map<string, SubgraphStatus>();
  private timer?: NodeJS.Timeout;
  private readonly abort = new AbortController();

  constructor(
    /** Subgraph name → its GraphQL URL (`/ready` is checked on the same origin). */
    private readonly routing: Map<string, string>,
    private readonly logger: Logger,
    private readonly opts: { intervalMs: number; timeoutMs: number } = { intervalMs: 5000, timeoutMs: 2000 },
  ) {}

  /** Checks at once, then every `intervalMs`. */
  start(): void {
    if (this.timer) return;
    void this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One round of checks (the poller's; tests call it to skip the wait). */
  async checkAll(): Promise<void> {
    await Promise.all([...this.routing].map(([name, url]) => this.check(name, url)));
  }

  private async check(name: string, url: string): Promise<void> {
    let error: string | undefined;
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.timeoutMs)]);
      const res = await fetch(new URL('/ready', url), { signal });
      await res.body?.cancel();
      if (!res.ok) error = `status ${res.status}`;
    } catch (err) {
      if (this.abort.signal.aborted) return;
      const e = err as Error & { cause?: { code?: string } };
      error = e.cause?.code ?? e.name ?? 'unreachable';
    }
    const up = !error;
    const before = this.status.get(name);
    if (before?.checkedAt && before.up !== up)
      this.logger[up ? 'info' : 'warn']({ subgraph: name, error }, up ? 'subgraph up again' : 'subgraph down');
    this.status.set(name, { name, up, checkedAt: new Date().toISOString(), ...(error ? { error } : {}) });
    subgraphUp.set({ subgraph: name }, up ? 1 : 0);
  }

  /** Every routed subgraph, in routing order (down until its first check answered). */
  report(): SubgraphStatus[] {
    return [...this.routing.keys()].map((name) => this.status.get(name) ?? { name, up: false });
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
  }
}
