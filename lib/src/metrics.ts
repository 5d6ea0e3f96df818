import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';
import client from 'prom-client';

/**
 * The process's Prometheus metrics (prom-client). One registry per process: every module declares its metrics with
 * the get-or-create helpers below, so services started side by side in one process (tests) share them instead of
 * failing on a second registration. Names follow Prometheus conventions: `shop_` prefix, unit suffix
 * (`_seconds`, `_bytes`), `_total` on counters, bounded label values. docs/observability.md "Metrics" lists them.
 */
export const registry = new client.Registry();
export { client as prom };

export function counter<L extends string = string>(cfg: client.CounterConfiguration<L>): client.Counter<L> {
  return (
    (registry.getSingleMetric(cfg.name) as client.Counter<L> | undefined) ??
    new client.Counter<L>({ ...cfg, registers: [registry] })
  );
}

export function gauge<L extends string = string>(cfg: client.GaugeConfiguration<L>): client.Gauge<L> {
  return (
    (registry.getSingleMetric(cfg.name) as client.Gauge<L> | undefined) ??
    new client.Gauge<L>({ ...cfg, registers: [registry] })
  );
}

export function histogram<L extends string = string>(cfg: client.HistogramConfiguration<L>): client.Histogram<L> {
  return (
    (registry.getSingleMetric(cfg.name) as client.Histogram<L> | undefined) ??
    new client.Histogram<L>({ ...cfg, registers: [registry] })
  );
}

/** One sample a scrape-time source reports: label values and the value. */
export type Sample<L extends string> = [Partial<Record<L, string>>, number];

/** A gauge whose value is read at scrape time from any number of sources (e.g. one per service in a test process). */
export interface ScrapeGauge<L extends string> {
  /** Adds a source; the returned function removes it (a service's Lifecycle closer). */
  add(source: () => Promise<Sample<L>[]>): () => void;
}

const scrapeSources = new Map<string, Set<() => Promise<Sample<string>[]>>>();
/** How long one source may take at scrape time before its samples are left out of that scrape. */
const SOURCE_TIMEOUT_MS = 2000;

/**
 * A gauge filled at scrape time (outbox backlog, consumer pending, email queue): every scrape asks each source and
 * reports what they answered; a source that fails or is slower than 2 s is left out of that scrape (and logged by
 * nobody: the gap in the series is the signal), so one sick dependency never fails the whole scrape.
 */
export function scrapeGauge<L extends string>(cfg: {
  name: string;
  help: string;
  labelNames: readonly L[];
}): ScrapeGauge<L> {
  let sources = scrapeSources.get(cfg.name);
  if (!sources) {
    const set = new Set<() => Promise<Sample<string>[]>>();
    sources = set;
    scrapeSources.set(cfg.name, set);
    gauge<L>({
      ...cfg,
      async collect() {
        this.reset();
        const results = await Promise.all([...set].map((s) => withTimeout(s(), SOURCE_TIMEOUT_MS).catch(() => [])));
        for (const samples of results) for (const [labels, value] of samples) this.set(labels as never, value);
      },
    });
  }
  const set = sources;
  return {
    add(source) {
      set.add(source);
      return () => set.delete(source);
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * How often the event-loop lag is sampled. prom-client's default (10 ms) wakes an idle process a hundred times a
 * second, which cost 7 ms of CPU per second in each process here (the whole stack, idle: 49 of 59 ms/s); at 50 ms it
 * costs about 1, and a stall still shows: the sample that falls in it fires late by as much.
 */
export const EVENT_LOOP_SAMPLE_MS = 50;

let defaultsOn = false;
/** Node's default process metrics (event-loop lag, heap, GC, CPU, handles) in the registry, once per process. */
export function collectDefaultMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}

/** `GET /metrics`: the registry in Prometheus' text format. */
export const metricsHandler: RequestHandler = (_req, res, next) => {
  registry
    .metrics()
    .then((text) => res.type(registry.contentType).send(text))
    .catch(next);
};

// ---- HTTP request duration: every process, every route ----

/** First path segments that name a route; every other path is `other` (label values stay bounded). */
const ROUTES = new Set(['graphql', 'media', 'health', 'ready', 'metrics', 'webhooks', 'dev', 'uploads', 'files']);

/** The route label of a request path: `/graphql`, `/media`, `/health`, … or `other` (the storefront's pages and assets). */
export function routeOf(path: string): string {
  const first = path.split('/')[1] ?? '';
  return ROUTES.has(first) ? `/${first}` : 'other';
}

const httpDuration = () =>
  histogram<'service' | 'route' | 'method' | 'status_class'>({
    name: 'shop_http_request_duration_seconds',
    help: 'HTTP requests served, by process, route (first path segment), method and status class (2xx, 4xx, …).',
    labelNames: ['service', 'route', 'method', 'status_class'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']);

/**
 * Times every request of a process until its response is finished or the client went away (the process's HTTP
 * front calls it first: lib/src/graphql-http.ts). `path` is the request's path as it arrived.
 */
export function httpRequestTimer(
  service: string,
): (req: http.IncomingMessage, res: http.ServerResponse, path: string) => void {
  const h = httpDuration();
  return (req, res, path) => {
    const started = process.hrtime.bigint();
    const route = routeOf(path);
    const method = METHODS.has(req.method ?? '') ? req.method! : 'OTHER';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const status = res.writableFinished ? `${Math.floor(res.statusCode / 100)}xx` : 'aborted';
      h.observe({ service, route, method, status_class: status }, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.once('finish', finish);
    res.once('close', finish);
  };
}

// ---- Listeners ----

export interface MetricsServer {
  port: number;
  stop(): Promise<void>;
}

/**
 * A listener serving only `GET /metrics` (the gateway's GATEWAY_METRICS_PORT: never the public port). `text` gives
 * the exposition and its content type: this process's registry, or in a cluster primary the workers' sum.
 */
export async function startMetricsServer(
  port: number,
  text: () => Promise<{ body: string; contentType: string }> = async () => ({
    body: await registry.metrics(),
    contentType: registry.contentType,
  }),
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at GET /metrics\n');
      return;
    }
    text().then(
      ({ body, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * node:cluster: in a worker, answers the primary's requests for this registry (prom-client's AggregatorRegistry
 * protocol over the cluster IPC channel); in the primary, returns the exposition of every worker's registry summed
 * (counters and histograms add up; see prom-client's per-metric aggregators for the default process metrics).
 */
export function clusterMetrics(): () => Promise<{ body: string; contentType: string }> {
  // The constructor installs the IPC listeners of the side it runs on (primary or worker).
  const aggregator = new client.AggregatorRegistry();
  client.AggregatorRegistry.setRegistries([registry]);
  return async () => {
    if (!cluster.isPrimary) throw new Error('clusterMetrics() is served by the primary');
    return { body: await aggregator.clusterMetrics(), contentType: aggregator.contentType };
  };
}
