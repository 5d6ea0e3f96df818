import {
  accessLogPlugin,
  collectDefaultMetrics,
  GatewayDeps,
  httpFront,
  PerfConfig,
  StartedGateway,
  StopOptions,
} from '@shop/kernel';
import { createBrowserEdge } from './browser/http';
import { contextBuilder } from './context';
import { createEdge, PersistedQueryManifest } from './edge';
import { executeThrough, graphqlEndpoint, startApollo } from './graphql';
import { SubgraphHealth } from './health';
import { createHttp, listen } from './http';
import type { StartingListener } from './starting';
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
import { mountPaymentWebhookProxy } from './webhooks';

export interface RunningGateway extends StartedGateway {
  bridge: SubscriptionBridge;
  sessions: LiveSessions;
  catalogCache?: CatalogCache;
  entityCache?: EntityCache;
  /** Per-subgraph health, as `/ready` reports it and `shop_gateway_subgraph_up` exports it. */
  health: SubgraphHealth;
  stop(opts?: StopOptions): Promise<boolean>;
}

/**
 * `safelist`: the persisted-query manifest SAFELIST=on allows (main.ts reads schema/persisted-queries.json).
 * `perf`: overrides of the GATEWAY_* performance switches (`config.perf`; tests).
 * `storefrontDir`: the built storefront served at `/` (main.ts: STOREFRONT_DIR or storefront/dist; tests pass one).
 * `operationNames`: the operation names metrics label by name (default: those of schema/persisted-queries.json).
 * Metrics are recorded in the process registry; main.ts serves them on GATEWAY_METRICS_PORT, never on this port.
 * `healthIntervalMs`: how often each subgraph's `/ready` is polled (default 5 s).
 */
export async function startGateway(
  deps: GatewayDeps & {
    safelist?: PersistedQueryManifest;
    perf?: Partial<PerfConfig>;
    storefrontDir?: string;
    operationNames?: Set<string>;
    healthIntervalMs?: number;
    /** The port already bound by the entry point (main.ts); without it the gateway listens on `port` itself. */
    listener?: StartingListener;
  },
): Promise<RunningGateway> {
  const { config, keys, logger } = deps;
  const perf = createPerf(deps, { ...config.perf, ...deps.perf });
  const subgraphs = createSubgraphs(deps, perf);
  const tokens = new InternalTokenCache(keys);
  const context = contextBuilder(tokens);
  const { app, httpServer, trust, clientAddress, drain } = createHttp(config, deps.listener?.httpServer);
  collectDefaultMetrics();
  declareGatewayMetrics();
  let shuttingDown = false;
  const sessions = new LiveSessions(config, logger);
  await sessions.start();
  const edge = createEdge({ config, keys, logger, safelist: deps.safelist });
  const browser = createBrowserEdge(config, trust);
  const apollo = await startApollo({
    config,
    gateway: subgraphs.gateway,
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

  // The routing map is complete once Apollo has loaded the supergraph.
  const health = new SubgraphHealth(subgraphs.routing, logger, {
    intervalMs: deps.healthIntervalMs ?? 5000,
    timeoutMs: 2000,
  });
  health.start();
  mountHealthRoutes(app, health, () => shuttingDown);
  if (!config.isProduction) mountDevRoutes(app, deps.mailbox);
  app.use('/media', browser.cors);
  mountMediaProxy(app, () => subgraphs.routing.get('media'), logger, {
    rateLimit: (req) => edge.mediaRateLimit(clientIp(req)),
  });
  // The payment provider's webhooks: server to server (no CORS), the raw body passed on unchanged.
  mountPaymentWebhookProxy(app, () => subgraphs.routing.get('order'), logger);
  // Last: its page fallback answers only what no route above took.
  mountStorefront(app, deps.storefrontDir, logger);

  // Every request timed; `/graphql` served on node:http (graphql.ts), the rest by Express.
  const front = httpFront(
    'gateway',
    graphqlEndpoint(apollo, { edge, browser, keys, sessions, context, clientAddress }),
    app,
  );
  // Nothing awaited since the WebSocket server attached: the bound port's starting answers end here (starting.ts).
  const port = deps.listener
    ? (deps.listener.handOver(front), deps.listener.port)
    : (httpServer.on('request', front), await listen(httpServer, deps.port ?? config.gatewayPort));
  logger.info({ port }, 'gateway listening');
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    port,
    bridge,
    sessions,
    catalogCache: perf.catalogCache,
    entityCache: perf.entityCache,
    health,
    beginShutdown() {
      shuttingDown = true;
    },
    /**
     * The port closes and in-flight requests finish within `graceMs` (unset: at once) while client WebSockets close
     * with 1001 (going away: graphql-ws clients reconnect, to another instance); then the subgraph sockets, Apollo,
     * Redis and NATS. False when the grace ran out and connections were cut.
     */
    async stop(opts: StopOptions = {}) {
      shuttingDown = true;
      health.stop();
      const sockets = ws.close();
      const drained = await drain.drain(opts.graceMs ?? 0);
      await sockets;
      await apollo.stop();
      await edge.stop();
      await sessions.stop();
      await perf.stop();
      return drained;
    },
  };
}
