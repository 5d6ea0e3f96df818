import cluster from 'node:cluster';
import fs from 'node:fs';
import path from 'node:path';
import { createLogger, loadConfig, loadKeys, onShutdownSignals } from '@shop/kernel';
import type { DevMailbox } from '@shop/kernel/devmail';
import { startGateway } from './server';
import { onPrimaryShutdown, startCluster } from './perf/cluster';
import { PersistedQueryManifest, readManifest } from './edge';

/** Gateway process: serves schema/supergraph.graphql; in development also the mailbox at /dev/mail. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  const logger = createLogger('gateway', config.logLevel);
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
  // Multi-process mode: the primary only supervises; each worker is a complete gateway on the shared port.
  if (startCluster(config.perf.workers, config.shutdown, (m) => logger.info(m))) return;
  const clustered = cluster.isWorker;
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
  });
  // SIGTERM/SIGINT (or, in a cluster worker, the primary's word): not ready, then drain (kernel shutdown.ts).
  const { shutdown } = onShutdownSignals(
    {
      beginShutdown: () => gw.beginShutdown(),
      stop: async (opts) => {
        const drained = await gw.stop(opts);
        await mailbox?.stop();
        // Telemetry is flushed here, after the last request's work.
        return drained;
      },
    },
    { logger, config: config.shutdown },
  );
  stopRequested = (reason) => void shutdown(reason);
  if (stopAsked) stopRequested('primary');
}

void main();
