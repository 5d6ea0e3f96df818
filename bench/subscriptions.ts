/**
 * Subscription benchmark (not part of npm test): N concurrent `cartTimer` countdowns through ONE gateway process,
 * ours beside Hive Gateway, on the same cart and product subgraphs (child processes, built JS, production mode).
 * One target at a time; each subscriber has its own WebSocket (graphql-ws) and its own guest cart ticking once a second.
 *
 *   npm run bench:subscriptions -- [--targets ours,hive,hive-router] [--sizes 2000,5000,10000]
 *       [--selections countdown,full] [--seconds 10] [--storm] [--storm-size N] [--final 1000] [--cpu-prof-gateway]
 *       [--connect-deadline 300]
 *
 * Lag: a countdown's tick is due when its displayed second changes, i.e. at `expiresAt − secondsRemaining × 1 s`
 * (computed from each event itself); lag = the client's receipt − that time (one machine, one clock).
 * Delivered vs expected: ticks due inside the window (each cart's deadline gives them) against those received.
 * `--storm`: at the largest size, every connection dropped at once (the gateway killed and started again on its port);
 * graphql-ws clients with their default retry policy; time until every client receives events again.
 * `--final N`: N fresh carts whose hold lapses during the run; every subscriber must get its EXPIRED event.
 * `--connect-deadline S`: a crowd not subscribed (first event received) within S seconds is recorded as NOT SUSTAINED
 * at that size (no figures) and the run goes on with the next.
 * Markdown on stdout and in bench/results/subscriptions-<time>.md, every figure in the .json beside it.
 */
import { ChildProcess, fork, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createClient, Client } from 'graphql-ws';
import WebSocket from 'ws';
import { INTERNAL_TOKEN_HEADER, Keys } from '@shop/kernel';
import { freePort } from '@shop/kernel/testing';
import { createLogger, loadConfig } from '@shop/kernel';
import productSubgraph from '../subgraphs/product/src';
import { numberArg, stringArg } from './lib/args';
import { benchEnv, benchKeys, mintInternalToken, PEERS_DIR, RESULTS_DIR, ROOT } from './lib/env';
import { cpuSeconds, machineCpuSeconds, Proc, startProc, waitReady, withDescendants } from './lib/procs';
import { percentile, pool } from './lib/stats';

const SECONDS = numberArg('seconds', 10);
const SIZES = stringArg('sizes', '2000,5000,10000').split(',').map(Number).filter(Boolean);
/** `--selections none`: only the storm and the final-event check. */
const SELECTIONS = stringArg('selections', 'countdown,full')
  .split(',')
  .filter((x) => x === 'countdown' || x === 'full') as Selection[];
const TARGETS = stringArg('targets', 'ours,hive,hive-router').split(',');
const FINAL = numberArg('final', 1000);
const STORM = process.argv.includes('--storm');
/** Subscribers in the storm (default: the largest size). */
const STORM_SIZE = numberArg('storm-size', 0);
const SETUP_CONCURRENCY = numberArg('setup-concurrency', 48);
const CONNECT_CONCURRENCY = numberArg('connect-concurrency', 64);
const CONNECT_DEADLINE_S = numberArg('connect-deadline', 300);
/** Events due in the window but received up to this much later still count (late, with their lag). */
const GRACE_MS = 3000;
/** The subscription bench's own deployment (databases, Redis and NATS prefixes): carts pile up run after run. */
const PREFIX = process.env.BENCH_SUBS_PREFIX ?? 'benchsubs';

type Selection = 'countdown' | 'full';
const QUERIES: Record<Selection, string> = {
  countdown: `subscription Countdown($id: ID!) { cartTimer(cartId: $id) { status secondsRemaining expiresAt } }`,
  full:
    `subscription CountdownLines($id: ID!) { cartTimer(cartId: $id) { status secondsRemaining expiresAt ` +
    `cart { items { quantity unitPrice { amount currency } product { name price { amount currency } } } } } }`,
};

function cpuProf(flag: string): string[] {
  const heap = flag === '--cpu-prof-gateway' && HEAP_SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2'] : [];
  if (flag === '--cpu-prof-gateway') heap.push(...GATEWAY_NODE_FLAGS);
  if (flag === '--cpu-prof-subgraphs') heap.push(...SUBGRAPH_NODE_FLAGS);
  return process.argv.includes(flag)
    ? [...heap, '--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench/.data/prof')}`]
    : heap;
}

/** `--gateway-node-flags "…"`: V8/Node flags for every target's gateway process alike (e.g. `--trace-gc`). */
const GATEWAY_NODE_FLAGS = stringArg('gateway-node-flags', '').split(' ').filter(Boolean);
/** `--subgraph-node-flags "…"`: the same for the cart and product subgraphs. */
const SUBGRAPH_NODE_FLAGS = stringArg('subgraph-node-flags', '').split(' ').filter(Boolean);

/** `--heap-snapshot-gateway`: a heap snapshot of the gateway once the crowd is subscribed (into the gateway's cwd). */
const HEAP_SNAPSHOT = process.argv.includes('--heap-snapshot-gateway');

function ensurePeers(): void {
  if (fs.existsSync(path.join(PEERS_DIR, 'node_modules/@graphql-hive/gateway'))) return;
  console.log('[subs] installing bench/peers (Hive Gateway): npm ci --prefix bench/peers');
  const r = spawnSync('npm', ['ci', '--prefix', PEERS_DIR, '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm ci --prefix bench/peers failed');
}

async function gql(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<Record<string, any>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(`${res.status} ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

function rssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}

interface Gateway {
  url: string;
  pids(): number[];
  proc: Proc;
}
interface TargetDef {
  name: string;
  start(port: number): Promise<Gateway>;
}

/** The subscribers: a forked process (its own event loop), driven over IPC. */
class Clients {
  private readonly child: ChildProcess;
  constructor() {
    this.child = fork(__filename, ['--client-worker'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: ['--max-old-space-size=4096'],
    });
  }
  ask<T>(msg: Record<string, unknown>, reply: string): Promise<T> {
    return new Promise<T>((res, rej) => {
      const on = (m: { type: string; error?: string }) => {
        if (m.type === 'error') {
          this.child.off('message', on);
          rej(new Error(m.error));
        }
        if (m.type === reply) {
          this.child.off('message', on);
          res(m as T);
        }
      };
      this.child.on('message', on);
      this.child.send(msg);
    });
  }
  get pid(): number {
    return this.child.pid!;
  }
  kill(): void {
    this.child.kill();
  }
}

interface SubscribeReply {
  opened: number;
  failed: number;
  connectMs: number[];
  crowdMs: number;
  /** The connect deadline passed before every subscriber had its first event. */
  gaveUp?: boolean;
  firstError?: string;
}
interface MeasureReply {
  lags: number[];
  /** Lag p99 of the ticks due in each second of the window (where a stall was). */
  lagP99PerSecond: number[];
  /** The clients' own event-loop delay over the window (ms): a stall there shows as lag, though no server was late. */
  clientsLoopDelayP99: number;
  clientsLoopDelayMax: number;
  delivered: number;
  expected: number;
  errors: number;
  dropped: number;
  firstError?: string;
}

interface RunResult {
  /** In the JSON only: the window's start (epoch ms), lag p99 per second of it, the clients' event-loop delay (ms). */
  windowStartMs?: number;
  lagP99PerSecond?: number[];
  clientsLoopDelayP99?: number;
  clientsLoopDelayMax?: number;
  target: string;
  selection: Selection;
  subscriptions: number;
  opened: number;
  delivered: number;
  expected: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
  gatewayCpuPercent: number;
  gatewayCpuMsPer1000: number;
  subgraphCpuPercent: number;
  subgraphCpuMsPer1000: number;
  /** The load generator (every subscriber in one process): when it saturates a core, lag is partly its own. */
  clientsCpuPercent: number;
  /** Both cores, every process (PostgreSQL, Redis and the kernel too): 100 = no idle CPU left on the machine. */
  machineBusyPercent: number;
  rssIdleMb: number;
  rssSubscribedMb: number;
  rssEndMb: number;
  kbPerSubscription: number;
  errors: number;
  dropped: number;
  connectP99Ms: number;
  crowdConnectMs: number;
  /** False when the crowd did not subscribe within --connect-deadline (figures are then not measured). */
  sustained: boolean;
  firstError?: string;
  ratio?: { lagP99: number; cpuPerEvent: number; memoryPerSubscription: number };
}

/** A run whose crowd never finished subscribing: nothing measured. */
function notMeasured(target: string, selection: Selection, size: number): RunResult {
  return {
    target,
    selection,
    subscriptions: size,
    opened: 0,
    delivered: 0,
    expected: NaN,
    lagP50: NaN,
    lagP99: NaN,
    lagMax: NaN,
    gatewayCpuPercent: NaN,
    gatewayCpuMsPer1000: NaN,
    subgraphCpuPercent: NaN,
    subgraphCpuMsPer1000: NaN,
    clientsCpuPercent: NaN,
    machineBusyPercent: NaN,
    rssIdleMb: NaN,
    rssSubscribedMb: NaN,
    rssEndMb: NaN,
    kbPerSubscription: NaN,
    errors: 0,
    dropped: 0,
    connectP99Ms: NaN,
    crowdConnectMs: NaN,
    sustained: false,
  };
}

