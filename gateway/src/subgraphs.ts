import { ApolloGateway, GraphQLDataSourceProcessOptions, RemoteGraphQLDataSource } from '@apollo/gateway';
import {
  Config,
  INTERNAL_TOKEN_HEADER,
  Logger,
  REFRESH_COOKIE_HEADER,
  REQUEST_ID_HEADER,
  serviceUnavailable,
  SESSION_COOKIE_MODE_HEADER,
  SESSION_OUTCOME_EXTENSION,
  SessionOutcome,
} from '@shop/kernel';
import type { GatewayContext } from './context';
import type { EntityCache } from './perf/entityCache';
import type { Perf } from './perf/setup';
import { instrumentFetcher } from './metrics';
import { isTimeout, withTimeout } from './perf/subgraphFetch';

/** The catalog generation is read once per client request, however many catalog fetches its plan makes. */
const generations = new WeakMap<object, Promise<string | null>>();
function catalogGeneration(context: object, cache: EntityCache): Promise<string | null> {
  let g = generations.get(context);
  if (!g) generations.set(context, (g = cache.generation()));
  return g;
}

/**
 * The next catalog fetch with this context reads the generation again: a subscription keeps one context for its whole
 * life, and each of its events is a new read (one that started during a catalog write must not bypass the entity
 * cache for good, nor serve entries of a generation read minutes ago).
 */
export function newCatalogRead(context: object): void {
  generations.delete(context);
}

/** Forwards the caller's identity to subgraphs as the gateway's short-lived signed token. */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    private readonly serviceName: string,
    url: string,
    private readonly logger?: { warn(o: object, m: string): void },
    fetcher?: RemoteGraphQLDataSource['fetcher'],
    /** Set for catalog subgraphs when the entity cache is on. */
    private readonly entityCache?: EntityCache,
    /** Longest wait for one subgraph request (SUBGRAPH_TIMEOUT_MS), for a fetcher that does not end it itself. */
    timeoutMs?: number,
  ) {
    super(fetcher ? { url, fetcher } : { url });
    if (timeoutMs) this.fetcher = withTimeout(this.fetcher, timeoutMs);
    this.fetcher = instrumentFetcher(this.fetcher, serviceName);
  }

  override process(
    options: GraphQLDataSourceProcessOptions<GatewayContext>,
  ): ReturnType<RemoteGraphQLDataSource['process']> {
    const cache = this.entityCache;
    // Client operations only (not health checks or schema loading), which carry the caller's context.
    if (!cache || !('incomingRequestContext' in options) || !options.context?.identity || !options.request.query)
      return super.process(options);
    // The answer to a write shows its effect: e.g. addToCart's products show the stock it has just held (over NATS,
    // which no write lease covers).
    if (options.incomingRequestContext.operation?.operation === 'mutation') return super.process(options);
    const { request, context } = options;
    return cache.resolve(
      { service: this.serviceName, role: context.identity?.role, query: request.query!, variables: request.variables },
      catalogGeneration(context, cache),
      (variables) =>
        super.process(variables === request.variables ? options : { ...options, request: { ...request, variables } }),
    );
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (!request.http) return;
    // Composition-time and health requests have no client context.
    if (context?.internalToken)
      request.http.headers.set(INTERNAL_TOKEN_HEADER, context.internalToken(this.serviceName));
    if (context?.requestId) request.http.headers.set(REQUEST_ID_HEADER, context.requestId);
    // Browser sessions: only the user subgraph hears of the cookies (never from a client header: none is forwarded).
    const browser = context?.browser;
    if (browser && this.serviceName === 'user') {
      if (browser.cookieMode) request.http.headers.set(SESSION_COOKIE_MODE_HEADER, '1');
      if (browser.refreshCookie) request.http.headers.set(REFRESH_COOKIE_HEADER, browser.refreshCookie);
    }
  }

  /** The user subgraph's session outcome becomes Set-Cookie headers; the tokens in it go no further. */
  override didReceiveResponse({
    response,
    context,
  }: Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>['didReceiveResponse']>>[0]) {
    const outcome = response.extensions?.[SESSION_OUTCOME_EXTENSION] as SessionOutcome | undefined;
    if (outcome) {
      delete response.extensions![SESSION_OUTCOME_EXTENSION];
      if (this.serviceName === 'user') context.browser?.apply(outcome);
    }
    return response;
  }

  /**
   * A subgraph that cannot be reached (refused, reset, 5xx without a GraphQL body) or does not answer within
   * SUBGRAPH_TIMEOUT_MS (even after its headers came) becomes a coded error naming the service, instead of the
   * fetch error with its internal URL and stack; the fields other subgraphs resolved stand.
   */
  override didEncounterError(error: Error, _req: unknown, response?: { status: number }): void {
    const timedOut = isTimeout(error);
    if (!response || response.status >= 500 || timedOut) {
      this.logger?.warn({ service: this.serviceName, err: error.message, timedOut }, 'subgraph unavailable');
      throw serviceUnavailable(this.serviceName);
    }
    throw error;
  }
}

/** The federated gateway over the supergraph, and what the rest of the gateway needs to reach each subgraph. */
export interface Subgraphs {
  gateway: ApolloGateway;
  /** Subgraph name → URL (the supergraph's, or the override), filled as the gateway loads. */
  routing: Map<string, string>;
  /** Subgraph name → its data source (the subscription bridge runs the rest of a plan through them). */
  dataSources: Map<string, SubgraphDataSource>;
}

export function createSubgraphs(
  deps: { config: Config; logger: Logger; supergraphSdl: string; subgraphUrls?: Record<string, string> },
  perf: Perf,
): Subgraphs {
  const { config, logger } = deps;
  const routing = new Map<string, string>();
  const dataSources = new Map<string, SubgraphDataSource>();
  // The library's only switch, read by its constructor: without it every gateway process exports usage metrics to
  // Apollo hourly (and retries for as long as Apollo is unreachable).
  process.env.APOLLO_TELEMETRY_DISABLED = config.apolloTelemetry ? 'false' : 'true';
  const gateway = new ApolloGateway({
    supergraphSdl: deps.supergraphSdl,
    buildService: ({ name, url }) => {
      const target = deps.subgraphUrls?.[name] ?? url!;
      routing.set(name, target);
      const source = new SubgraphDataSource(
        name,
        target,
        logger,
        perf.fetcher,
        perf.entityCacheFor(name),
        perf.fetcherTimesOut ? undefined : config.subgraphTimeoutMs,
      );
      dataSources.set(name, source);
      return source;
    },
    ...perf.gatewayOptions,
    logger: {
      debug: () => undefined,
      info: (m) => logger.info(String(m)),
      warn: (m) => logger.warn(String(m)),
      error: (m) => logger.error(String(m)),
    },
  });
  return { gateway, routing, dataSources };
}
