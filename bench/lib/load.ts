/**
 * One measurement: autocannon (installed in bench/peers) drives a GraphQL POST at fixed concurrency for a fixed
 * time. Every response body is checked: only HTTP 200 with `data` and no `errors` counts as a success; anything
 * else is an error (the first few are kept for the report). Latency percentiles come from every response.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { PEERS_DIR } from './env';

export interface LoadRequest {
  url: string;
  /** The request body; called per request when the variables rotate. */
  body: string | (() => string);
  /** Headers of each request; called per request when the identity rotates. */
  headers: Record<string, string> | (() => Record<string, string>);
}

export interface LoadResult {
  durationSeconds: number;
  successes: number;
  errors: number;
  requestsPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  errorSamples: string[];
  /** Successful answers whose body says a response cache served them (`"responseCache":{"hit":true`: Hive's metadata). */
  cacheHits: number;
  /** Every response's latency (ms); kept out of the JSON report. */
  latencies?: Float64Array;
}

/** Several measurements of one operation and target as one: totals over totals, percentiles over all responses. */
export function mergeResults(rs: LoadResult[]): LoadResult {
  const all = new Float64Array(rs.reduce((n, r) => n + (r.latencies?.length ?? 0), 0));
  let at = 0;
  for (const r of rs)
    if (r.latencies) {
      all.set(r.latencies, at);
      at += r.latencies.length;
    }
  all.sort();
  const durationSeconds = rs.reduce((t, r) => t + r.durationSeconds, 0);
  const successes = rs.reduce((t, r) => t + r.successes, 0);
  return {
    durationSeconds,
    successes,
    errors: rs.reduce((t, r) => t + r.errors, 0),
    requestsPerSecond: successes / durationSeconds,
    p50: percentile(all, 50),
    p95: percentile(all, 95),
    p99: percentile(all, 99),
    errorSamples: rs.flatMap((r) => r.errorSamples).slice(0, 5),
    cacheHits: rs.reduce((t, r) => t + r.cacheHits, 0),
  };
}

interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
  onResponse?: (status: number, body: string) => void;
}
interface AutocannonInstance {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, responseTime: number) => void): void;
}
type Autocannon = (
  opts: Record<string, unknown>,
  cb: (err: Error | null, result: Record<string, unknown>) => void,
) => AutocannonInstance;

let autocannon: Autocannon | undefined;
function load(): Autocannon {
  autocannon ??= createRequire(path.join(PEERS_DIR, 'package.json'))('autocannon') as Autocannon;
  return autocannon;
}

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Whether a body is a successful GraphQL result. Cheap substring checks first (the load generator shares the
 * CPUs with the servers); a body that mentions "errors" is parsed to tell a real error list from data.
 */
export function isSuccess(status: number, body: string): boolean {
  if (status !== 200 || !body.includes('"data":{')) return false;
  if (!body.includes('"errors"')) return true;
  try {
    const parsed = JSON.parse(body) as { errors?: unknown[]; data?: unknown };
    return !parsed.errors?.length && parsed.data != null;
  } catch {
    return false;
  }
}

const HIT_MARK = '"responseCache":{"hit":true';

export function runLoad(req: LoadRequest, opts: { connections: number; seconds: number }): Promise<LoadResult> {
  const url = new URL(req.url);
  let successes = 0;
  let errors = 0;
  let cacheHits = 0;
  const samples: string[] = [];
  const latencies: number[] = [];
  const base = { 'content-type': 'application/json', accept: 'application/json' };
  const rotating = typeof req.headers === 'function' ? req.headers : undefined;
  const bodies = typeof req.body === 'function' ? req.body : undefined;
  const request: AutocannonRequest = {
    method: 'POST',
    path: url.pathname,
    headers: { ...base, ...(rotating ? rotating() : (req.headers as Record<string, string>)) },
    body: bodies ? bodies() : (req.body as string),
    onResponse: (status, body) => {
      if (isSuccess(status, body)) {
        successes++;
        if (body.includes(HIT_MARK)) cacheHits++;
      } else {
        errors++;
        if (samples.length < 5) samples.push(`${status} ${body.slice(0, 300)}`);
      }
    },
  };
  if (rotating || bodies)
    request.setupRequest = (r) => ({
      ...r,
      ...(rotating ? { headers: { ...base, ...rotating() } } : {}),
      ...(bodies ? { body: bodies() } : {}),
    });
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const instance = load()(
      { url: url.origin, connections: opts.connections, duration: opts.seconds, requests: [request], timeout: 30 },
      (err, result) => {
        if (err) return reject(err);
        const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
        const sorted = Float64Array.from(latencies).sort();
        const socketErrors = Number(result.errors ?? 0) + Number(result.timeouts ?? 0);
        resolve({
          durationSeconds: elapsed,
          successes,
          errors: errors + socketErrors,
          requestsPerSecond: successes / elapsed,
          p50: percentile(sorted, 50),
          p95: percentile(sorted, 95),
          p99: percentile(sorted, 99),
          errorSamples: samples,
          cacheHits,
          latencies: sorted,
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime);
    });
  });
}