async function main(): Promise<void> {
  ensurePeers();
  const keys: Keys = benchKeys();
  const pg = (process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/x').replace(/\/[^/]*$/, '');
  const deployment = {
    POSTGRES_URL: `${pg}/${PREFIX}`,
    REDIS_PREFIX: `${PREFIX}:`,
    NATS_PREFIX: PREFIX,
    CART_TIMER_TICK_SECONDS: '1',
    // Thousands of guest carts from one client address, ticking through the whole run: the anti-hoarding bounds
    // (units per address, absolute hold lifetime) are for the public shop, not this run.
    CART_HOLD_SECONDS: String(3 * 3600),
    CART_HOLD_MAX_SECONDS: String(7 * 24 * 3600),
    CART_HOLD_MAX_SECONDS_USER: String(7 * 24 * 3600),
    CART_MAX_UNITS_PER_ADDRESS: '10000000',
  };
  const procs: Proc[] = [];
  const stopAll = async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  const started = new Date();
  const loadBefore = os.loadavg();
  const results: RunResult[] = [];
  const storms: Record<string, unknown>[] = [];
  const finals: Record<string, unknown>[] = [];
  const notes: string[] = [];
  /** Markdown + JSON in bench/results (rewritten after every run, so an interrupted run keeps what it measured). */
  const writeReport = () => {
    // Ratios: ours ÷ Hive, oriented so that > 1 means ours is better.
    for (const r of results) {
      if (r.target === 'ours') continue;
      const o = results.find(
        (x) => x.target === 'ours' && x.selection === r.selection && x.subscriptions === r.subscriptions,
      );
      if (!o) continue;
      r.ratio = {
        lagP99: r.lagP99 / o.lagP99,
        cpuPerEvent: r.gatewayCpuMsPer1000 / o.gatewayCpuMsPer1000,
        memoryPerSubscription: r.kbPerSubscription / o.kbPerSubscription,
      };
    }
    const loadAfter = os.loadavg();
    const f = (n: number | null | undefined, d = 1) =>
      n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(d);
    const lines: string[] = [];
    lines.push(
      `Subscription benchmark, ${started.toISOString()}: ${SECONDS} s window per run, one tick per second per cart; ` +
        `machine ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}; load average ` +
        `${loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(2)).join(' ')} after.`,
    );
    for (const selection of SELECTIONS) {
      lines.push(
        '',
        `**${selection === 'full' ? 'countdown + cart lines with product names and prices' : 'countdown only'}**`,
        '',
      );
      lines.push(
        '| target | subs | ticks delivered / expected | lag p50 ms | lag p99 ms | lag max ms | gateway CPU % | gateway CPU ms / 1k events | KB / sub | subgraphs CPU % | clients CPU % | machine busy % | errors | dropped | connect p99 ms | crowd connected s | lag p99 ratio | CPU/event ratio | memory ratio |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      );
      for (const r of results.filter((x) => x.selection === selection)) {
        lines.push(
          `| ${r.target} | ${r.subscriptions} | ${r.sustained === false ? `**not sustained**: ${r.opened} subscribed in ${CONNECT_DEADLINE_S} s` : `${r.delivered} / ${r.expected}`} | ${f(r.lagP50, 0)} | ${f(r.lagP99, 0)} | ${f(r.lagMax, 0)} | ${f(r.gatewayCpuPercent)} | ${f(r.gatewayCpuMsPer1000, 0)} | ${f(r.kbPerSubscription)} | ${f(r.subgraphCpuPercent)} | ${f(r.clientsCpuPercent)} | ${f(r.machineBusyPercent)} | ${r.errors} | ${r.dropped} | ${f(r.connectP99Ms, 0)} | ${f(r.crowdConnectMs / 1000)} | ${r.ratio ? f(r.ratio.lagP99, 2) + '×' : '–'} | ${r.ratio ? f(r.ratio.cpuPerEvent, 2) + '×' : '–'} | ${r.ratio ? f(r.ratio.memoryPerSubscription, 2) + '×' : '–'} |`,
        );
      }
    }
    if (storms.length) {
      lines.push(
        '',
        '**Reconnect storm** (gateway killed and restarted on its port; graphql-ws client retry defaults)',
        '',
      );
      lines.push(
        '| target | client retry | subs | gateway back after ms | recovered | gave up | recovery p50 ms | recovery p99 ms | all receiving after ms |',
        '|---|---|---:|---:|---:|---:|---:|---:|---:|',
      );
      for (const s of storms as any[])
        lines.push(
          `| ${s.target} | ${s.clientRetry} | ${s.subscriptions} | ${s.gatewayReadyMs} | ${s.recovered} | ${s.notRecovered} | ${f(s.recoverP50Ms, 0)} | ${f(s.recoverP99Ms, 0)} | ${s.allRecoveredMs ?? '–'} |`,
        );
    }
    if (finals.length) {
      lines.push('', '**Final EXPIRED event** (fresh carts whose hold lapses while subscribed)', '');
      lines.push(
        '| target | subs | EXPIRED events received | streams completed | errors | dropped |',
        '|---|---:|---:|---:|---:|---:|',
      );
      for (const x of finals as any[])
        lines.push(`| ${x.target} | ${x.subscriptions} | ${x.expired} | ${x.completed} | ${x.errors} | ${x.dropped} |`);
    }
    for (const n of notes) lines.push('', n);
    const md = lines.join('\n');
    console.log('\n' + md);
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    fs.writeFileSync(path.join(RESULTS_DIR, `subscriptions-${stamp}.md`), md + '\n');
    fs.writeFileSync(
      path.join(RESULTS_DIR, `subscriptions-${stamp}.json`),
      JSON.stringify(
        {
          started,
          seconds: SECONDS,
          loadBefore,
          loadAfter,
          cpus: os.cpus().length,
          node: process.version,
          results,
          storms,
          finals,
        },
        null,
        2,
      ),
    );
  };
  try {
    // The product subgraph's database (the cart subgraph keeps carts in Redis).
    const config = loadConfig(benchEnv(deployment));
    const logger = createLogger('bench', 'warn');
    await productSubgraph.migrate?.(config, logger);

    const urls: Record<string, string> = {};
    const startSubgraph = async (name: string, extra: Record<string, string> = {}) => {
      const port = await freePort();
      const p = startProc(
        `subs-${name}`,
        [...cpuProf('--cpu-prof-subgraphs'), `dist/subgraphs/${name}/src/main.js`],
        benchEnv({ ...deployment, ...extra, [`${name.toUpperCase()}_PORT`]: String(port) }),
        ROOT,
      );
      procs.push(p);
      await waitReady(p, `http://127.0.0.1:${port}/ready`);
      urls[name] = `http://127.0.0.1:${port}/graphql`;
      return p;
    };
    const product = await startSubgraph('product');
    let cart = await startSubgraph('cart');
    const subgraphPids = () => [product.child.pid!, cart.child.pid!];
    const supergraphFile = path.join(ROOT, 'bench/.data/supergraph.subscriptions.graphql');
    const writeSupergraph = () =>
      fs.writeFileSync(
        supergraphFile,
        fs
          .readFileSync(path.join(ROOT, 'schema/supergraph.graphql'), 'utf8')
          .replace(/@join__graph\(name: "([a-z]+)", url: "[^"]*"\)/g, (m, name: string) =>
            urls[name] ? `@join__graph(name: "${name}", url: "${urls[name]}")` : m,
          ),
      );
    writeSupergraph();

    // Setup straight at the subgraphs, with the internal tokens our gateway would send.
    const adminProduct = {
      [INTERNAL_TOKEN_HEADER]: mintInternalToken(
        keys,
        { userId: '00000000-0000-4000-8000-000000000001', role: 'ADMIN' },
        'product',
      ),
    };
    await gql(
      urls.product,
      `mutation { createCategory(slug: "bench-subs", name: "Bench subscriptions") { slug } }`,
      {},
      adminProduct,
    ).catch(
      () => undefined, // exists from an earlier run
    );
    const maxSize = Math.max(...SIZES, STORM_SIZE);
    // One product per 100 carts: every hold of a product locks that product, so 10,000 carts holding one product
    // would measure that queue during setup, not the countdowns.
    const CARTS_PER_PRODUCT = 100;
    const productIds = await Promise.all(
      Array.from(
        { length: Math.ceil((maxSize + 2 * FINAL * TARGETS.length) / CARTS_PER_PRODUCT) + 1 },
        async (_, k) =>
          (
            await gql(
              urls.product,
              `mutation ($i: CreateProductInput!) { createProduct(input: $i) { id } }`,
              {
                i: {
                  sku: `SUBS-${Date.now()}-${k}`,
                  name: `Ticking item ${k}`,
                  description: 'Subscription benchmark',
                  category: 'bench-subs',
                  price: 1000,
                  stock: CARTS_PER_PRODUCT * 2,
                },
              },
              adminProduct,
            )
          ).createProduct.id as string,
      ),
    );
    let made = 0; // carts made so far: which product the next one holds
    const makeCarts = async (n: number): Promise<string[]> => {
      const ids: string[] = new Array(n);
      // Guests from many addresses, as on a sale day: one address's tally of guest units is scanned whole on every
      // add (bounded by CART_MAX_UNITS_PER_ADDRESS in production), so 10,000 carts behind one address would
      // measure that scan instead of the countdowns.
      const guests = new Map<number, Record<string, string>>();
      const guest = (i: number) => {
        const group = Math.floor(i / 50);
        let headers = guests.get(group);
        if (!headers) {
          const ip = `10.${(group >> 16) & 255}.${(group >> 8) & 255}.${group & 255}`;
          headers = { [INTERNAL_TOKEN_HEADER]: mintInternalToken(keys, { ip }, 'cart') };
          guests.set(group, headers);
        }
        return headers;
      };
      await pool(ids, SETUP_CONCURRENCY, async (_c, i) => {
        const anonCart = guest(i);
        ids[i] = (await gql(urls.cart, `mutation { createCart { id } }`, {}, anonCart)).createCart.id;
        await gql(
          urls.cart,
          `mutation ($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { id } }`,
          { c: ids[i], p: productIds[Math.floor(made++ / CARTS_PER_PRODUCT)] },
          anonCart,
        );
      });
      return ids;
    };
    let t = Date.now();
    const carts = await makeCarts(maxSize);
    const cartsPerSecond = maxSize / ((Date.now() - t) / 1000);
    console.log(`[subs] ${maxSize} carts in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const hiveEnv = () => ({
      NODE_ENV: 'production',
      BENCH_TOKEN_CART: mintInternalToken(keys, {}, 'cart'),
      BENCH_TOKEN_PRODUCT: mintInternalToken(keys, {}, 'product'),
    });
    const ours: TargetDef = {
      name: 'ours',
      async start(port) {
        const p = startProc(
          'subs-ours',
          [...cpuProf('--cpu-prof-gateway'), 'dist/gateway/src/main.js'],
          benchEnv({
            ...deployment,
            GATEWAY_PORT: String(port),
            GATEWAY_METRICS_PORT: '0',
            GATEWAY_WORKERS: '1',
            SUPERGRAPH_FILE: supergraphFile,
            RATE_LIMIT_PER_IP: '0',
            RATE_LIMIT_PER_USER: '0',
            RATE_LIMIT_AUTH_PER_IP: '0',
            WS_MAX_CONNECTIONS_PER_IP: '0',
            WS_CONNECT_RATE_PER_IP: '0',
            WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '0',
          }),
          ROOT,
        );
        procs.push(p);
        await waitReady(p, `http://127.0.0.1:${port}/health`);
        return { url: `http://127.0.0.1:${port}/graphql`, pids: () => withDescendants(p.child.pid!), proc: p };
      },
    };
    const hive = (name: string, router: boolean): TargetDef => ({
      name,
      async start(port) {
        const args = [
          ...cpuProf('--cpu-prof-gateway'),
          path.join(PEERS_DIR, 'node_modules/@graphql-hive/gateway/dist/bin.js'),
          'supergraph',
          supergraphFile,
          '--port',
          String(port),
          '--host',
          '127.0.0.1',
          '--fork',
          '1',
          '-c',
          path.join(PEERS_DIR, 'gateway.subscriptions.config.mjs'),
          ...(router ? ['--hive-router-runtime'] : []),
        ];
        const p = startProc(`subs-${name}`, args, hiveEnv(), PEERS_DIR);
        procs.push(p);
        await waitReady(p, `http://127.0.0.1:${port}/healthcheck`);
        return { url: `http://127.0.0.1:${port}/graphql`, pids: () => withDescendants(p.child.pid!), proc: p };
      },
    });
    const defs: Record<string, TargetDef> = {
      ours,
      hive: hive('hive', false),
      'hive-router': hive('hive-router', true),
    };

    const clients = new Clients();
    process.once('SIGINT', () => clients.kill());
    const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      for (const selection of SELECTIONS) {
        for (const size of SIZES) {
          for (const name of TARGETS) {
            const def = defs[name];
            if (!def) throw new Error(`unknown target ${name}`);
            const port = await freePort();
            const gw = await def.start(port);
            await settle(1000);
            const label = `${name} ${selection} ${size}`;
            if (HEAP_SNAPSHOT) {
              gw.proc.child.kill('SIGUSR2');
              console.log(`[subs] ${label}: idle heap snapshot requested`);
              await settle(8000);
            }
            const rssIdle = rssMb(gw.pids());
            console.log(`[subs] ${label}: subscribing`);
            const sub = await clients.ask<SubscribeReply>(
              {
                type: 'subscribe',
                wsUrl: gw.url.replace(/^http/, 'ws'),
                carts: carts.slice(0, size),
                query: QUERIES[selection],
                full: selection === 'full',
                concurrency: CONNECT_CONCURRENCY,
                retry: false,
                deadlineMs: CONNECT_DEADLINE_S * 1000,
              },
              'subscribed',
            );
            if (sub.gaveUp) {
              const r: RunResult = {
                ...notMeasured(name, selection, size),
                opened: sub.connectMs.length,
                crowdConnectMs: sub.crowdMs,
                errors: sub.failed,
                firstError: `${sub.connectMs.length} of ${size} subscribed within ${CONNECT_DEADLINE_S} s`,
              };
              results.push(r);
              writeReport();
              console.log(`[subs] ${label}: NOT SUSTAINED: ${r.firstError}`);
              await clients.ask({ type: 'close' }, 'closed');
              await gw.proc.stop();
              await settle(2000);
              continue;
            }
            await settle(2000);
            const rssSubscribed = rssMb(gw.pids());
            if (HEAP_SNAPSHOT) {
              gw.proc.child.kill('SIGUSR2');
              console.log(`[subs] ${label}: heap snapshot requested (written into the gateway's working directory)`);
            }
            const gwCpu0 = cpuSeconds(gw.pids());
            const sgCpu0 = cpuSeconds(subgraphPids());
            const clientCpu0 = cpuSeconds([clients.pid]);
            const machine0 = machineCpuSeconds();
            const wallStart = Date.now();
            await clients.ask({ type: 'measure', from: wallStart, to: wallStart + SECONDS * 1000 }, 'measuring');
            await settle(SECONDS * 1000);
            const gwCpu = cpuSeconds(gw.pids()) - gwCpu0;
            const sgCpu = cpuSeconds(subgraphPids()) - sgCpu0;
            const clientCpu = cpuSeconds([clients.pid]) - clientCpu0;
            const machine1 = machineCpuSeconds();
            const wall = (Date.now() - wallStart) / 1000;
            const rssEnd = rssMb(gw.pids());
            await settle(GRACE_MS);
            const m = await clients.ask<MeasureReply>({ type: 'result' }, 'result');
            await clients.ask({ type: 'close' }, 'closed');
            await gw.proc.stop();
            m.lags.sort((a, b) => a - b);
            sub.connectMs.sort((a, b) => a - b);
            const r: RunResult = {
              target: name,
              selection,
              subscriptions: size,
              opened: sub.opened,
              delivered: m.delivered,
              expected: m.expected,
              lagP50: percentile(m.lags, 50),
              lagP99: percentile(m.lags, 99),
              lagMax: m.lags.length ? m.lags[m.lags.length - 1] : NaN,
              windowStartMs: wallStart,
              lagP99PerSecond: m.lagP99PerSecond,
              clientsLoopDelayP99: m.clientsLoopDelayP99,
              clientsLoopDelayMax: m.clientsLoopDelayMax,
              gatewayCpuPercent: (gwCpu / wall) * 100,
              gatewayCpuMsPer1000: m.delivered ? ((gwCpu * 1000) / m.delivered) * 1000 : NaN,
              subgraphCpuPercent: (sgCpu / wall) * 100,
              subgraphCpuMsPer1000: m.delivered ? ((sgCpu * 1000) / m.delivered) * 1000 : NaN,
              clientsCpuPercent: (clientCpu / wall) * 100,
              machineBusyPercent: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100,
              rssIdleMb: rssIdle,
              rssSubscribedMb: rssSubscribed,
              rssEndMb: rssEnd,
              kbPerSubscription: ((Math.max(rssSubscribed, rssEnd) - rssIdle) * 1024) / size,
              errors: m.errors + sub.failed,
              dropped: m.dropped,
              connectP99Ms: percentile(sub.connectMs, 99),
              crowdConnectMs: sub.crowdMs,
              sustained: true,
              firstError: sub.firstError ?? m.firstError,
            };
            results.push(r);
            writeReport();
            console.log(`[subs] ${label}: ${JSON.stringify(r)}`);
            await settle(2000);
          }
        }
      }

      // Reconnect storm: `--storm-size` (else the largest size), countdowns; the gateway killed (every socket drops at once) and started again.
      if (STORM) {
        for (const mode of ['defaults', 'retry-all'] as const)
          for (const name of TARGETS) {
            const def = defs[name];
            const size = STORM_SIZE || maxSize;
            const port = await freePort();
            let gw = await def.start(port);
            await clients.ask<SubscribeReply>(
              {
                type: 'subscribe',
                wsUrl: gw.url.replace(/^http/, 'ws'),
                carts: carts.slice(0, size),
                query: QUERIES.countdown,
                concurrency: CONNECT_CONCURRENCY,
                retry: mode,
              },
              'subscribed',
            );
            await settle(3000);
            const killedAt = Date.now();
            await clients.ask({ type: 'storm', at: killedAt }, 'storming');
            gw.proc.child.kill('SIGKILL');
            await new Promise<void>((r) => gw.proc.child.once('exit', () => r()));
            gw = await def.start(port);
            const readyMs = Date.now() - killedAt;
            const s = await clients.ask<{ recovered: number[]; lost: number; errors: number; firstError?: string }>(
              { type: 'storm-wait', timeoutMs: 90_000 },
              'storm-result',
            );
            s.recovered.sort((a, b) => a - b);
            const storm = {
              target: name,
              clientRetry: mode,
              subscriptions: size,
              gatewayReadyMs: readyMs,
              recovered: s.recovered.length,
              notRecovered: s.lost,
              recoverP50Ms: percentile(s.recovered, 50),
              recoverP99Ms: percentile(s.recovered, 99),
              allRecoveredMs: s.recovered.length === size ? s.recovered[s.recovered.length - 1] : null,
              errors: s.errors,
              firstError: s.firstError,
            };
            storms.push(storm);
            writeReport();
            console.log(`[subs] storm ${mode} ${name}: ${JSON.stringify(storm)}`);
            await clients.ask({ type: 'close' }, 'closed');
            await gw.proc.stop();
            await settle(2000);
          }
      }

      // The final EXPIRED event: fresh carts whose hold lapses during the run (the cart subgraph restarted with a
      // short hold; nothing is subscribed at that moment).
      if (FINAL > 0) {
        const hold = Math.ceil(FINAL / cartsPerSecond) + 25;
        await cart.stop();
        procs.splice(procs.indexOf(cart), 1);
        cart = await startSubgraph('cart', { CART_HOLD_SECONDS: String(hold) });
        writeSupergraph();
        for (const name of TARGETS) {
          const def = defs[name];
          t = Date.now();
          const ids = await makeCarts(FINAL);
          const port = await freePort();
          const gw = await def.start(port);
          const sub = await clients.ask<SubscribeReply>(
            {
              type: 'subscribe',
              wsUrl: gw.url.replace(/^http/, 'ws'),
              carts: ids,
              query: QUERIES.full,
              full: true,
              concurrency: CONNECT_CONCURRENCY,
              retry: false,
            },
            'subscribed',
          );
          const f = await clients.ask<{ expired: number; completed: number; errors: number; dropped: number }>(
            { type: 'final-wait', timeoutMs: (hold + 20) * 1000 - (Date.now() - t) },
            'final-result',
          );
          const fin = { target: name, subscriptions: FINAL, opened: sub.opened, holdSeconds: hold, ...f };
          finals.push(fin);
          writeReport();
          console.log(`[subs] final ${name}: ${JSON.stringify(fin)}`);
          await clients.ask({ type: 'close' }, 'closed');
          await gw.proc.stop();
        }
      }
    } finally {
      clients.kill();
    }
  } finally {
    await stopAll();
  }

  writeReport();
}

