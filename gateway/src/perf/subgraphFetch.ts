import { Agent, request } from 'undici';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import { INTERNAL_TOKEN_HEADER } from '@shop/kernel';

type Fetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherResponse = Awaited<ReturnType<Fetcher>>;
type FetcherHeaders = FetcherResponse['headers'];

export interface SubgraphFetchOptions {
  /** Merge identical in-flight subgraph queries of the same identity into one request. */
  dedupe: boolean;
  /** Kept-alive connections per subgraph origin. */
  connections?: number;
  /** Longest a request may take, headers and body (undici's own defaults are 300 s for each and none overall). */
  timeoutMs?: number;
}

/**
 * A fetcher whose every request is aborted after `timeoutMs`, headers and body alike: a subgraph that accepts the
 * connection and never answers costs a client `timeoutMs`, not undici's or the OS's minutes. The abort reaches the
 * data source as a TimeoutError (see `isTimeout`), which it answers as SERVICE_UNAVAILABLE naming the subgraph.
 */
export function withTimeout(fetcher: Fetcher, timeoutMs: number): Fetcher {
  return (url, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal as AbortSignal, timeout]) : timeout;
    return fetcher(url, { ...init, signal });
  };
}

/**
 * The same whole-request deadline as `withTimeout`, for a fetcher that knows when a request is over (the undici
 * fetcher: after its body is read): one AbortController per request, and one interval timer for all of them, instead
 * of AbortSignal.timeout's timer and finalization registration per request (~12 µs each, against ~0.3 µs here; a
 * signed-in page makes three subgraph requests). Every request has the same timeout, so deadlines come in the order
 * the requests started: a list, finished requests unlinked at once, the timer aborting from the front. A request
 * is aborted at most one tick (timeout ÷ 10, at most 100 ms) after its deadline, never before.
 */
export class Deadlines {
  private head?: Deadline;
  private tail?: Deadline;
  private timer?: NodeJS.Timeout;
  private readonly tickMs: number;

  constructor(private readonly timeoutMs: number) {
    this.tickMs = Math.max(1, Math.min(100, Math.floor(timeoutMs / 10)));
  }

  /** A new request's deadline; `end` it when the request is over, answered or not. */
  start(): Deadline {
    const d: Deadline = { at: Date.now() + this.timeoutMs, controller: new AbortController() };
    if (this.tail) {
      this.tail.next = d;
      d.prev = this.tail;
    } else this.head = d;
    this.tail = d;
    if (!this.timer) this.timer = setInterval(() => this.sweep(), this.tickMs).unref();
    return d;
  }

  end(d: Deadline): void {
    if (d.prev) d.prev.next = d.next;
    else if (this.head === d) this.head = d.next;
    if (d.next) d.next.prev = d.prev;
    else if (this.tail === d) this.tail = d.prev;
    d.prev = d.next = undefined;
    if (!this.head) this.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = Date.now();
    while (this.head && this.head.at <= now) {
      const d = this.head;
      this.end(d);
      // The reason AbortSignal.timeout gives, so `isTimeout` and the data source treat both alike.
      d.controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }
  }
}
interface Deadline {
  at: number;
  controller: AbortController;
  prev?: Deadline;
  next?: Deadline;
}

/** An aborted or timed-out subgraph request, by any of the fetchers (undici, make-fetch-happen). */
export function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | undefined;
  return (
    e?.name === 'TimeoutError' ||
    e?.name === 'AbortError' ||
    e?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e?.code === 'UND_ERR_BODY_TIMEOUT' ||
    e?.code === 'UND_ERR_ABORTED'
  );
}

/** Read-only response headers over undici's plain record (what the data source reads: content-type, cache-control). */
class ResponseHeaders implements FetcherHeaders {
  private readonly map = new Map<string, string>();
  constructor(raw: Record<string, string | string[] | undefined>) {
    for (const [k, v] of Object.entries(raw))
      if (v !== undefined) this.map.set(k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v);
  }
  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }
  append(name: string, value: string): void {
    const k = name.toLowerCase();
    const prev = this.map.get(k);
    this.map.set(k, prev ? `${prev}, ${value}` : value);
  }
  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), value);
  }
  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }
  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }
  keys(): IterableIterator<string> {
    return this.map.keys();
  }
  values(): IterableIterator<string> {
    return this.map.values();
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.map.entries();
  }
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A FetcherResponse over a body already read; each caller gets its own (the gateway parses and mutates its copy). */
function toResponse(url: string, raw: RawResponse): FetcherResponse {
  const res: FetcherResponse = {
    bodyUsed: false,
    url,
    redirected: false,
    status: raw.status,
    ok: raw.status >= 200 && raw.status < 300,
    statusText: String(raw.status),
    headers: new ResponseHeaders(raw.headers),
    text: async () => raw.text,
    json: async () => JSON.parse(raw.text),
    arrayBuffer: async () => {
      const b = Buffer.from(raw.text);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },
    clone: () => toResponse(url, raw),
  };
  return res;
}

/** Subgraph operations the gateway sends are `query …`, `{ … }`, `mutation …` or `subscription …`; only queries are merged. */
const QUERY_BODY = /^\{"query":"(?:query\b|\{)/;

/**
 * The gateway's fetcher for subgraph requests: undici with kept-alive connection pools per subgraph (instead of
 * make-fetch-happen, which Apollo's data source uses by default and which costs more CPU than the rest of a
 * small plan), and optional merging of identical in-flight queries. Merging never crosses identities: the key is
 * the URL, the caller's internal token (it names user, role and client address) and the exact body.
 */
export function createSubgraphFetcher(opts: SubgraphFetchOptions): {
  fetcher: Fetcher;
  inflight: () => number;
  /** Whether it ends every request after `timeoutMs` itself, body included (then `withTimeout` is not needed). */
  timesOut: boolean;
  close(): Promise<void>;
} {
  const agent = new Agent({
    connections: opts.connections ?? 128,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    ...(opts.timeoutMs ? { headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs } : {}),
  });
  const inflight = new Map<string, Promise<RawResponse>>();
  const deadlines = opts.timeoutMs ? new Deadlines(opts.timeoutMs) : undefined;

  const send = async (url: string, init: Parameters<Fetcher>[1]): Promise<RawResponse> => {
    const deadline = deadlines?.start();
    const own = deadline?.controller.signal;
    const theirs = init?.signal as AbortSignal | undefined;
    try {
      const res = await request(url, {
        dispatcher: agent,
        method: (init?.method ?? 'POST') as 'POST',
        headers: init?.headers,
        body: init?.body,
        signal: own && theirs ? AbortSignal.any([theirs, own]) : (own ?? theirs),
      });
      return { status: res.statusCode, headers: res.headers as RawResponse['headers'], text: await res.body.text() };
    } finally {
      if (deadline) deadlines!.end(deadline);
    }
  };

  const fetcher: Fetcher = async (url, init) => {
    const body = typeof init?.body === 'string' ? init.body : undefined;
    if (!opts.dedupe || body === undefined || !QUERY_BODY.test(body)) return toResponse(url, await send(url, init));
    const token = init?.headers?.[INTERNAL_TOKEN_HEADER] ?? '';
    const key = `${url}\n${token}\n${body}`;
    let pending = inflight.get(key);
    if (!pending) {
      pending = send(url, init).finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return toResponse(url, await pending);
  };
  return {
    fetcher,
    inflight: () => inflight.size,
    timesOut: !!deadlines,
    close: () => {
      deadlines?.stop();
      return agent.close();
    },
  };
}
