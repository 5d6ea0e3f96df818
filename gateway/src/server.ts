import {
  accessLogPlugin,
  collectDefaultMetrics,
  GatewayDeps,
  httpMetrics,
  PerfConfig,
  StartedGateway,
} from '@shop/kernel';
import { createBrowserEdge } from './browser/http';
import { contextBuilder } from './context';
import { createEdge, PersistedQueryManifest } from './edge';
import { executeThrough, mountGraphQL, startApollo } from './graphql';
import { createHttp, listen } from './http';
import { clientIp, InternalTokenCache } from './identity';
import { mountMediaProxy } from './media';
import { declareGatewayMetrics, graphqlMetricsPlugin, knownOperationNames } from './metrics';
import type { EntityCache } from './perf/entityCache';
import type { CatalogCache } from './perf/responseCache';
import { createPerf } from './perf/setup';
import { mountHealthRoutes, mountDevRoutes } from './routes';
import { mountStorefront } from './storefront';
import { LiveSessions } from './sessions';
import { createSubgraphs } from './subgraphs';
import { SubscriptionBridge } from './subscriptions';

export interface RunningGateway extends StartedGateway {
  bridge: SubscriptionBridge;
  sessions: LiveSessions;
  catalogCache?: CatalogCache;
  entityCache?: EntityCache;
}

/**
 * `safelist`: the persisted-query manifest SAFELIST=on allows (main.ts reads schema/persisted-queries.json).
 * `perf`: overrides of the GATEWAY_* performance switches (`config.perf`; tests).
 * `storefrontDir`: the built storefront served at `/` (main.ts: STOREFRONT_DIR or storefront/dist; tests pass one).
 * `operationNames`: the operation names metrics label by name (default: those of schema/persisted-queries.json).
 * Metrics are recorded in the process registry; main.ts serves them on GATEWAY_METRICS_PORT, never on this port.
 */
export async function startGateway(
  deps: GatewayDeps & {
    safelist?: PersistedQueryManifest;
    perf?: Partial<PerfConfig>;
    storefrontDir?: string;
    operationNames?: Set<string>;
  },
): Promise<RunningGateway> {
  const { config, keys, logger } = deps;
  const perf = createPerf(deps, { ...config.perf, ...deps.perf });
  const subgraphs = createSubgraphs(deps, perf);
  const tokens = new InternalTokenCache(keys);
  const context = contextBuilder(tokens);
  const { app, httpServer, clientAddress } = createHttp(config);
  collectDefaultMetrics();
  declareGatewayMetrics();
  app.use(httpMetrics('gateway'));
  const sessions = new LiveSessions(config, logger);
  await sessions.start();
  const edge = createEdge({ config, keys, logger, safelist: deps.safelist });
  const browser = createBrowserEdge(config, app.get('trust proxy fn'));
  const apollo = await startApollo({
    config,
    gateway: subgraphs.gateway,
    httpServer,
    edge,
    browser,
    // The access log: one info line per operation (name, duration, outcome, request id, user id).
    plugins: [
      graphqlMetricsPlugin(deps.operationNames ?? knownOperationNames()),
      ...perf.plugins,
      accessLogPlugin(logger, 'info'),
    ],
  });

  // graphql-ws on the same port and path: subscriptions through the bridge, anything else through Apollo.
  const bridge = new SubscriptionBridge(
    deps.supergraphSdl,
    subgraphs.dataSources,
    subgraphs.routing,
    tokens,
    keys,
    logger,
  );
  const websocketEdge = edge.websocket(bridge.apiGraphQLSchema, clientAddress);
  const ws = bridge.attach(httpServer, '/graphql', executeThrough(apollo), websocketEdge, {
    context,
    sessions,
    clientAddress,
    origins: browser.origins,
  });

  mountHealthRoutes(app, subgraphs.routing);
  if (!config.isProduction) mountDevRoutes(app, deps.mailbox);
  app.use('/media', browser.cors);
  mountMediaProxy(app, () => subgraphs.routing.get('media'), logger, {
    rateLimit: (req) => edge.mediaRateLimit(clientIp(req)),
  });
  mountGraphQL(app, apollo, { edge, browser, keys, sessions, context });
  // Last: its page fallback answers only what no route above took.
  mountStorefront(app, deps.storefrontDir, logger);

  const port = await listen(httpServer, deps.port ?? config.gatewayPort);
  logger.info({ port }, 'gateway listening');
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    port,
    bridge,
    sessions,
    catalogCache: perf.catalogCache,
    entityCache: perf.entityCache,
    async stop() {
      await ws.close();
      await apollo.stop();
      await edge.stop();
      await sessions.stop();
      httpServer.closeAllConnections();
      await perf.stop();
    },
  };
}
