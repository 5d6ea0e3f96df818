import type { MikroORM } from '@mikro-orm/postgresql';
import { Bus } from './bus';
import type { ServiceName } from './config';
import { migrate } from './db';
import { countUnpublished, OutboxRelay, reportOutboxBacklog } from './outbox';
import { createRedis, Redis } from './redis';
import { ReadinessCheck, RunningServer, startSubgraphServer, SubgraphServerOptions } from './server';
import type { ServiceDeps, StartedService, SubgraphModule } from './service';
import type { GraphQLSchema } from 'graphql';
import type { BaseContext } from './schema';
import type { StopOptions } from './shutdown';

/** Closes one resource; `opts.graceMs` is the time a graceful stop may take (unset: at once). */
export type Closer = (opts: StopOptions) => Promise<unknown> | unknown;

/**
 * What a running service has opened, closed in reverse order. `add` each closer as its resource opens; `guard` the
 * start-up so that a failure half-way releases what was opened (the process, or a test, can then exit cleanly).
 */
export class Lifecycle {
  private closers: Closer[] = [];
  private forced = false;

  add(closer: Closer): void {
    this.closers.unshift(closer);
  }

  async guard<T>(startUp: () => Promise<T>): Promise<T> {
    try {
      return await startUp();
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  /** A closer had to cut work off (its grace ran out): `stop` resolves false. */
  markForced(): void {
    this.forced = true;
  }

  /**
   * Runs every closer, last opened first; one failing does not skip the rest (the first failure is thrown). Resolves
   * false when a closer had to cut work off (`markForced`).
   */
  async stop(opts: StopOptions = {}): Promise<boolean> {
    let failure: unknown;
    // One grace for all: each closer gets what the ones before it left.
    const deadline = opts.graceMs === undefined ? undefined : Date.now() + opts.graceMs;
    for (const closer of this.closers.splice(0)) {
      try {
        await closer(deadline === undefined ? {} : { graceMs: Math.max(0, deadline - Date.now()) });
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure) throw failure;
    return !this.forced;
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

/** What a subgraph's start is given: its deps, and the Lifecycle its resources and server are added to. */
export class SubgraphRun extends Lifecycle {
  constructor(
    readonly name: ServiceName,
    readonly deps: ServiceDeps,
  ) {
    super();
  }

  private readonly servers: RunningServer[] = [];

  /** Shutdown step 1: every server of the run answers 503 on `/ready` (and keeps serving). */
  beginShutdown(): void {
    for (const s of this.servers) s.beginShutdown();
  }

  /** Starts the server on `deps.port` (else the configured port); it is the first thing stopped (drained). */
  async serve<C extends BaseContext>(
    schema: GraphQLSchema,
    opts: Omit<SubgraphServerOptions<C>, 'name' | 'schema' | 'config' | 'keys' | 'logger' | 'port'>,
  ): Promise<RunningServer> {
    const { config, keys, logger, port } = this.deps;
    const name = this.name;
    const server = await startSubgraphServer<C>({
      ...opts,
      name,
      schema,
      config,
      keys,
      logger,
      port: port ?? config.ports[name],
    });
    this.servers.push(server);
    this.add(async (stop) => {
      if (!(await server.stop(stop))) this.markForced();
    });
    return server;
  }

  /** A Redis client (key-prefixed), disconnected at stop. */
  openRedis(): Redis {
    const redis = createRedis(this.deps.config);
    this.add(() => redis.disconnect());
    return redis;
  }

  /**
   * A PostgreSQL service's database, migrated, its NATS connection and its started outbox relay (stopped in the
   * order relay, bus, database).
   */
  async openOutbox(openOrm: () => Promise<MikroORM>): Promise<{ orm: MikroORM; bus: Bus; relay: OutboxRelay }> {
    const { config, logger } = this.deps;
    const orm = await openOrm();
    this.add(() => orm.close());
    await migrate(orm, logger);
    const bus = await Bus.connect(config, logger, this.name);
    this.add((stop) => bus.close(stop));
    const relay = new OutboxRelay(orm, bus, logger);
    relay.start();
    this.add(() => relay.stop());
    this.add(reportOutboxBacklog(this.name, () => countUnpublished(orm)));
    return { orm, bus, relay };
  }
}

/**
 * A SubgraphModule whose `start` adds what it opens to a SubgraphRun: a start that fails half-way releases what it
 * had opened (the process, or a test, can then exit cleanly), and `stop` closes everything in reverse order.
 */
export function defineSubgraph<S extends StartedService>(
  meta: Omit<SubgraphModule<S>, 'start'>,
  start: (run: SubgraphRun) => Promise<Omit<S, 'name' | 'stop'>>,
): SubgraphModule<S> {
  return {
    ...meta,
    async start(deps) {
      const run = new SubgraphRun(meta.name, deps);
      const started = await run.guard(() => start(run));
      return {
        ...started,
        name: meta.name,
        beginShutdown: () => run.beginShutdown(),
        stop: (opts?: StopOptions) => run.stop(opts),
      } as S;
    },
  };
}

/** Module option of subgraphs that call others: replaces their NATS commands (tests pass in-process doubles). */
export interface WithPorts<P> {
  ports?: (bus: Bus) => P;
}
