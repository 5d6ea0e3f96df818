import type { GraphQLSchema } from 'graphql';
import { Keys, loadKeys } from './auth';
import { Config, loadConfig, ServiceName } from './config';
import type { DevMailbox } from './devmail';
import type { Logger } from './logger';
import { createProcessLogger } from './logship';
import { onShutdownSignals, StopOptions } from './shutdown';
import { stopTracing } from './tracing';

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
  /** Shutdown step 1: `/ready` answers 503 "shutting down"; traffic is still served. */
  beginShutdown(): void;
  /** Drains within `opts.graceMs` (unset: closes at once); false when the grace ran out (lib/src/shutdown.ts). */
  stop(opts?: StopOptions): Promise<boolean | void>;
}
export type GatewayStarter = (deps: GatewayDeps) => Promise<StartedGateway>;

export interface StartedService {
  name: ServiceName;
  /** GraphQL endpoint of this instance. */
  url: string;
  /** Shutdown step 1: `/ready` answers 503 "shutting down"; traffic is still served. */
  beginShutdown?(): void;
  /** Drains within `opts.graceMs` (unset: closes at once); false when the grace ran out (lib/src/shutdown.ts). */
  stop(opts?: StopOptions): Promise<boolean | void>;
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

/**
 * Entry point of a subgraph process: configuration from the environment; on SIGTERM/SIGINT not ready at once, then a
 * drain bounded by SHUTDOWN_GRACE_SECONDS (lib/src/shutdown.ts).
 */
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
    onShutdownSignals(
      {
        beginShutdown: () => svc.beginShutdown?.(),
        stop: async (opts) => {
          const drained = await svc.stop(opts);
          // Telemetry is flushed here, after the last request's work; the log shipper last, with the final lines.
          await stopTracing();
          await logs.close();
          return drained;
        },
      },
      { logger, config: config.shutdown },
    );
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    await logs.close();
    process.exit(1);
  }
}
