import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ServiceName } from '../config';
import { createTestEnv, freePort, graphql, GraphQLResponse, TestEnv } from './harness';
import { PROCESS_STACK_ORDER, REPO_ROOT, spawnService, StackProcess, stackBaseEnv, waitReady } from './process-stack';

/** Where Debian's `haproxy` package installs the binary (`.ci/run` installs it when missing). */
export function haproxyBinary(): string {
  for (const p of [process.env.HAPROXY_BIN, '/usr/sbin/haproxy', '/usr/bin/haproxy'])
    if (p && fs.existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('haproxy is not installed (apt-get install haproxy; .ci/run does it)');
  }
}

export interface ScaleStack {
  env: TestEnv;
  baseEnv: Record<string, string>;
  /** Instances of each subgraph, `instances[name][i]`, and the gateways, `gateways[i]`. */
  instances: Record<ServiceName, StackProcess[]>;
  gateways: StackProcess[];
  /** The load balancer's frontend for the gateways (`http://127.0.0.1:<port>/graphql`). */
  url: string;
  /** The load balancer's frontend for one subgraph (what the gateways' supergraph routes it to). */
  subgraphUrl(name: ServiceName): string;
  haproxy: ChildProcess;
  /** haproxy.cfg as generated. */
  haproxyConfig: string;
  /** Resolves once HAProxy has every server of every backend UP (after a restart); fails after `timeoutMs`. */
  inRotation(timeoutMs?: number): Promise<void>;
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    opts?: { token?: string; headers?: Record<string, string>; url?: string },
  ): Promise<GraphQLResponse<T> & { status: number }>;
  stop(): Promise<void>;
}

/**
 * N instances of every subgraph and N gateways, each its own process from dist/, behind a real HAProxy (round-robin):
 * one frontend per subgraph, one for the gateways; the gateways' supergraph routes each subgraph to its frontend.
 * HAProxy checks `/ready` (every 250 ms; a process answering 503 while it drains leaves the rotation), and
 * retries a request whose connection failed or got no answer on another server, so that a stopped instance loses
 * none. `/graphql` and the rest (the gateways' own `/ready` polls) are balanced separately: `/graphql` requests
 * alternate strictly between instances. Isolated like `startProcessStack`.
 */
