import net from 'node:net';
import { Client } from 'pg';
import Redis from 'ioredis';
import { connect } from 'nats';
import type { Config } from '@shop/kernel';

/** A backing service `npm start` needs, how to reach it, and what to tell the user when it is down. */
export interface Dependency {
  label: string;
  /** The environment variable that points at it. */
  variable: string;
  /** The docker-compose.yml service that provides it. */
  composeService: string;
  /** host:port only, so no credentials end up in the output. */
  address: string;
  check(timeoutMs: number): Promise<void>;
}

function address(url: string, defaultPort: number): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || defaultPort}`;
  } catch {
    return url;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function checkPostgres(url: string, timeoutMs: number): Promise<void> {
  // Each subgraph uses its own database `<prefix>_<service>`; the server is what matters here.
  const u = new URL(url);
  u.pathname = '/postgres';
  const client = new Client({ connectionString: u.toString(), connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await withTimeout(
      (async () => {
        await client.connect();
        await client.query('SELECT 1');
      })(),
      timeoutMs,
      'connecting',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(url: string, timeoutMs: number): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let firstError: Error | undefined;
  redis.on('error', (err: Error) => {
    firstError ??= err;
  });
  try {
    await withTimeout(
      (async () => {
        // ioredis rejects with "Connection is closed."; the error event says why.
        await redis.connect().catch((err: Error) => {
          throw firstError ?? err;
        });
        const pong = await redis.ping();
        if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
      })(),
      timeoutMs,
      'PING',
    );
  } finally {
    // After a failed connect the socket is gone already; disconnect() would then arm a 2 s timer for nothing.
    if (redis.status !== 'end') redis.disconnect();
  }
}

async function checkNats(url: string, timeoutMs: number): Promise<void> {
  const nc = await withTimeout(
    connect({ servers: url, timeout: timeoutMs, reconnect: false }),
    timeoutMs,
    'connecting',
  );
  try {
    try {
      await withTimeout(nc.jetstreamManager({ timeout: timeoutMs }), timeoutMs, 'JetStream');
    } catch (err) {
      throw new Error(`JetStream is not enabled (run nats-server with -js): ${(err as Error).message}`);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}

export function dependencies(config: Config): Dependency[] {
  return [
    {
      label: 'PostgreSQL',
      variable: 'POSTGRES_URL',
      composeService: 'postgres',
      address: address(config.postgresUrl, 5432),
      check: (t) => checkPostgres(config.postgresUrl, t),
    },
    {
      label: 'Redis',
      variable: 'REDIS_URL',
      composeService: 'redis',
      address: address(config.redisUrl, 6379),
      check: (t) => checkRedis(config.redisUrl, t),
    },
    {
      label: 'NATS',
      variable: 'NATS_URL',
      composeService: 'nats',
      address: address(config.natsUrl, 4222),
      check: (t) => checkNats(config.natsUrl, t),
    },
  ];
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string; errors?: { message?: string }[] };
  // Node reports "connect ECONNREFUSED" for each address of a host as an AggregateError with an empty message.
  const msg = e.message || e.errors?.map((x) => x.message).join('; ') || e.code || String(err);
  return msg.replace(/\s+/g, ' ').trim();
}

/** Checks every dependency in parallel; returns one line per unreachable one (empty: all reachable). */
export async function checkDependencies(deps: Dependency[], timeoutMs = 3000): Promise<string[]> {
  const results = await Promise.all(
    deps.map(async (d) => {
      try {
        await d.check(timeoutMs);
        return undefined;
      } catch (err) {
        return `${d.label} is not reachable at ${d.address} (${reason(err)}): set ${d.variable} to a running server, or start one with \`docker compose up -d ${d.composeService}\``;
      }
    }),
  );
  return results.filter((r): r is string => r !== undefined);
}

/** Ports that something else already listens on (binding them the way the servers do). */
export async function portsInUse(ports: { port: number; variable: string; host?: string }[]): Promise<string[]> {
  const busy: string[] = [];
  for (const p of ports) {
    if (!p.port) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(p.port, p.host ?? '0.0.0.0', () => srv.close(() => resolve(true)));
    });
    if (!free)
      busy.push(
        `port ${p.port} (${p.variable}) is already in use: stop what listens on it (another \`npm start\`?) or set ${p.variable}`,
      );
  }
  return busy;
}
