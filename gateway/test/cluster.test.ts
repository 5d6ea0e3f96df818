import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { children } from './fixtures/procs';
import { composeModules, StartedService } from '@shop/kernel';
import { createTestEnv, freePort, graphql, TestEnv } from '@shop/kernel/testing';
import productSubgraph from '../../subgraphs/product/src';

/**
 * GATEWAY_WORKERS=2: the built gateway runs as a primary with two workers on one port; a worker that dies is
 * replaced while the others keep serving; SIGTERM to the primary stops everything. (Uses dist/, which
 * `npm test` builds first.)
 */
const MAIN = path.resolve(__dirname, '../../dist/gateway/src/main.js');
let env: TestEnv;
let product: StartedService;
let primary: ChildProcess;
let url: string;
/** Worker pids the primary has logged as listening on the gateway port. */
const listening = new Set<number>();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cluster-'));

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const PAGE = `{ products(first: 1) { edges { node { id } } } }`;

beforeAll(async () => {
  env = await createTestEnv();
  product = await productSubgraph.start({ config: env.config, keys: env.keys, logger: env.logger, port: 0 });
  const { supergraphSdl } = await composeModules([productSubgraph], { product: product.url });
  fs.writeFileSync(path.join(dir, 'supergraph.graphql'), supergraphSdl);
  const port = await freePort();
  url = `http://127.0.0.1:${port}/graphql`;
  primary = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      GATEWAY_PORT: String(port),
      GATEWAY_WORKERS: '2',
      GATEWAY_METRICS_PORT: '0', // gateway/test/metrics-cluster.test.ts tests it
      SUPERGRAPH_FILE: path.join(dir, 'supergraph.graphql'),
      PRODUCT_SUBGRAPH_URL: product.url,
      SMTP_HOST: '127.0.0.1', // no development mailbox
      JWT_PUBLIC_KEY: env.keys.access.publicKey,
      INTERNAL_JWT_PRIVATE_KEY: env.keys.internal.privateKey,
      INTERNAL_JWT_PUBLIC_KEY: env.keys.internal.publicKey,
      KEYS_DIR: dir,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffered = '';
  primary.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (buffered + chunk).split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const m = new RegExp(`gateway worker (\\d+) listening on port ${port}\\b`).exec(line);
      if (m) listening.add(Number(m[1]));
    }
  });
  await until(async () => ((await graphql(url, PAGE).catch(() => undefined))?.data ? true : undefined));
}, 120_000);

afterAll(async () => {
  if (primary && primary.exitCode === null) primary.kill('SIGKILL');
  await product?.stop();
  await env?.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('two workers serve the port; a dead worker is replaced without the port going away', async () => {
  // Both workers must be listening: killing one while the other is still starting would close the port (Node's rule).
  const workers = await until(() => {
    const now = children(primary.pid!);
    return now.length === 2 && now.every((pid) => listening.has(pid)) ? now : undefined;
  });
  process.kill(workers[0], 'SIGKILL');
  await until(() => (fs.existsSync(`/proc/${workers[0]}`) ? undefined : true));
  // Kept-alive client connections to the dead worker are gone with it; new ones reach the surviving worker meanwhile.
  await new Promise((r) => setTimeout(r, 200));
  const during = await Promise.all(
    Array.from({ length: 10 }, () => graphql(url, PAGE, {}, { headers: { connection: 'close' } })),
  );
  for (const r of during) expect(r.errors).toBeUndefined();
  const replaced = await until(() => {
    const now = children(primary.pid!);
    return now.length === 2 && !now.includes(workers[0]) ? now : undefined;
  });
  expect(replaced).toContain(workers[1]);
  const after = await graphql(url, PAGE);
  expect(after.errors).toBeUndefined();
}, 120_000);

test('SIGTERM to the primary stops the workers and the primary', async () => {
  const workers = children(primary.pid!);
  const exited = new Promise<number | null>((resolve) => primary.once('exit', (code) => resolve(code)));
  primary.kill('SIGTERM');
  expect(await exited).toBe(0);
  for (const w of workers) expect(fs.existsSync(`/proc/${w}`)).toBe(false);
}, 60_000);
