import { stopTracing } from '@shop/kernel/tracing';
import cluster from 'node:cluster';
import fs from 'node:fs';
import path from 'node:path';
import {
  clusterMetrics,
  Config,
  createProcessLogger,
  Logger,
  loadKeys,
  MetricsServer,
  onShutdownSignals,
  requestContext,
  startMetricsServer,
} from '@shop/kernel';
import type { DevMailbox } from '@shop/kernel/devmail';
import { startGateway } from './server';
import { onPrimaryShutdown, startCluster } from './perf/cluster';
import { PersistedQueryManifest, readManifest } from './edge';
import type { StartingListener } from './starting';

/**
 * Gateway process (started by main.ts): serves schema/supergraph.graphql; in development also the mailbox at
 * /dev/mail. `listener` holds the port already bound by a single process (main.ts; none in a cluster).
 */
export async function runGateway(config: Config, listener: StartingListener | undefined): Promise<void> {
  // The gateway carries each request's id in its operation context and names it in the lines it writes (access log,
  // masked errors), so it turns the kernel's async request context off: on Node 20 that context turns on promise hooks
  // for every promise in the process, ~16 % of the gateway's CPU per uncached request (bench/README.md).
  requestContext.disable();
  // Every gateway process (each cluster worker too) ships its lines to the central log store unless LOG_SHIPPING=off.
  const logs = createProcessLogger('gateway', config);
  const logger = logs.logger;
  const file = config.supergraphFile ?? path.resolve(__dirname, '../../../schema/supergraph.graphql');
  const supergraphSdl = fs.readFileSync(file, 'utf8');
  // SAFELIST=on: the operations of schema/operations, as `npm run compose` writes them into the manifest.
  let safelist: PersistedQueryManifest | undefined;
  if (config.edge.safelist) {
    const manifestFile = config.edge.safelistFile ?? path.resolve(__dirname, '../../../schema/persisted-queries.json');
    try {
      safelist = readManifest(manifestFile);
    } catch (err) {
      console.error(`SAFELIST=on but the manifest cannot be read: ${(err as Error).message}`);
      process.exit(1);
    }
    logger.info(
      { operations: safelist.operations.length, file: manifestFile },
      'safelist on: only listed operations run',
    );
  }
  // Multi-process mode: the primary only supervises (and serves the workers' summed metrics); each worker is a
  // complete gateway on the shared port.
  if (startCluster(config.perf.workers, config.shutdown, (m) => logger.info(m))) {
    await serveMetrics(config.gatewayMetricsPort, logger, clusterMetrics());
    return;
  }
  const clustered = cluster.isWorker;
  // A worker answers the primary's metrics requests; a single process serves its own registry.
  if (clustered) clusterMetrics();
  const metrics = clustered ? undefined : await serveMetrics(config.gatewayMetricsPort, logger);
  // The primary may ask a worker to stop while it is still starting: remembered, and honoured once it has started.
  let stopRequested: ((reason: string) => void) | undefined;
  let stopAsked = false;
  if (clustered) onPrimaryShutdown(() => (stopRequested ? stopRequested('primary') : (stopAsked = true)));
  let mailbox: DevMailbox | undefined;
  // The development mailbox keeps mail in memory: with several workers each would see only its own share.
  if (!config.smtp.host && !config.isProduction && !clustered) {
    // Loaded only here: smtp-server and mailparser stay out of every other process.
    const { DevMailbox } = await import('@shop/kernel/devmail');
    mailbox = new DevMailbox();
    await mailbox.start(config.devMailPort);
    logger.info({ port: config.devMailPort }, 'development mailbox listening (SMTP_HOST is unset)');
  }
  const gw = await startGateway({
    config,
    keys: loadKeys(config),
    logger,
    supergraphSdl,
    mailbox,
    subgraphUrls: config.subgraphUrls as Record<string, string>,
    safelist,
    storefrontDir: config.storefrontDir ?? path.resolve(__dirname, '../../../storefront/dist'),
    listener,
  });
  // SIGTERM/SIGINT (or, in a cluster worker, the primary's word): not ready, then drain (kernel shutdown.ts).
  const { shutdown } = onShutdownSignals(
    {
      beginShutdown: () => gw.beginShutdown(),
      stop: async (opts) => {
        const drained = await gw.stop(opts);
        await mailbox?.stop();
        await metrics?.stop();
        // Telemetry is flushed here, after the last request's work; the log shipper last, with the final lines.
        await stopTracing();
        await logs.close();
        return drained;
      },
    },
    { logger, config: config.shutdown },
  );
  stopRequested = (reason) => void shutdown(reason);
  if (stopAsked) stopRequested('primary');
}

/**
 * GATEWAY_METRICS_PORT's listener (0: none). A port that cannot be bound is logged, not fatal: the shop keeps
 * serving, and Prometheus reports the target down.
 */
async function serveMetrics(
  port: number,
  logger: Logger,
  text?: Parameters<typeof startMetricsServer>[1],
): Promise<MetricsServer | undefined> {
  if (port === 0) return undefined;
  try {
    const server = await startMetricsServer(port, text);
    logger.info({ port: server.port }, 'gateway metrics listening (GET /metrics)');
    return server;
  } catch (err) {
    logger.error({ err: String(err), port }, 'gateway metrics listener could not start; serving without it');
    return undefined;
  }
}
