import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayConfig, RemoteGraphQLDataSource } from '@apollo/gateway';
import { Config, createRedis, Logger, PerfConfig } from '@shop/kernel';
import type { GatewayContext } from '../context';
import { EntityCache } from './entityCache';
import { CacheClassifier, CatalogCache, catalogCachePlugin } from './responseCache';
import { installOperationReuse } from './operationReuse';
import { installResultShaping } from './resultShaping';
import { createSubgraphFetcher } from './subgraphFetch';

/** Subgraphs whose data is public catalog data (the same for every user of a role): what the caches may keep. */
const CATALOG_GRAPHS = ['product', 'media'];

/** The GATEWAY_* performance switches turned into the parts the gateway plugs in (each absent when switched off). */
export interface Perf {
  /** The subgraph data sources' fetcher (GATEWAY_SUBGRAPH_FETCH=undici: kept-alive pools, dedupe). */
  fetcher?: RemoteGraphQLDataSource['fetcher'];
  /** Whether `fetcher` ends each request after SUBGRAPH_TIMEOUT_MS itself (the data source then adds no timer). */
  fetcherTimesOut: boolean;
  catalogCache?: CatalogCache;
  entityCache?: EntityCache;
  /** The entity cache a subgraph's data source uses: catalog subgraphs only. */
  entityCacheFor(service: string): EntityCache | undefined;
  /** ApolloGateway options: the response cache learns from each query plan which subgraphs an operation reaches. */
  gatewayOptions: Pick<GatewayConfig, 'experimental_didResolveQueryPlan'>;
  /** Apollo plugins, to run after the edge's: limits, safelist and rate limits decide before a cached answer is served. */
  plugins: ApolloServerPlugin<GatewayContext>[];
  stop(): Promise<void>;
}

export function createPerf(deps: { config: Config; logger: Logger; supergraphSdl: string }, perf: PerfConfig): Perf {
  const { config, logger } = deps;
  // Process-wide (it wraps a library function); a version it was not written for leaves the library as it is.
  // The result shaping keeps its per-selection-set facts with the operation: only worth it when operations are reused.
  if (perf.operationReuse && !(installOperationReuse() && installResultShaping()))
    logger.warn(
      'GATEWAY_OPERATION_REUSE: @apollo/gateway is not the version it supports; operations are rebuilt per request',
    );
  const subgraphFetch =
    perf.subgraphFetch === 'undici'
      ? createSubgraphFetcher({ dedupe: perf.dedupe, timeoutMs: config.subgraphTimeoutMs })
      : undefined;
  // Both caches share the catalog generation and the write leases that catalog mutations hold (perf/responseCache.ts).
  const cacheRedis = perf.responseCache || perf.entityCache ? createRedis(config) : undefined;
  const catalogCache = cacheRedis
    ? new CatalogCache({
        supergraphSdl: deps.supergraphSdl,
        redis: cacheRedis,
        ttlSeconds: perf.responseCacheTtlSeconds,
        onError: (err) => logger.warn({ err }, 'response cache bypassed'),
      })
    : undefined;
  const cacheClassifier = catalogCache ? new CacheClassifier(deps.supergraphSdl, new Set(CATALOG_GRAPHS)) : undefined;
  const entityCache =
    catalogCache && perf.entityCache
      ? new EntityCache(catalogCache, {
          ttlSeconds: perf.responseCacheTtlSeconds,
          maxEntries: perf.entityCacheMaxEntries,
        })
      : undefined;
  return {
    fetcher: subgraphFetch?.fetcher,
    fetcherTimesOut: !!subgraphFetch?.timesOut,
    catalogCache,
    entityCache,
    entityCacheFor: (service) => (CATALOG_GRAPHS.includes(service) ? entityCache : undefined),
    gatewayOptions: cacheClassifier
      ? {
          experimental_didResolveQueryPlan: ({ queryPlan, requestContext }) =>
            cacheClassifier.notePlan(requestContext.source, requestContext.request.operationName, queryPlan),
        }
      : {},
    plugins: catalogCache
      ? [catalogCachePlugin<GatewayContext>(catalogCache, cacheClassifier!, { serveResponses: perf.responseCache })]
      : [],
    async stop() {
      await subgraphFetch?.close();
      cacheRedis?.disconnect();
    },
  };
}
