import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServiceName } from '../config';
import { createTestEnv, freePort, graphql, GraphQLResponse, TestEnv } from './harness';

/** The repository root (this file runs from lib/src/testing under jest, lib/dist/testing when built). */
export const REPO_ROOT = path.resolve(__dirname, '../../..');

/** Every subgraph in the order `npm start` starts them (each one's events may be consumed by the next). */
export const PROCESS_STACK_ORDER: ServiceName[] = ['user', 'product', 'cart', 'order', 'media', 'notification'];

export interface StackProcess {
  name: string;
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Where its `GET /metrics` answers: a subgraph's own port; the gateway's GATEWAY_METRICS_PORT (a free port unless `envFor` sets one; 0 = none). */
  metricsPort: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far (pino JSON lines). */
  output(): string;
  /** Sends `signal` and resolves with the exit code once the process has exited (SIGKILL after `killAfterMs`). */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
  /**
   * Starts the process again with the same port and environment, plus `envPatch` from then on (stopping it first if it
   * runs); resolves once ready.
   */
  restart(timeoutMs?: number, envPatch?: Record<string, string>): Promise<void>;
}

export interface ProcessStack {
  env: TestEnv;
  /** The environment every process was started with (before its own additions). */
  baseEnv: Record<string, string>;
  gatewayUrl: string;
  processes: Record<string, StackProcess>;
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    opts?: { token?: string; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<T> & { status: number }>;
  /** Stops every process still running (gateway first) and drops the stack's data. */
  stop(): Promise<void>;
}

/**
 * Every service as its own process, as `npm start` runs them, from the built JavaScript in dist/ (`npm test` builds
 * it first; run `npm run build` before running such a test on its own). Isolated like `startStack`: databases
 * `t<id>_<service>`, Redis prefix and NATS prefix `t<id>`, a private mailbox. Each process gets `env`, then its entry
 * of `envFor` (e.g. `OTEL_SERVICE_NAME` or a metrics port); the gateway's `SUPERGRAPH_FILE` is the repository's
 * supergraph with this run's routing URLs.
 */
export async function startProcessStack(
  opts: {
    subgraphs?: ServiceName[];
    gateway?: boolean;
    env?: Record<string, string>;
    envFor?: (name: ServiceName | 'gateway') => Record<string, string>;
    readyTimeoutMs?: number;
  } = {},
): Promise<ProcessStack> {
  const env = await createTestEnv(opts.env);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'process-stack-'));
  const baseEnv = stackBaseEnv(env, dir, opts.env);
  const processes: Record<string, StackProcess> = {};
  const stopAll = async () => {
    for (const p of Object.values(processes).reverse()) await p.stop('SIGTERM').catch(() => undefined);
  };
  try {
    const urls: Record<string, string> = {};
    for (const name of opts.subgraphs ?? PROCESS_STACK_ORDER) {
      const port = await freePort();
      const p = spawnService(name, `dist/subgraphs/${name}/src/main.js`, port, {
        ...baseEnv,
        [`${name.toUpperCase()}_PORT`]: String(port),
        ...opts.envFor?.(name),
      });
      processes[name] = p;
      await waitReady(p, '/ready', opts.readyTimeoutMs);
      urls[name] = `${p.origin}/graphql`;
    }
    let gatewayUrl = '';
    if (opts.gateway !== false) {
      const supergraphFile = path.join(dir, 'supergraph.graphql');
      const sdl = fs
        .readFileSync(path.join(REPO_ROOT, 'schema/supergraph.graphql'), 'utf8')
        .replace(/@join__graph\(name: "([a-z]+)", url: "[^"]*"\)/g, (m, n: string) =>
          urls[n] ? `@join__graph(name: "${n}", url: "${urls[n]}")` : m,
        );
      fs.writeFileSync(supergraphFile, sdl);
      const port = await freePort();
      // Never the default 9400: stacks of concurrent tests would contend for it.
      const gatewayEnv: Record<string, string> = {
        GATEWAY_METRICS_PORT: String(await freePort()),
        ...opts.envFor?.('gateway'),
      };
      const p = spawnService(
        'gateway',
        'dist/gateway/src/main.js',
        port,
        {
          ...baseEnv,
          GATEWAY_PORT: String(port),
          SUPERGRAPH_FILE: supergraphFile,
          ...Object.fromEntries(Object.entries(urls).map(([n, u]) => [`${n.toUpperCase()}_SUBGRAPH_URL`, u])),
          ...gatewayEnv,
        },
        '/health',
      );
      p.metricsPort = Number(gatewayEnv.GATEWAY_METRICS_PORT);
      processes.gateway = p;
      await waitReady(p, '/health', opts.readyTimeoutMs);
      gatewayUrl = `${p.origin}/graphql`;
    }
    return {
      env,
      baseEnv,
      gatewayUrl,
      processes,
      gql: (query, variables = {}, o = {}) => graphql(gatewayUrl, query, variables, o),
      async stop() {
        await stopAll();
        await env.cleanup();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    await env.cleanup().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The environment every process of a stack starts with: `env`'s isolation (databases, prefixes, keys, mailbox) and `extra`. */
export function stackBaseEnv(env: TestEnv, dir: string, extra: Record<string, string> = {}): Record<string, string> {
  const c = env.config;
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    POSTGRES_URL: c.postgresUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: c.redisPrefix,
    NATS_URL: c.natsUrl,
    NATS_PREFIX: c.natsPrefix,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(c.smtp.port),
    PUBLIC_URL: 'http://shop.test',
    KEYS_DIR: dir,
    MEDIA_DIR: path.join(dir, 'media'),
    JWT_PRIVATE_KEY: env.keys.access.privateKey!,
    JWT_PUBLIC_KEY: env.keys.access.publicKey!,
    INTERNAL_JWT_PRIVATE_KEY: env.keys.internal.privateKey!,
    INTERNAL_JWT_PUBLIC_KEY: env.keys.internal.publicKey!,
    EMAIL_RETRY_BASE_MS: '200',
    EMAIL_POLL_MS: '50',
    RATE_LIMIT_PER_IP: '0',
    RATE_LIMIT_PER_USER: '0',
    RATE_LIMIT_AUTH_PER_IP: '0',
    RATE_LIMIT_MEDIA_PER_IP: '0',
    WS_CONNECT_RATE_PER_IP: '0',
    STOREFRONT_DIR: 'off',
    ...extra,
  };
}

/** Starts `script` (relative to the repository root) as a service process on `port`; `restart()` starts it again alike. */
export function spawnService(
  name: string,
  script: string,
  port: number,
  env: Record<string, string>,
  readyRoute = '/ready',
): StackProcess {
  const file = path.join(REPO_ROOT, script);
  if (!fs.existsSync(file)) throw new Error(`${script} does not exist: run \`npm run build\` first`);
  const chunks: string[] = [];
  env = { ...env };
  const launch = () => {
    const child = spawn(process.execPath, [file], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => chunks.push(b.toString()));
    child.stderr!.on('data', (b: Buffer) => chunks.push(b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exited };
  };
  let run = launch();
  const p: StackProcess = {
    name,
    port,
    origin: `http://127.0.0.1:${port}`,
    metricsPort: port,
    get child() {
      return run.child;
    },
    get exited() {
      return run.exited;
    },
    output: () => chunks.join(''),
    async stop(signal = 'SIGTERM', killAfterMs = 15_000) {
      const { child, exited } = run;
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async restart(timeoutMs?: number, envPatch: Record<string, string> = {}) {
      if (run.child.exitCode === null && run.child.signalCode === null) await p.stop();
      Object.assign(env, envPatch);
      run = launch();
      await waitReady(p, readyRoute, timeoutMs);
    },
  };
  return p;
}

export async function waitReady(p: StackProcess, route: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(`${p.name} exited before it was ready:\n${p.output().slice(-4000)}`);
    try {
      const res = await fetch(`${p.origin}${route}`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${p.name} not ready at ${route}:\n${p.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
