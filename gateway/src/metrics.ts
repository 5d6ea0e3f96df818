import fs from 'node:fs';
import path from 'node:path';
import type { ApolloServerPlugin } from '@apollo/server';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import { counter, ErrorCode, gauge, histogram } from '@shop/kernel';
import { isTimeout } from './perf/subgraphFetch';

/**
 * The gateway's own metrics (docs/observability.md "Metrics"). Served on GATEWAY_METRICS_PORT by main.ts, never on
 * the public port. Every label value is bounded: operation names come from the safelist manifest
 * (schema/persisted-queries.json, written by `npm run compose` from schema/operations), error codes from the
 * contract's list and Apollo's own.
 */

/** Label of an operation without a name, and of a name no client of ours sends. */
export const ANONYMOUS = 'anonymous';
export const OTHER = 'other';

/** The manifest `npm run compose` writes, found from here upwards (gateway/src under jest, dist/gateway/src when built). */
export function findManifest(from = __dirname): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'schema/persisted-queries.json');
    if (fs.existsSync(file)) return file;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Operation names of schema/operations (via the manifest): the only names used as label values. */
export function knownOperationNames(file = findManifest()): Set<string> {
  if (!file) return new Set();
  try {
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as { operations?: { name?: unknown }[] };
    return new Set((manifest.operations ?? []).map((o) => o.name).filter((n): n is string => typeof n === 'string'));
  } catch {
    return new Set();
  }
}

/** Apollo Server's own codes (parse, validation, persisted queries …) besides the contract's. */
const APOLLO_CODES = [
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
];
const CODES = new Set<string>([...Object.values(ErrorCode), ...APOLLO_CODES]);
const TYPES = new Set(['query', 'mutation', 'subscription']);

const operations = () =>
  counter<'operation' | 'type' | 'outcome'>({
    name: 'shop_graphql_operations_total',
    help: 'GraphQL operations answered by the gateway, by operation name (safelisted names; others `other`, unnamed `anonymous`), type and outcome (`success` or the first error code).',
    labelNames: ['operation', 'type', 'outcome'],
  });
const operationDuration = () =>
  histogram<'operation' | 'type'>({
    name: 'shop_graphql_operation_duration_seconds',
    help: 'Time from the gateway receiving a GraphQL operation to its response, by operation name and type.',
    labelNames: ['operation', 'type'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });

/** Counts and times every operation Apollo answers (HTTP and queries over WebSocket alike). */
export function graphqlMetricsPlugin<C extends object>(names: Set<string>): ApolloServerPlugin<C> {
  const count = operations();
  const duration = operationDuration();
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse(ctx) {
          const name = ctx.operationName ?? ctx.request.operationName ?? null;
          const operation = name === null ? ANONYMOUS : names.has(name) ? name : OTHER;
          const op = ctx.operation?.operation;
          const type = op && TYPES.has(op) ? op : 'unknown';
          const body = ctx.response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : ctx.errors;
          const code = errors?.length ? String(errors[0].extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR) : null;
          const outcome = code === null ? 'success' : CODES.has(code) ? code : OTHER;
          count.inc({ operation, type, outcome });
          duration.observe({ operation, type }, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };
}

/**
 * Declares every gateway metric at start, so each is listed in the exposition (HELP/TYPE) before its first event,
 * also those of features switched off (the caches): dashboards and rules then find the name.
 */
export function declareGatewayMetrics(): void {
  operations();
  operationDuration();
  fetchDuration();
  fetchErrors();
  websocketConnections();
  activeSubscriptions();
  cacheRequests();
  cacheStored();
}

// ---- Subgraph fetches ----

type Fetcher = RemoteGraphQLDataSource['fetcher'];

const fetchDuration = () =>
  histogram<'subgraph'>({
    name: 'shop_gateway_subgraph_fetch_duration_seconds',
    help: 'Requests from the gateway to a subgraph (one per query-plan fetch), until the response headers, by subgraph.',
    labelNames: ['subgraph'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
const fetchErrors = () =>
  counter<'subgraph' | 'reason'>({
    name: 'shop_gateway_subgraph_fetch_errors_total',
    help: 'Failed requests from the gateway to a subgraph, by subgraph and reason: timeout, network (refused, reset), http_4xx, http_5xx.',
    labelNames: ['subgraph', 'reason'],
  });

/** The data source's fetcher, timed and with its failures counted for `subgraph`. */
export function instrumentFetcher(fetcher: Fetcher, subgraph: string): Fetcher {
  const duration = fetchDuration();
  const errors = fetchErrors();
  // Every series exists from the start: an alert on its rate needs a 0 before the first failure.
  for (const reason of ['timeout', 'network', 'http_4xx', 'http_5xx']) errors.inc({ subgraph, reason }, 0);
  // Bound once: the series' label hash is not recomputed per request.
  const timer = duration.labels({ subgraph });
  return async (url, init) => {
    const end = timer.startTimer();
    try {
      const res = await fetcher(url, init);
      if (res.status >= 400) errors.inc({ subgraph, reason: res.status >= 500 ? 'http_5xx' : 'http_4xx' });
      return res;
    } catch (err) {
      errors.inc({ subgraph, reason: isTimeout(err) ? 'timeout' : 'network' });
      throw err;
    } finally {
      end();
    }
  };
}

// ---- WebSocket ----

export const websocketConnections = () =>
  gauge({
    name: 'shop_gateway_websocket_connections',
    help: 'Open graphql-ws connections of clients to the gateway.',
  });
export const activeSubscriptions = () =>
  gauge({
    name: 'shop_gateway_subscriptions_active',
    help: 'Subscriptions the gateway is currently forwarding to a subgraph.',
  });

// ---- Caches ----

export interface CacheStats {
  hits: number;
  misses: number;
  bypassed: number;
  stored: number;
}

const cacheRequests = () =>
  counter<'cache' | 'result'>({
    name: 'shop_gateway_cache_requests_total',
    help: 'Lookups in the gateway catalog caches (response: whole responses; entity: one per entity), by result: hit, miss, bypass (a catalog write in progress or Redis unavailable).',
    labelNames: ['cache', 'result'],
  });
const cacheStored = () =>
  counter<'cache'>({
    name: 'shop_gateway_cache_stored_total',
    help: 'Entries written to the gateway catalog caches.',
    labelNames: ['cache'],
  });

/**
 * A cache's `stats` object (the tests and the bench read it) whose every increment also moves the Prometheus
 * counters, so the two can never disagree and the caches need no second line per event.
 */
export function cacheStats(cache: 'response' | 'entity'): CacheStats {
  const local: CacheStats = { hits: 0, misses: 0, bypassed: 0, stored: 0 };
  const requests = cacheRequests();
  const stored = cacheStored();
  for (const result of ['hit', 'miss', 'bypass']) requests.inc({ cache, result }, 0);
  stored.inc({ cache }, 0);
  const bump = (key: keyof CacheStats, by: number) => {
    if (by <= 0) return;
    if (key === 'stored') stored.inc({ cache }, by);
    else requests.inc({ cache, result: key === 'hits' ? 'hit' : key === 'misses' ? 'miss' : 'bypass' }, by);
  };
  const stats = {} as CacheStats;
  for (const key of Object.keys(local) as (keyof CacheStats)[]) {
    Object.defineProperty(stats, key, {
      enumerable: true,
      get: () => local[key],
      set: (v: number) => {
        bump(key, v - local[key]);
        local[key] = v;
      },
    });
  }
  return stats;
}
