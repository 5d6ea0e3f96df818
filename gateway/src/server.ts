import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import proxyaddr from 'proxy-addr';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloGateway, GraphQLDataSourceProcessOptions, RemoteGraphQLDataSource } from '@apollo/gateway';
import {
  createRedis, GatewayDeps, Identity, INTERNAL_TOKEN_HEADER, PerfConfig, REQUEST_ID_HEADER, requestContext, serviceUnavailable, StartedGateway,
} from '@shop/kernel';
import { mountDevPages } from './devPages';
import { mountMediaProxy } from './media';
import { authenticate, clientIp, InternalTokenCache } from './identity';
import { LiveSessions } from './sessions';
import { SubscriptionBridge } from './subscriptions';
import { BODY_LIMIT_BYTES, createEdge, PersistedQueryManifest } from './edge';
import { print } from 'graphql';
import { createSubgraphFetcher, isTimeout, withTimeout } from './perf/subgraphFetch';
import { CacheClassifier, CatalogCache, catalogCachePlugin } from './perf/responseCache';
import { EntityCache } from './perf/entityCache';

/** Subgraphs whose data is public catalog data (the same for every user of a role): what the caches may keep. */
const CATALOG_GRAPHS = ['product', 'media'];

export interface GatewayContext {
  identity: Identity;
  requestId: string;
  /** The caller's internal token for one subgraph (signed lazily, cached per identity and subgraph). */
  internalToken: (service: string) => string;
}

/** The catalog generation is read once per client request, however many catalog fetches its plan makes. */
const generations = new WeakMap<object, Promise<string | null>>();
function catalogGeneration(context: object, cache: EntityCache): Promise<string | null> {
  let g = generations.get(context);
  if (!g) generations.set(context, (g = cache.generation()));
  return g;
}

