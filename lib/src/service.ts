import type { GraphQLSchema } from 'graphql';
import { Keys, loadKeys } from './auth';
import { Config, loadConfig, ServiceName } from './config';
import type { DevMailbox } from './devmail';
import { stopTracing } from './tracing';
import type { Logger } from './logger';
import { createProcessLogger } from './logship';

export interface ServiceDeps {
  config: Config;
  keys: Keys;
  logger: Logger;
  /** Port to listen on; 0 picks a free one (tests). Defaults to the service's configured port. */
  port?: number;
}

/** What the gateway is started with (its process entry, or a test stack). */
export interface GatewayDeps extends ServiceDeps {
  supergraphSdl: string;
  /** Overrides the routing URLs written in the supergraph (tests run subgraphs on free ports). */
  subgraphUrls?: Record<string, string>;
  /** Development mailbox to show at /dev/mail. */
  mailbox?: DevMailbox;
}
export interface StartedGateway {
  url: string;
  port: number;
  stop(): Promise<void>;
}
export type GatewayStarter = (deps: GatewayDeps) => Promise<StartedGateway>;

export interface StartedService {
  name: ServiceName;
  /** GraphQL endpoint of this instance. */
  url: string;
  stop(): Promise<void>;
}

/** What each subgraph folder exports from `src/index.ts`: its schema (for composition) and how to run it. */
export interface SubgraphModule<S extends StartedService = StartedService> {
  name: ServiceName;
  /** Builds the subgraph schema without touching any service (used by `npm run compose`). */
  buildSchema(): Promise<GraphQLSchema>;
  /** Applies the subgraph's database migrations, if it has a database. */
  migrate?(config: Config, logger: Logger): Promise<string[]>;
  start(deps: ServiceDeps): Promise<S>;
}

/** Entry point of a subgraph process: configuration from the environment, clean shutdown on SIGINT/SIGTERM. */
export async function runSubgraph(mod: SubgraphModule): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(String((err as Error).message));
    process.exit(1);
  }
  // Lines are shipped to the central log store (unless LOG_SHIPPING=off); the last ones leave before exit.
  const logs = createProcessLogger(mod.name, config);
  const logger = logs.logger;
  try {
    const svc = await mod.start({ config, keys: loadKeys(config), logger });
    const shutdown = async (signal: string) => {
      logger.info({ signal }, 'shutting down');
      await svc.stop().catch((err) => logger.error({ err }, 'error during shutdown'));
      await stopTracing();
      await logs.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void shutdown('SIGINT'));
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    await logs.close();
    process.exit(1);
  }
}
