import type { MikroORM } from '@mikro-orm/postgresql';
import { Bus } from './bus';
import type { Config, ServiceName } from './config';
import { migrate } from './db';
import type { Logger } from './logger';
import { OutboxRelay } from './outbox';
import type { Redis } from './redis';
import { ReadinessCheck, RunningServer, startSubgraphServer, SubgraphServerOptions } from './server';
import type { ServiceDeps } from './service';
import type { BaseContext } from './schema';

export type Closer = () => Promise<unknown> | unknown;

/**
 * What a running service has opened, closed in reverse order. `add` each closer as its resource opens; `run` the
 * start-up so that a failure half-way releases what was opened (the process, or a test, can then exit cleanly).
 */
export class Lifecycle {
  private closers: Closer[] = [];

  add(closer: Closer): void {
    this.closers.unshift(closer);
  }

  async run<T>(startUp: () => Promise<T>): Promise<T> {
    try {
      return await startUp();
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  /** Runs every closer, last opened first; one failing does not skip the rest (the first failure is thrown). */
  async stop(): Promise<void> {
    let failure: unknown;
    for (const closer of this.closers.splice(0)) {
      try {
        await closer();
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure) throw failure;
  }
}

/** Readiness checks of the usual connections, in the order postgres, redis, nats. */
export function readinessOf(parts: { orm?: MikroORM; redis?: Redis; bus?: Bus }): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [];
  const { orm, redis, bus } = parts;
  if (orm) checks.push({ name: 'postgres', check: () => orm.em.getConnection().execute('SELECT 1') });
  if (redis) checks.push({ name: 'redis', check: () => redis.ping() });
  if (bus) checks.push({ name: 'nats', check: () => bus.nc.flush() });
  return checks;
}

/**
 * A PostgreSQL service's database, migrated, its NATS connection and its started outbox relay, each closer added
 * to `life` (relay, then bus, then database at stop).
 */
export async function openOutboxService(
  life: Lifecycle,
  deps: { config: Config; logger: Logger; service: ServiceName },
  openOrm: () => Promise<MikroORM>,
): Promise<{ orm: MikroORM; bus: Bus; relay: OutboxRelay }> {
  const orm = await openOrm();
  life.add(() => orm.close());
  await migrate(orm, deps.logger);
  const bus = await Bus.connect(deps.config, deps.logger, deps.service);
  life.add(() => bus.close());
  const relay = new OutboxRelay(orm, bus, deps.logger);
  relay.start();
  life.add(() => relay.stop());
  return { orm, bus, relay };
}

/** Starts a subgraph's server on `deps.port` (else its configured port); its stop is added to `life`. */
export async function serveSubgraph<C extends BaseContext>(
  life: Lifecycle,
  deps: ServiceDeps,
  opts: Omit<SubgraphServerOptions<C>, 'config' | 'keys' | 'logger' | 'port'> & { name: ServiceName },
): Promise<RunningServer> {
  const { config, keys, logger } = deps;
  const server = await startSubgraphServer<C>({
    ...opts,
    config,
    keys,
    logger,
    port: deps.port ?? config.ports[opts.name],
  });
  life.add(() => server.stop());
  return server;
}