/** Forwards the caller's identity to subgraphs as the gateway's short-lived signed token. */
class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    private readonly serviceName: string,
    url: string,
    private readonly logger?: { warn(o: object, m: string): void },
    fetcher?: RemoteGraphQLDataSource['fetcher'],
    /** Set for catalog subgraphs when the entity cache is on. */
    private readonly entityCache?: EntityCache,
    /** Longest wait for one subgraph request (SUBGRAPH_TIMEOUT_MS), whichever fetcher sends it. */
    timeoutMs?: number,
  ) {
    super(fetcher ? { url, fetcher } : { url });
    if (timeoutMs) this.fetcher = withTimeout(this.fetcher, timeoutMs);
  }

  override process(options: GraphQLDataSourceProcessOptions<GatewayContext>): ReturnType<RemoteGraphQLDataSource['process']> {
    const cache = this.entityCache;
    // Client operations only (not health checks or schema loading), which carry the caller's context.
    if (!cache || !('incomingRequestContext' in options) || !options.context?.identity || !options.request.query) return super.process(options);
    // The answer to a write shows its effect: e.g. addToCart's products show the stock it has just held (over NATS,
    // which no write lease covers).
    if (options.incomingRequestContext.operation?.operation === 'mutation') return super.process(options);
    const { request, context } = options;
    return cache.resolve(
      { service: this.serviceName, role: context.identity?.role, query: request.query!, variables: request.variables },
      catalogGeneration(context, cache),
      (variables) => super.process(variables === request.variables ? options : { ...options, request: { ...request, variables } }),
    );
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (!request.http) return;
    // Composition-time and health requests have no client context.
    if (context?.internalToken) request.http.headers.set(INTERNAL_TOKEN_HEADER, context.internalToken(this.serviceName));
    if (context?.requestId) request.http.headers.set(REQUEST_ID_HEADER, context.requestId);
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

/**
 * `safelist`: the persisted-query manifest SAFELIST=on allows (main.ts reads schema/persisted-queries.json).
 * `perf`: overrides of the GATEWAY_* performance switches (`config.perf`; tests).
 */
export async function startGateway(
  deps: GatewayDeps & { safelist?: PersistedQueryManifest; perf?: Partial<PerfConfig> },
): Promise<StartedGateway & { bridge: SubscriptionBridge; sessions: LiveSessions; catalogCache?: CatalogCache; entityCache?: EntityCache }> {
  const { config, keys, logger } = deps;
  const perf: PerfConfig = { ...config.perf, ...deps.perf };
  const tokens = new InternalTokenCache(keys);
  const routing = new Map<string, string>();
  const dataSources = new Map<string, SubgraphDataSource>();
  const subgraphFetch = perf.subgraphFetch === 'undici' ? createSubgraphFetcher({ dedupe: perf.dedupe, timeoutMs: config.subgraphTimeoutMs }) : undefined;
  // Both caches share the catalog generation and the write leases that catalog mutations hold (perf/responseCache.ts).
  const cacheRedis = perf.responseCache || perf.entityCache ? createRedis(config) : undefined;
  const catalogCache = cacheRedis
    ? new CatalogCache({ supergraphSdl: deps.supergraphSdl, redis: cacheRedis, ttlSeconds: perf.responseCacheTtlSeconds, onError: (err) => logger.warn({ err }, 'response cache bypassed') })
    : undefined;
  const cacheClassifier = catalogCache ? new CacheClassifier(deps.supergraphSdl, new Set(CATALOG_GRAPHS)) : undefined;
  const entityCache = catalogCache && perf.entityCache
    ? new EntityCache(catalogCache, { ttlSeconds: perf.responseCacheTtlSeconds, maxEntries: perf.entityCacheMaxEntries })
    : undefined;

  const gateway = new ApolloGateway({
    supergraphSdl: deps.supergraphSdl,
    buildService: ({ name, url }) => {
      const target = deps.subgraphUrls?.[name] ?? url!;
      routing.set(name, target);
      const source = new SubgraphDataSource(name, target, logger, subgraphFetch?.fetcher, CATALOG_GRAPHS.includes(name) ? entityCache : undefined, config.subgraphTimeoutMs);
      dataSources.set(name, source);
      return source;
    },
    ...(cacheClassifier
      ? { experimental_didResolveQueryPlan: ({ queryPlan, requestContext }) => cacheClassifier.notePlan(requestContext.source, requestContext.request.operationName, queryPlan) }
      : {}),
    logger: { debug: () => undefined, info: (m) => logger.info(String(m)), warn: (m) => logger.warn(String(m)), error: (m) => logger.error(String(m)) },
  });

  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY as Express documents it (config.ts parses it); the WebSocket upgrade uses the same trust function.
  app.set('trust proxy', config.edge.trustProxy);
  const trust = app.get('trust proxy fn') as (addr: string, i: number) => boolean;
  const clientAddress = (req: http.IncomingMessage) => proxyaddr(req, trust);
  const sessions = new LiveSessions(config, logger);
  await sessions.start();
  const httpServer = http.createServer(app);
  const edge = createEdge({ config, keys, logger, safelist: deps.safelist });

  const apollo = new ApolloServer<GatewayContext>({
    gateway: gateway as never,
    introspection: !config.isProduction,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: !config.isProduction,
    ...edge.apollo, // document limits, error masking, safelist
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      config.isProduction
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
      ...edge.plugins,
      // After the edge: limits, safelist and rate limits decide before a cached answer can be served.
      ...(catalogCache ? [catalogCachePlugin<GatewayContext>(catalogCache, cacheClassifier!, { serveResponses: perf.responseCache })] : []),
    ],
  });
  await apollo.start();

  // graphql-ws on the same port and path: subscriptions through the bridge, anything else through Apollo.
  const bridge = new SubscriptionBridge(deps.supergraphSdl, dataSources, routing, tokens, keys, logger);
  const ws = bridge.attach(httpServer, '/graphql', async (args) => {
    const res = await apollo.executeOperation(
      { query: print(args.document), variables: (args.variableValues ?? undefined) as Record<string, unknown> | undefined, operationName: args.operationName ?? undefined },
      { contextValue: args.contextValue as GatewayContext },
    );
    if (res.body.kind !== 'single') throw new Error('incremental delivery is not supported over WebSocket');
    return res.body.singleResult as never;
  }, edge.websocket(bridge.apiGraphQLSchema, clientAddress), { sessions, clientAddress });

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: 'gateway' });
  });
  app.get('/ready', async (_req, res) => {
    const checks = await Promise.all(
      [...routing].map(async ([name, url]) => {
        try {
          const r = await fetch(new URL('/ready', url), { signal: AbortSignal.timeout(2000) });
          return { name, ok: r.ok };
        } catch {
          return { name, ok: false };
        }
      }),
    );
    const ok = checks.every((c) => c.ok);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', service: 'gateway', checks });
  });
  if (!config.isProduction) mountDevPages(app);
  if (deps.mailbox && !config.isProduction) {
    const mailbox = deps.mailbox;
    app.get('/dev/mail', (_req, res) => {
      res.type('html').send(mailbox.renderPage());
    });
    app.get('/dev/mail.json', (_req, res) => {
      res.json(mailbox.messages);
    });
  }

  mountMediaProxy(app, () => routing.get('media'), logger, { rateLimit: (req) => edge.mediaRateLimit(clientIp(req)) });
  app.use(
    '/graphql',
    edge.beforeBody,
    express.json({ limit: BODY_LIMIT_BYTES }),
    (req, res, next) => {
      const requestId = randomUUID();
      res.setHeader(REQUEST_ID_HEADER, requestId);
      (req as express.Request & { requestId?: string }).requestId = requestId;
      requestContext.run({ requestId }, () => next());
    },
    edge.afterBody,
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const requestId = (req as express.Request & { requestId: string }).requestId;
        const { identity } = authenticate(keys, req.header('authorization'), clientIp(req), sessions);
        return { identity, requestId, internalToken: (service: string) => tokens.tokenFor(identity, service) };
      },
    }),
  );
  app.use('/graphql', edge.errorHandler);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(deps.port ?? config.gatewayPort, '0.0.0.0', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  logger.info({ port }, 'gateway listening');
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    port,
    bridge,
    sessions,
    catalogCache,
    entityCache,
    async stop() {
      await ws.close();
      await apollo.stop();
      await edge.stop();
      await sessions.stop();
      httpServer.closeAllConnections();
      await subgraphFetch?.close();
      cacheRedis?.disconnect();
    },
  };
}
