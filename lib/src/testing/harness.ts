import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { Client } from 'pg';
import { connect } from 'nats';
import {
  generateInternalKeyPair,
  generateKeyPair,
  Identity,
  INTERNAL_TOKEN_HEADER,
  Keys,
  signInternalToken,
} from '../auth';
import { Config, loadConfig, ServiceName } from '../config';
import { composeModules } from '../composition';
import { DevMailbox } from '../devmail';
import { createLogger, Logger } from '../logger';
import { LogShipper } from '../logship';
import { createRedis, deletePrefix } from '../redis';
import type { GatewayStarter, StartedService, SubgraphModule } from '../service';

/**
 * A port nobody listens on, for a server started a little later (its URL must be known first, e.g. in PUBLIC_URL).
 * Taken BELOW the kernel's ephemeral range: a port from that range (what `listen(0)` hands out) can become the local
 * port of any outgoing connection (to PostgreSQL, NATS, …) made before the server listens, which then fails with
 * EADDRINUSE. Random within [10000, start of the range), checked by binding it; `listen(0)` as the last resort.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 50 && low > 10_100; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await bindable(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function ephemeralLow(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 0;
  } catch {
    return 0; // not Linux: listen(0)
  }
}

/** Whether `port` can be listened on, on every address (servers here listen on 0.0.0.0 or 127.0.0.1). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

export interface TestEnv {
  /** Unique per test file: names its databases, Redis keys and NATS streams. */
  id: string;
  config: Config;
  keys: Keys;
  mail: DevMailbox;
  logger: Logger;
  /** With `LOG_SHIPPING: 'on'` in the env: the shipper of `logger` (central-logs tests), connected to this env's NATS. */
  shipper?: LogShipper;
  cleanup(): Promise<void>;
}

let cachedKeys: Keys | undefined;
function testKeys(): Keys {
  // RSA generation is slow; one pair per jest worker module registry is plenty.
  cachedKeys ??= { access: generateKeyPair(), internal: generateInternalKeyPair() };
  return cachedKeys;
}

/**
 * An isolated environment on the real local services: databases `t<id>_<service>`, Redis prefix `t<id>:`,
 * NATS subjects/streams prefixed `t<id>`, a private mailbox on a free port, fresh signing keys.
 */
export async function createTestEnv(env: Record<string, string> = {}): Promise<TestEnv> {
  const id = `t${randomBytes(5).toString('hex')}`;
  const mail = new DevMailbox();
  const mailPort = await mail.start(0);
  const keys = testKeys();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    POSTGRES_URL: `${(process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/x').replace(/\/[^/]*$/, '')}/${id}`,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `${id}:`,
    NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    NATS_PREFIX: id,
    DEV_MAIL_PORT: String(mailPort),
    SMTP_PORT: String(mailPort),
    PUBLIC_URL: 'http://shop.test',
    EMAIL_RETRY_BASE_MS: '200',
    EMAIL_POLL_MS: '50',
    // Every test talks from 127.0.0.1: the gateway's rate limits are off unless a test turns them on
    // (gateway/test/edge-ratelimit.test.ts).
    RATE_LIMIT_PER_IP: '0',
    RATE_LIMIT_PER_USER: '0',
    RATE_LIMIT_AUTH_PER_IP: '0',
    RATE_LIMIT_MEDIA_PER_IP: '0',
    WS_CONNECT_RATE_PER_IP: '0',
    // Central logs are off unless a test asks for them (subgraphs/notification/test/logs*.test.ts).
    LOG_SHIPPING: 'off',
    ...env,
  });
  config.jwt = {
    privateKey: keys.access.privateKey,
    publicKey: keys.access.publicKey,
    internalPrivateKey: keys.internal.privateKey,
    internalPublicKey: keys.internal.publicKey,
  };
  // Shipping: every level the config asks for is shipped, stdout stays at TEST_LOG_LEVEL (default error).
  const shipper = config.logs.shipping
    ? new LogShipper({ service: 'test', maxBufferedLines: config.logs.bufferLines })
    : undefined;
  const logger = shipper
    ? createLogger('test', config.logLevel, undefined, {
        ship: shipper,
        destinationLevel: (process.env.TEST_LOG_LEVEL ?? 'error') as 'error',
      })
    : createLogger('test', config.logLevel);
  if (shipper) await shipper.connect(config);
  return {
    id,
    config,
    keys,
    mail,
    logger,
    shipper,
    async cleanup() {
      await shipper?.close();
      await mail.stop();
      await dropTestDatabases(config.postgresUrl, id);
      const redis = createRedis(config, { prefix: false });
      await deletePrefix(redis, config.redisPrefix).finally(() => redis.disconnect());
      await deleteTestStreams(config.natsUrl, id);
    },
  };
}

