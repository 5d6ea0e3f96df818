import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { children } from './fixtures/procs';
import { composeModules, StartedService } from '@shop/kernel';
import { createTestEnv, eventually, freePort, graphql, TestEnv } from '@shop/kernel/testing';
import productSubgraph from '../../subgraphs/product/src';

/**
 * GATEWAY_WORKERS=2: the metrics listener (GATEWAY_METRICS_PORT) runs in the primary and serves the total across
 * the workers (prom-client's AggregatorRegistry over the cluster IPC channel). Connections are closed after each
 * request, so node:cluster hands them to both workers in turn; the counter still shows every request.
 * (Uses dist/, which `npm test` builds first.)
 */
const MAIN = path.resolve(__dirname, '../../dist/gateway/src/main.js');
let env: TestEnv;
let product: StartedService;
let primary: ChildProcess;
let url: string;
let metricsUrl: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cluster-metrics-'));

beforeAll(async () => {
  env = await createTestEnv();
  product = await productSubgraph.start({ config: env.config, keys: env.keys, logger: env.logger, port: 0 });
  const { supergraphSdl } = await composeModules([productSubgraph], { product: product.url });
  fs.writeFileSync(path.join(dir, 'supergraph.graphql'), supergraphSdl);
  const [port, metricsPort] = [await freePort(), await freePort()];
  url = `http://127.0.0.1:${port}/graphql`;
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  primary = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      GATEWAY_PORT: String(port),
      GATEWAY_METRICS_PORT: String(metricsPort),
      GATEWAY_WORKERS: '2',
      SUPERGRAPH_FILE: path.join(dir, 'supergraph.graphql'),
      PRODUCT_SUBGRAPH_URL: product.url,
      SMTP_HOST: '127.0.0.1', // no development mailbox
      JWT_PUBLIC_KEY: env.keys.access.publicKey,
      INTERNAL_JWT_PRIVATE_KEY: env.keys.internal.privateKey,
      INTERNAL_JWT_PUBLIC_KEY: env.keys.internal.publicKey,
      KEYS_DIR: dir,
    },
    stdio: 'inherit',
  });
  await eventually(
    'the gateway workers to answer',
    async () => (await graphql(url, '{ categories { slug } }').catch(() => undefined))?.data,
    60_000,
  );
  // Both workers serving: requests on fresh connections until each worker holds a connection to the subgraph.
  await eventually('two workers', async () => children(primary.pid!).length === 2, 60_000);
  const productPort = Number(new URL(product.url).port);
  await eventually(
    'both workers to serve',
    async () => {
      await graphql(url, '{ categories { slug } }', {}, { headers: { connection: 'close' } });
      return children(primary.pid!).every((w) => connectedTo(w, productPort));
    },
    60_000,
  );
}, 120_000);

afterAll(async () => {
  if (primary && primary.exitCode === null) primary.kill('SIGKILL');
  await product?.stop();
  await env?.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Whether process `pid` holds a TCP connection to 127.0.0.1:`port` (its socket inodes against /proc/net/tcp). */
function connectedTo(pid: number, port: number): boolean {
  const inodes = new Set(
    fs
      .readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter(Boolean),
  );
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .some((f) => f[2]?.endsWith(`:${hexPort}`) && inodes.has(f[9]));
}

/** The value of one sample line `name{labels} value` of an exposition (0 when absent). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test('the primary serves the sum of every worker, and metrics are not on the public port', async () => {
  const series = 'shop_graphql_operations_total{operation="Categories",type="query",outcome="success"}';
  const before = sample(await (await fetch(metricsUrl)).text(), series);
  const N = 20;
  for (let i = 0; i < N; i++) {
    const res = await graphql(
      url,
      'query Categories { categories { slug } }',
      {},
      { headers: { connection: 'close' } },
    );
    expect(res.errors).toBeUndefined();
  }
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(sample(text, series) - before).toBe(N);
  // Histograms are summed too, and Node's process metrics are there.
  expect(
    sample(text, 'shop_graphql_operation_duration_seconds_count{operation="Categories",type="query"}'),
  ).toBeGreaterThanOrEqual(N);
  expect(text).toContain('# TYPE nodejs_eventloop_lag_p99_seconds gauge');

  const pub = await fetch(new URL('/metrics', url));
  expect(await pub.text()).not.toContain('# TYPE');
}, 60_000);
