// First of all: the tracing instrumentations must patch http, express, graphql and undici before anything loads them.
import { startTracing } from '@shop/kernel/tracing';
startTracing('gateway');

import { loadConfig } from '@shop/kernel/config';
import { gatewayWorkers, StartingListener } from './starting';

/**
 * The gateway's entry point. The port is bound before the gateway's modules load (starting.ts: a restart then refuses
 * connections only while Node boots), then process.ts starts the gateway and hands it the port.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  // Only a single process binds early: in a cluster the primary holds the port for good, and a worker still starting
  // would be handed connections that another worker can serve.
  let listener: StartingListener | undefined;
  if (gatewayWorkers(config.perf.workers) <= 1) {
    listener = new StartingListener();
    try {
      await listener.listen(config.gatewayPort);
    } catch (err) {
      console.error(`the gateway cannot listen on port ${config.gatewayPort}: ${(err as Error).message}`);
      process.exit(1);
    }
  }
  const { runGateway } = await import('./process');
  await runGateway(config, listener);
}

void main();