async function dropTestDatabases(postgresUrl: string, id: string): Promise<void> {
  const u = new URL(postgresUrl);
  u.pathname = '/postgres';
  const client = new Client({ connectionString: u.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
      `${id}\\_%`,
    ]);
    for (const r of rows) await client.query(`DROP DATABASE IF EXISTS "${r.datname}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

async function deleteTestStreams(natsUrl: string, id: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await nc.jetstreamManager();
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`${id}_`)) await jsm.streams.delete(name).catch(() => undefined);
    }
  } finally {
    await nc.close();
  }
}

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

/** Posts a GraphQL operation; `token` becomes `Authorization: Bearer …`. */
export async function graphql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  opts: { token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<T> & { status: number }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  try {
    return { status: res.status, ...(JSON.parse(text) as GraphQLResponse<T>) };
  } catch {
    return { status: res.status, errors: [{ message: text }] };
  }
}

/**
 * GraphQL straight to one subgraph of a stack with an internal token minted for it and for `identity` — what the
 * gateway would send (`_entities`, statement counting, a chosen client address).
 */
export function subgraphGql<T = Record<string, any>>(
  stack: Pick<Stack, 'env' | 'services'>,
  service: ServiceName,
  query: string,
  variables: Record<string, unknown> = {},
  identity: Identity = {},
): Promise<GraphQLResponse<T> & { status: number }> {
  const target = stack.services[service];
  if (!target) throw new Error(`the stack runs no ${service} subgraph`);
  return graphql<T>(target.url, query, variables, {
    headers: { [INTERNAL_TOKEN_HEADER]: signInternalToken(stack.env.keys, identity, service) },
  });
}

/** `subgraphGql` bound to one subgraph: what a subgraph's test helpers offer for their own service. */
export function subgraphGqlFor(service: ServiceName) {
  return <T = Record<string, any>>(
    stack: Pick<Stack, 'env' | 'services'>,
    query: string,
    variables: Record<string, unknown> = {},
    identity: Identity = {},
  ) => subgraphGql<T>(stack, service, query, variables, identity);
}

export interface Stack {
  env: TestEnv;
  gatewayUrl: string;
  services: Record<string, StartedService>;
  /** GraphQL through the gateway. */
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<GraphQLResponse<T> & { status: number }>;
  stop(): Promise<void>;
}

/**
 * Boots the given subgraphs and the gateway in this process on free ports against the real services,
 * with a supergraph composed from exactly these subgraphs. `stop()` shuts everything down and drops the data.
 */
export async function startStack(opts: {
  subgraphs: SubgraphModule[];
  gateway: GatewayStarter;
  env?: Record<string, string>;
  logger?: Logger;
}): Promise<Stack> {
  const env = await createTestEnv(opts.env);
  // A test that asserts on what was logged passes its own (capturing) logger.
  if (opts.logger) env.logger = opts.logger;
  const services: Record<string, StartedService> = {};
  try {
    for (const m of opts.subgraphs) {
      services[m.name] = await m.start({
        config: env.config,
        keys: env.keys,
        logger: env.logger.child({ service: m.name }),
        port: 0,
      });
    }
    const urls = Object.fromEntries(Object.entries(services).map(([n, s]) => [n, s.url]));
    const { supergraphSdl } = await composeModules(opts.subgraphs, urls);
    const gw = await opts.gateway({
      config: env.config,
      keys: env.keys,
      logger: env.logger.child({ service: 'gateway' }),
      port: 0,
      supergraphSdl,
      subgraphUrls: urls,
      mailbox: env.mail,
    });
    return {
      env,
      gatewayUrl: gw.url,
      services,
      gql: (query, variables, token) => graphql(gw.url, query, variables, { token }),
      async stop() {
        await gw.stop();
        for (const s of Object.values(services).reverse()) await s.stop();
        await env.cleanup();
      },
    };
  } catch (err) {
    for (const s of Object.values(services).reverse()) await s.stop().catch(() => undefined);
    await env.cleanup().catch(() => undefined);
    throw err;
  }
}

/** Polls `probe` until it returns something truthy; fails with `what` (and the last error the probe threw) after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