export async function startScaleStack(
  opts: {
    instances?: number;
    gateways?: number;
    subgraphs?: ServiceName[];
    env?: Record<string, string>;
    envFor?: (name: ServiceName | 'gateway', index: number) => Record<string, string>;
    /** Longest wait for each process to be ready (default 60 s). */
    readyTimeoutMs?: number;
  } = {},
): Promise<ScaleStack> {
  const n = opts.instances ?? 2;
  const g = opts.gateways ?? 2;
  const names = opts.subgraphs ?? PROCESS_STACK_ORDER;
  const env = await createTestEnv(opts.env);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scale-stack-'));
  // A stopped process first answers /ready with 503 for 2 s (HAProxy takes it out), then closes its port. Twelve
  // subgraph processes with the default pool of 10 could take more than PostgreSQL's 100 connections: 4 each.
  const baseEnv = stackBaseEnv(env, dir, { SHUTDOWN_DELAY_SECONDS: '2', POSTGRES_POOL_MAX: '4', ...opts.env });
  const instances = {} as Record<ServiceName, StackProcess[]>;
  const gateways: StackProcess[] = [];
  let haproxy: ChildProcess | undefined;
  const stopAll = async () => {
    await Promise.all(gateways.map((p) => p.stop('SIGTERM').catch(() => undefined)));
    await Promise.all(
      Object.values(instances)
        .flat()
        .map((p) => p.stop('SIGTERM').catch(() => undefined)),
    );
    if (haproxy && haproxy.exitCode === null) {
      const h = haproxy;
      await new Promise<void>((r) => {
        h.once('exit', () => r());
        h.kill('SIGTERM');
      });
    }
  };
  try {
    const ports: Record<string, { frontend: number; servers: number[] }> = {};
    for (const name of [...names, 'gateway'])
      ports[name] = {
        frontend: await freePort(),
        servers: await Promise.all(Array.from({ length: name === 'gateway' ? g : n }, () => freePort())),
      };
    const frontendUrl = (name: string) => `http://127.0.0.1:${ports[name].frontend}/graphql`;
    const spawnSubgraph = (name: ServiceName, i: number) =>
      spawnService(`${name}-${i + 1}`, `dist/subgraphs/${name}/src/main.js`, ports[name].servers[i], {
        ...baseEnv,
        [`${name.toUpperCase()}_PORT`]: String(ports[name].servers[i]),
        ...opts.envFor?.(name, i),
      });
    // The first instance of each, in order (migrations, streams), then the others together.
    for (const name of names) {
      const p = spawnSubgraph(name, 0);
      instances[name] = [p];
      await waitReady(p, '/ready', opts.readyTimeoutMs);
    }
    await Promise.all(
      names.flatMap((name) =>
        Array.from({ length: n - 1 }, async (_, k) => {
          const p = spawnSubgraph(name, k + 1);
          instances[name].push(p);
          await waitReady(p, '/ready', opts.readyTimeoutMs);
        }),
      ),
    );

    const statsSocket = path.join(dir, 'haproxy.sock');
    const haproxyConfig = renderHaproxyConfig(ports, statsSocket);
    const cfgFile = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(cfgFile, haproxyConfig);
    const bin = haproxyBinary();
    execFileSync(bin, ['-c', '-q', '-f', cfgFile]);
    const hp = spawn(bin, ['-db', '-f', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy = hp;
    const hpOut: string[] = [];
    hp.stdout!.on('data', (b: Buffer) => hpOut.push(String(b)));
    hp.stderr!.on('data', (b: Buffer) => hpOut.push(String(b)));

    const supergraphFile = path.join(dir, 'supergraph.graphql');
    fs.writeFileSync(
      supergraphFile,
      fs
        .readFileSync(path.join(REPO_ROOT, 'schema/supergraph.graphql'), 'utf8')
        .replace(/@join__graph\(name: "([a-z]+)", url: "[^"]*"\)/g, (m, name: string) =>
          ports[name] ? `@join__graph(name: "${name}", url: "${frontendUrl(name)}")` : m,
        ),
    );
    for (let i = 0; i < g; i++) {
      const port = ports.gateway.servers[i];
      const gatewayEnv = { GATEWAY_METRICS_PORT: String(await freePort()), ...opts.envFor?.('gateway', i) };
      const p = spawnService(
        `gateway-${i + 1}`,
        'dist/gateway/src/main.js',
        port,
        {
          ...baseEnv,
          GATEWAY_PORT: String(port),
          SUPERGRAPH_FILE: supergraphFile,
          ...Object.fromEntries(names.map((name) => [`${name.toUpperCase()}_SUBGRAPH_URL`, frontendUrl(name)])),
          ...gatewayEnv,
        },
        '/ready',
      );
      p.metricsPort = Number(gatewayEnv.GATEWAY_METRICS_PORT);
      gateways.push(p);
    }
    await Promise.all(gateways.map((p) => waitReady(p, '/ready', opts.readyTimeoutMs)));
    const inRotation = async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (hp.exitCode !== null) throw new Error(`haproxy exited:\n${hpOut.join('')}`);
        const down = await serversNotUp(statsSocket).catch((err: Error) => [String(err.message)]);
        if (!down.length) return;
        if (Date.now() > deadline) throw new Error(`not in rotation behind haproxy: ${down.join(', ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await inRotation();
    const url = frontendUrl('gateway');
    return {
      env,
      baseEnv,
      instances,
      gateways,
      url,
      subgraphUrl: frontendUrl,
      haproxy: hp,
      haproxyConfig,
      inRotation,
      gql: (query, variables = {}, o = {}) => graphql(o.url ?? url, query, variables, o),
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

/**
 * The load balancer: per service a frontend, a `/graphql` backend and one for the rest, both `balance roundrobin`
 * over the same servers. What each setting is for:
 * - `option httpchk GET /ready` every 250 ms, `fall 2`: a draining process (503) leaves the rotation within ~0.5 s
 *   (it keeps serving for SHUTDOWN_DELAY_SECONDS = 2 meanwhile); `rise 2`: a restarted one is back after two good
 *   answers. `timeout check 3s`: a process slow to answer under load is not taken for a dead one.
 * - `retries 3`, `option redispatch 1`, `retry-on conn-failure empty-response response-timeout`: a request whose
 *   connection was refused/reset or that got no answer is sent again, to another server each time (HAProxy's L7
 *   retries; the request is buffered for that) — a process stopped between two health checks loses no request.
 * - `option http-server-close`: no idle server connection is reused, so none races a process closing it.
 * - `timeout tunnel`: WebSockets (subscriptions) live long; `timeout connect` short, so a dead server is left fast.
 */
export function renderHaproxyConfig(
  ports: Record<string, { frontend: number; servers: number[] }>,
  statsSocket: string,
): string {
  const lines = [
    'global',
    '  maxconn 4096',
    `  stats socket ${statsSocket} mode 600 level user`,
    '  log stderr format short local0 notice',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  timeout connect 1s',
    '  timeout client 120s',
    '  timeout server 60s',
    '  timeout tunnel 1h',
    '  timeout http-keep-alive 10s',
    '  option http-server-close',
    '  option httpchk GET /ready',
    '  http-check expect status 200',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response response-timeout',
    '  timeout check 3s',
    '  default-server inter 250ms fastinter 250ms downinter 250ms fall 2 rise 2',
    '',
  ];
  for (const [name, p] of Object.entries(ports)) {
    const servers = p.servers.map((port, i) => `  server ${name}-${i + 1} 127.0.0.1:${port} check`);
    lines.push(
      `frontend ${name}`,
      `  bind 127.0.0.1:${p.frontend}`,
      `  use_backend ${name}_graphql if { path /graphql }`,
      `  default_backend ${name}_other`,
      '',
      `backend ${name}_graphql`,
      '  balance roundrobin',
      ...servers,
      '',
      `backend ${name}_other`,
      '  balance roundrobin',
      ...servers,
      '',
    );
  }
  return lines.join('\n');
}

/** `backend/server` of every server HAProxy does not report UP, from `show stat` on its stats socket. */
async function serversNotUp(socket: string): Promise<string[]> {
  const csv = await new Promise<string>((resolve, reject) => {
    const c = net.connect(socket);
    let out = '';
    c.on('connect', () => c.write('show stat\n'));
    c.on('data', (d) => (out += String(d)));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
  const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
  const cols = header.split(',');
  const [px, sv, status] = ['pxname', 'svname', 'status'].map((c) => cols.indexOf(c));
  return rows
    .map((r) => r.split(','))
    .filter((r) => r[sv] !== 'FRONTEND' && r[sv] !== 'BACKEND' && r[status] !== 'UP')
    .map((r) => `${r[px]}/${r[sv]} ${r[status]}`);
}