/** The subscribers: one graphql-ws client (own WebSocket) per cart. */
function clientWorker(): void {
  interface Sub {
    client: Client;
    dispose(): void;
    exp: number;
    lastDue: number;
    gotSince: number;
    expired: boolean;
    completed: boolean;
    /** The stream ended with an error (the client gave up). */
    dead: boolean;
  }
  let subs: Sub[] = [];
  let from = Infinity;
  let to = Infinity;
  let lags: number[] = [];
  let lagsBySecond: number[][] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  let delivered = 0;
  let errors = 0;
  let dropped = 0;
  let firstError: string | undefined;
  let stormAt = 0;
  let closing = false;
  const send = (m: Record<string, unknown>) => process.send!(m);
  const noteError = (e: unknown) => {
    errors++;
    firstError ??= typeof e === 'string' ? e : JSON.stringify(e);
  };

  process.on('message', async (m: { type: string; [k: string]: any }) => {
    try {
      if (m.type === 'measure') {
        from = m.from;
        to = m.to;
        lags = [];
        lagsBySecond = [];
        loopDelay.reset();
        loopDelay.enable();
        delivered = 0;
        errors = 0;
        dropped = 0;
        firstError = undefined;
        send({ type: 'measuring' });
      }
      if (m.type === 'result') {
        // Expected: every second-boundary of each cart's countdown due inside the window.
        let expected = 0;
        for (const s of subs) {
          if (!s.exp) continue;
          // due = exp − k·1 s ∈ [from, to) ⇔ (exp − to)/1 s < k ≤ (exp − from)/1 s, and k ≥ 1 (0 is the expiry).
          const lo = Math.max(1, Math.floor((s.exp - to) / 1000) + 1);
          const hi = Math.floor((s.exp - from) / 1000);
          expected += Math.max(0, hi - lo + 1);
        }
        from = to = Infinity;
        loopDelay.disable();
        const lagP99PerSecond = lagsBySecond.map((l) =>
          l
            ? percentile(
                l.sort((a, b) => a - b),
                99,
              )
            : NaN,
        );
        send({
          type: 'result',
          lags,
          lagP99PerSecond,
          clientsLoopDelayP99: loopDelay.percentile(99) / 1e6,
          clientsLoopDelayMax: loopDelay.max / 1e6,
          delivered,
          expected,
          errors,
          dropped,
          firstError,
        });
      }
      if (m.type === 'close') {
        closing = true;
        for (const s of subs) s.dispose();
        await Promise.all(subs.map((s) => Promise.resolve(s.client.dispose()).catch(() => undefined)));
        subs = [];
        closing = false;
        stormAt = 0;
        send({ type: 'closed' });
      }
      if (m.type === 'storm') {
        stormAt = m.at;
        errors = 0;
        firstError = undefined;
        for (const s of subs) s.gotSince = 0;
        send({ type: 'storming' });
      }
      if (m.type === 'storm-wait') {
        const deadline = Date.now() + m.timeoutMs;
        while (Date.now() < deadline && subs.some((s) => !s.gotSince && !s.dead))
          await new Promise((r) => setTimeout(r, 100));
        send({
          type: 'storm-result',
          recovered: subs.filter((s) => s.gotSince).map((s) => s.gotSince - stormAt),
          lost: subs.filter((s) => !s.gotSince).length,
          errors,
          firstError,
        });
      }
      if (m.type === 'final-wait') {
        const deadline = Date.now() + Math.max(1000, m.timeoutMs);
        while (Date.now() < deadline && subs.some((s) => !s.completed)) await new Promise((r) => setTimeout(r, 200));
        send({
          type: 'final-result',
          expired: subs.filter((s) => s.expired).length,
          completed: subs.filter((s) => s.completed).length,
          errors,
          dropped,
        });
      }
      if (m.type !== 'subscribe') return;
      errors = 0;
      dropped = 0;
      firstError = undefined;
      const connectMs: number[] = [];
      let failed = 0;
      let subscribeError: string | undefined;
      const t0 = Date.now();
      const deadline = t0 + ((m.deadlineMs as number | undefined) ?? Infinity);
      let gaveUp = false;
      await pool(m.carts as string[], m.concurrency as number, async (cartId) => {
        if (Date.now() > deadline) return void (gaveUp = true);
        const begin = Date.now();
        const client = createClient({
          url: m.wsUrl as string,
          webSocketImpl: WebSocket,
          // Storm: graphql-ws's defaults (5 attempts, randomised exponential back-off, only after a close event), or
          // those plus a retry after any connection error (`retry-all`: a refused connection too); else no retry.
          ...(m.retry === 'defaults'
            ? {}
            : m.retry === 'retry-all'
              ? { shouldRetry: () => true }
              : { retryAttempts: 0 }),
          on: {
            // 1000: the client's own lazy close once its stream completed; anything else it did not ask for.
            closed: (e) => {
              if (!closing && (e as { code?: number }).code !== 1000) dropped++;
              // The storm: this client counts as recovered at its first event after its connection dropped.
              if (stormAt) s.gotSince = 0;
            },
          },
        });
        const s: Sub = {
          client,
          dispose: () => undefined,
          exp: 0,
          lastDue: 0,
          gotSince: 0,
          expired: false,
          completed: false,
          dead: false,
        };
        subs.push(s);
        await new Promise<void>((resolve) => {
          let first = true;
          // Past the deadline this subscriber stops being waited for (the size is then recorded as not sustained).
          const late = Number.isFinite(deadline)
            ? setTimeout(() => ((gaveUp = true), resolve()), Math.max(0, deadline - Date.now()))
            : undefined;
          const resolveFirst = () => (clearTimeout(late), resolve());
          s.dispose = client.subscribe<{
            cartTimer: {
              status: string;
              secondsRemaining: number;
              expiresAt: string | null;
              cart?: { items: { product: { name: string } }[] } | null;
            };
          }>(
            { query: m.query as string, variables: { id: cartId } },
            {
              next: (r) => {
                const now = Date.now();
                if (r.errors) noteError(r.errors);
                if (stormAt) s.gotSince ||= now;
                const ev = r.data?.cartTimer;
                if (first) {
                  first = false;
                  connectMs.push(now - begin);
                  resolveFirst();
                }
                if (!ev) return;
                if (ev.status === 'EXPIRED') s.expired = true;
                // The lines selection must really carry the product names (the rest of the plan ran).
                if (m.full && ev.status === 'ACTIVE' && !ev.cart?.items[0]?.product?.name)
                  noteError({ incomplete: ev });
                if (!ev.expiresAt || ev.status !== 'ACTIVE') return;
                s.exp = Date.parse(ev.expiresAt);
                const due = s.exp - ev.secondsRemaining * 1000;
                // A tick is a new second; repeats of one second (a change event) are not ticks.
                if (due === s.lastDue) return;
                s.lastDue = due;
                if (due >= from && due < to) {
                  delivered++;
                  lags.push(now - due);
                  (lagsBySecond[Math.floor((due - from) / 1000)] ??= []).push(now - due);
                }
              },
              error: (e) => {
                s.dead = true;
                const c = e as { code?: number; reason?: string };
                noteError(
                  e instanceof Error
                    ? e.message
                    : Array.isArray(e)
                      ? e
                      : c && 'code' in c
                        ? { code: c.code, reason: c.reason }
                        : String((e as { message?: string })?.message ?? e),
                );
                if (first) {
                  first = false;
                  failed++;
                  subscribeError ??= firstError;
                  resolveFirst();
                }
              },
              complete: () => {
                s.completed = true;
              },
            },
          );
        });
      });
      send({
        type: 'subscribed',
        opened: subs.length - failed,
        failed,
        connectMs,
        crowdMs: Date.now() - t0,
        gaveUp,
        firstError: subscribeError,
      });
    } catch (err) {
      send({ type: 'error', error: String(err) });
    }
  });
}

if (process.argv.includes('--client-worker')) {
  clientWorker();
} else {
  main()
    .then(() => process.exit(0))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
