/**
 * Checkout benchmark (not part of npm test): concurrent placeOrder through the gateway on ONE contended product,
 * every real subgraph involved, on an isolated environment.
 * Phase 1 (setup, untimed): B buyers each get a cart holding 1 unit of a product with B units (so all can buy).
 * Phase 2 (timed): all B checkouts are fired with at most C in flight; orders/s and latency percentiles.
 * Then the invariant is read from the databases (orders = units sold = B − on hand, no holds, never negative), and
 * beside it, in the same run and database, the ceiling: the raw `UPDATE … SET stock = stock − 1 WHERE stock >= 1`
 * rate at the same concurrency, on connections already open (the median of `--ceiling-passes`, 3, timed passes).
 *
 * Deployments:
 * - default: the gateway and the user, product, cart and order subgraphs in THIS process (one event loop, one core);
 *   CPU per order is this process's, load generation included.
 * - `--processes`: every service as its own process from dist/ (as `npm start` runs them: all six subgraphs and the
 *   gateway); CPU per order per process from /proc, summed over the services (the load generator, the PostgreSQL,
 *   NATS and Redis servers and the whole machine's busy time are reported apart).
 * - `--mixed` (implies `--processes`): the same checkouts while `--browsers` (200) clients browse the catalog (searches,
 *   filters and pages, anonymous) and `--countdowns` (1,000) guest carts' `cartTimer` subscriptions tick through the
 *   gateway. Catalog latency and countdown lag are measured for `--quiet-seconds` (10) before the checkouts start
 *   (quiet) and while they run (loaded).
 *
 * Countdown lag: a tick of one cart comes every CART_TIMER_TICK_SECONDS (1 s) from the cart instance's own clock;
 * a subscription's lag for tick k is its receipt time minus (its earliest receipt offset + k s) — the extra delay over
 * the fastest delivery that subscription saw, measured across another process's clock without comparing clocks.
 *
 * With `--processes` the stack first idles `--idle-seconds` (5) to read each process's background CPU rate; the table
 * adds that background over the checkout's duration and the CPU per order net of it (comparable across noisy runs).
 * Without `--mixed` the CPU window opens on a settled stack and closes only once the notification subgraph has
 * acknowledged every event of the measured orders and sent every email (they trail the answers): the work of an
 * order is counted whole, wherever it runs.
 *
 *   npm run bench:checkout -- [--buyers 400] [--concurrency 32] [--warmup 0]
 *     [--processes [--idle-seconds 5] [--cpu-prof] | --mixed [--browsers 200] [--countdowns 1000]]
 *     [--ceiling-passes 3] [--service-env KEY=VALUE,…] [--dev-mailbox] [--without-notification]
 * The confirmation emails go to an SMTP sink in this process that accepts and discards them (a mail provider runs
 * elsewhere); `--dev-mailbox` sends them to the test environment's development mailbox instead, which parses each
 * message (as every run before 2026-12-06 did).
 * `--without-notification` (with `--processes`, not `--mixed`: refused otherwise): a bound, not a deployment — every service but the notification
 * subgraph, so that nothing consumes the events (no deliveries, acks, audit rows or emails): what the checkouts alone
 * cost the machine, and how far they could go if that trailing work were free.
 * Results: a markdown table on stdout and JSON in bench/results/checkout-<deployment>.json.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient, Client } from 'graphql-ws';
import { Pool } from 'pg';
import WebSocket from 'ws';
import { connect } from 'nats';
import { DOMAINS, durableName, Keys, natsStreamName, signAccessToken } from '@shop/kernel';
import { GraphQLResponse, PROCESS_STACK_ORDER, startProcessStack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../gateway/src';
import cartSubgraph from '../subgraphs/cart/src';
import { DURABLE } from '../subgraphs/notification/src/events/consumers';
import orderSubgraph from '../subgraphs/order/src';
import productSubgraph from '../subgraphs/product/src';
import userSubgraph from '../subgraphs/user/src';
import { numberArg } from './lib/args';
import { gqlClient } from './lib/gql-client';
import { cpuSeconds, helperCpuSeconds, machineSeconds, pidsNamed, writeCalls } from './lib/procs';
import { startSmtpSink, SmtpSink } from './lib/smtp-sink';
import { percentile, pool } from './lib/stats';

const BUYERS = numberArg('buyers', 400);
const CONCURRENCY = numberArg('concurrency', 32);
/** Timed passes of the ceiling; its figure is their median. */
const CEILING_PASSES = numberArg('ceiling-passes', 3);
const MIXED = process.argv.includes('--mixed');
const PROCESSES = MIXED || process.argv.includes('--processes');
const BROWSERS = MIXED ? numberArg('browsers', 200) : 0;
const COUNTDOWNS = MIXED ? numberArg('countdowns', 1000) : 0;
const QUIET_SECONDS = numberArg('quiet-seconds', 10);
/** Checkouts of other buyers before the measured ones (untimed): see `--warmup` in main. */
const WARMUP = numberArg('warmup', 0);
/** `--processes`: seconds of idle stack measured just before the checkouts (its background CPU rate per process). */
const IDLE_SECONDS = PROCESSES && !MIXED ? numberArg('idle-seconds', 5) : 0;
const ROOT = path.resolve(__dirname, '../..');
const DEV_MAILBOX = process.argv.includes('--dev-mailbox');
/** `--without-notification`: the stack without the notification subgraph (a bound: no work trails the orders). */
const WITHOUT_NOTIFICATION = process.argv.includes('--without-notification');
// Refused rather than ignored: a run that silently kept the notification subgraph would be read as the bound.
if (WITHOUT_NOTIFICATION && (!PROCESSES || MIXED))
  throw new Error('--without-notification needs --processes and cannot be combined with --mixed');
const DEPLOYMENT = MIXED
  ? 'mixed'
  : WITHOUT_NOTIFICATION
    ? 'processes-without-notification'
    : PROCESSES
      ? 'processes'
      : 'one-process';
/** The servers every service uses, on the same cores: their CPU per order is printed beside the services'. */
const SERVERS: [string, string[]][] = [
  ['PostgreSQL (every backend)', ['postgres']],
  ['NATS server', ['nats-server']],
  ['Redis server', ['redis-server']],
];

const CPU_PROF = process.argv.includes('--cpu-prof');

/** Thousands of guest carts from one address and a crowd of sockets: the public shop's bounds are not this run's. */
const ENV: Record<string, string> = {
  LOG_LEVEL: 'error',
  CART_MAX_UNITS_PER_ADDRESS: '10000000',
  CART_HOLD_MAX_SECONDS: '3600',
  CART_HOLD_SECONDS: '3600',
  WS_MAX_CONNECTIONS_PER_IP: '0',
  WS_CONNECT_RATE_PER_IP: '0',
  // `--cpu-prof` (with `--processes`): a CPU profile of every service process in bench/.data/prof, written at exit
  // (NODE_OPTIONS refuses `--cpu-prof`: a preloaded inspector session instead).
  ...(CPU_PROF
    ? {
        NODE_OPTIONS: `--require ${path.join(__dirname, 'lib/cpu-prof-preload.js')}`,
        CPU_PROF_DIR: path.resolve(__dirname, '../../bench/.data/prof'),
      }
    : {}),
  // BENCH_NODE_OPTIONS: Node options for every service process (e.g. `--require` a preload for an experiment).
  ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
  // `--service-env K=V,…`: more environment of every service, e.g. `GATEWAY_ENTITY_CACHE=0` (an experiment without editing the bench).
  ...serviceEnv(),
};

function serviceEnv(): Record<string, string> {
  const i = process.argv.indexOf('--service-env');
  if (i < 0) return {};
  return Object.fromEntries(
    (process.argv[i + 1] ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

type Phase = 'quiet' | 'loaded' | 'off';

interface Deployment {
  keys: Keys;
  gatewayUrl: string;
  /** A database of this run (`<id>_<service>`). */
  databaseUrl(service: string): string;
  /** CPU seconds used so far per service process; undefined when everything runs in this process. */
  cpu(): Record<string, number> | undefined;
  /** `--cpu-prof`: has every service process start its profile afresh (lib/cpu-prof-preload.ts). */
  restartProfiles(): void;
  /** Write system calls so far per service process (socket writes, mostly); undefined as `cpu`. */
  writes(): Record<string, number> | undefined;
  /** CPU seconds so far of each service process's threads but its main one (the JIT, the GC); undefined as `cpu`. */
  helpers(): Record<string, number> | undefined;
  /**
   * Events the notification subgraph has not acknowledged yet (its durable consumer's pending and unacked messages,
   * every domain stream): work of earlier orders that a CPU window starting or ending now does not see whole.
   */
  notificationBacklog(): Promise<number>;
  gql(query: string, variables: Record<string, unknown>, token?: string): Promise<GraphQLResponse<any>>;
  /** `--processes` without `--dev-mailbox`: the SMTP sink the notification subgraph sends to. */
  sink?: SmtpSink;
  stop(): Promise<void>;
}

function databaseUrl(postgresUrl: string, id: string, service: string): string {
  const url = new URL(postgresUrl);
  url.pathname = `/${id}_${service}`;
  return url.toString();
}

/**
 * The `notification-events` consumers' pending + unacked messages over every domain stream (0 where one is absent),
 * read on one connection for the whole run (the bench polls it while the notification drains).
 */
function notificationBacklog(natsUrl: string, prefix: string): { read(): Promise<number>; close(): Promise<void> } {
  const nc = connect({ servers: natsUrl });
  const jsm = nc.then((c) => c.jetstreamManager());
  return {
    async read() {
      const m = await jsm;
      let n = 0;
      for (const domain of DOMAINS) {
        const durable = durableName(DURABLE.events, `${domain}.>`);
        const info = await m.consumers.info(natsStreamName(prefix, domain), durable).catch(() => undefined);
        if (info) n += info.num_pending + info.num_ack_pending;
      }
      return n;
    },
    close: async () => (await nc).close(),
  };
}

async function deploy(): Promise<Deployment> {
  if (!PROCESSES) {
    const stack = await startStack({
      subgraphs: [userSubgraph, productSubgraph, cartSubgraph, orderSubgraph],
      gateway: startGateway,
      env: ENV,
    });
    const client = gqlClient(stack.gatewayUrl);
    return {
      keys: stack.env.keys,
      gatewayUrl: stack.gatewayUrl,
      databaseUrl: (s) => databaseUrl(stack.env.config.postgresUrl, stack.env.id, s),
      cpu: () => undefined,
      // No notification subgraph in this deployment.
      notificationBacklog: async () => 0,
      writes: () => undefined,
      helpers: () => undefined,
      restartProfiles: () => undefined,
      gql: (q, v, token) => client.post(q, v, token),
      stop: async () => {
        client.close();
        await stack.stop();
      },
    };
  }
  if (!fs.existsSync(path.join(ROOT, 'dist/gateway/src/main.js'))) throw new Error('run `npm run build` first');
  const sink = DEV_MAILBOX || WITHOUT_NOTIFICATION ? undefined : await startSmtpSink();
  const stack = await startProcessStack({
    subgraphs: WITHOUT_NOTIFICATION ? PROCESS_STACK_ORDER.filter((s) => s !== 'notification') : undefined,
    env: { ...ENV, ...(sink ? { SMTP_PORT: String(sink.port) } : {}) },
    readyTimeoutMs: 120_000,
  });
  const backlog = notificationBacklog(stack.env.config.natsUrl, stack.env.config.natsPrefix);
  const client = gqlClient(stack.gatewayUrl);
  return {
    keys: stack.env.keys,
    gatewayUrl: stack.gatewayUrl,
    databaseUrl: (s) => databaseUrl(stack.env.config.postgresUrl, stack.env.id, s),
    notificationBacklog: () => backlog.read(),
    cpu: () =>
      Object.fromEntries(Object.entries(stack.processes).map(([name, p]) => [name, cpuSeconds([p.child.pid!])])),
    writes: () =>
      Object.fromEntries(Object.entries(stack.processes).map(([name, p]) => [name, writeCalls([p.child.pid!])])),
    helpers: () =>
      Object.fromEntries(Object.entries(stack.processes).map(([name, p]) => [name, helperCpuSeconds(p.child.pid!)])),
    restartProfiles: () => Object.values(stack.processes).forEach((p) => p.child.kill('SIGUSR2')),
    gql: (q, v, token) => client.post(q, v, token),
    sink,
    stop: async () => {
      client.close();
      await backlog.close();
      await stack.stop();
      await sink?.stop();
    },
  };
}

function must(res: { data?: any; errors?: unknown[] }, what: string): any {
  if (res.errors?.length || !res.data) throw new Error(`${what}: ${JSON.stringify(res.errors)}`);
  return res.data;
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** Anonymous catalog traffic: a rotation of searches, filters and pages, so the response cache serves only part of it. */
function browsers(d: Deployment, count: number) {
  const words = ['', 'bench', 'item', 'browse', 'audio', 'cable', 'lamp', 'desk'];
  const query = `query Browse($f: ProductFilter, $after: String) {
    products(filter: $f, first: 12, after: $after) { edges { node { id name price { amount currency } inStock } } pageInfo { endCursor } }
  }`;
  let phase: Phase = 'off' as Phase;
  const samples = { quiet: [] as number[], loaded: [] as number[] };
  let errors = 0;
  let stopped = false;
  const loops = Array.from({ length: count }, async (_, i) => {
    let n = i;
    let after: string | undefined;
    while (!stopped) {
      n++;
      const word = words[n % words.length];
      const f: Record<string, unknown> = word ? { search: word } : {};
      if (n % 3 === 0) f.maxPrice = 1000 + (n % 50) * 100;
      const t = performance.now();
      const res = await d.gql(query, { f, after: n % 4 === 0 ? after : undefined }).catch(() => ({
        errors: [{}],
      }));
      const ms = performance.now() - t;
      if ((res as GraphQLResponse<any>).errors?.length) errors++;
      else after = (res as GraphQLResponse<any>).data?.products.pageInfo.endCursor ?? undefined;
      if (phase !== 'off') samples[phase].push(ms);
    }
  });
  return {
    set: (p: Phase) => (phase = p),
    samples,
    errors: () => errors,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** `count` guest carts holding one unit each, every one with its own socket subscribed to its `cartTimer`. */
async function countdowns(d: Deployment, count: number, productId: string) {
  const carts: string[] = [];
  await pool(
    Array.from({ length: count }, (_, i) => i),
    32,
    async () => {
      const id = must(await d.gql(`mutation { createCart { id } }`, {}), 'guest cart').createCart.id as string;
      must(
        await d.gql(`mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { id } }`, {
          c: id,
          p: productId,
        }),
        'guest add',
      );
      carts.push(id);
    },
  );
  let phase: Phase = 'off' as Phase;
  /** Per subscription: every tick's offset from its schedule, with the phase it arrived in. */
  const offsets: { phase: Phase; offset: number }[][] = [];
  let ticks = 0;
  let errors = 0;
  const clients: Client[] = [];
  const wsUrl = d.gatewayUrl.replace(/^http/, 'ws');
  await pool(carts, 50, async (cartId) => {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
    clients.push(client);
    let first: number | undefined;
    let k = 0;
    const mine: { phase: Phase; offset: number }[] = [];
    offsets.push(mine);
    await new Promise<void>((resolve) => {
      client.subscribe(
        {
          query: `subscription($c: ID!) { cartTimer(cartId: $c) { status secondsRemaining } }`,
          variables: { c: cartId },
        },
        {
          next: (msg) => {
            if (msg.errors?.length) errors++;
            const now = performance.now();
            if (first === undefined) {
              first = now; // the state on subscribe, not a tick
              resolve();
              return;
            }
            ticks++;
            k++;
            // Offset of this tick from the subscription's schedule; its lowest is the schedule's phase (see the top).
            mine.push({ phase, offset: now - first - k * 1000 });
          },
          error: () => {
            errors++;
            resolve();
          },
          complete: () => resolve(),
        },
      );
    });
  });
  return {
    set: (p: Phase) => (phase = p),
    lags() {
      const out = { quiet: [] as number[], loaded: [] as number[] };
      for (const mine of offsets) {
        const best = Math.min(...mine.map((o) => o.offset));
        for (const o of mine) if (o.phase !== 'off') out[o.phase].push(o.offset - best);
      }
      return out;
    },
    ticks: () => ticks,
    errors: () => errors,
    async stop() {
      await Promise.all(clients.map((c) => c.dispose()));
    },
  };
}

interface Buyer {
  id: string;
  cartId: string;
  token: string;
}

/**
 * `count` accounts as sign-up leaves them (without its password hashing): the user row, and the order subgraph's
 * buyer directory row that its `user.registered` event writes there; each with a cart holding 1 unit of `productId`.
 */
async function holdingBuyers(d: Deployment, productId: string, count: number): Promise<Buyer[]> {
  const usersDb = new Pool({ connectionString: d.databaseUrl('user'), max: 4 });
  const ordersDb = new Pool({ connectionString: d.databaseUrl('order'), max: 4 });
  const buyers: Buyer[] = Array.from({ length: count }, () => ({ id: randomUUID(), cartId: '', token: '' }));
  try {
    for (const b of buyers) {
      await usersDb.query(
        `INSERT INTO users (id, email, password_hash, first_name, role, email_verified_at) VALUES ($1, $2, 'x', 'B', 'USER', now())`,
        [b.id, `b.${b.id}@bench.test`],
      );
      await ordersDb.query(`INSERT INTO buyers (user_id, email, first_name) VALUES ($1, $2, 'B')`, [
        b.id,
        `b.${b.id}@bench.test`,
      ]);
      b.token = signAccessToken(d.keys, { sub: b.id, role: 'USER' });
    }
  } finally {
    await usersDb.end();
    await ordersDb.end();
  }
  await pool(buyers, CONCURRENCY, async (b) => {
    b.cartId = must(await d.gql(`mutation { createCart { id } }`, {}, b.token), 'cart').createCart.id;
    must(
      await d.gql(
        `mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { id } }`,
        { c: b.cartId, p: productId },
        b.token,
      ),
      'add',
    );
  });
  return buyers;
}

async function main(): Promise<void> {
  const d = await deploy();
  const report: Record<string, unknown> = {
    deployment: DEPLOYMENT,
    buyers: BUYERS,
    concurrency: CONCURRENCY,
    warmup: WARMUP,
  };
  try {
    const admin = signAccessToken(d.keys, { sub: randomUUID(), role: 'ADMIN' });
    must(await d.gql(`mutation { createCategory(slug: "bench", name: "Bench") { slug } }`, {}, admin), 'category');
    const createProduct = async (name: string, stock: number, price: number) =>
      must(
        await d.gql(
          `mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }`,
          {
            i: {
              sku: `BENCH-${randomUUID().slice(0, 8)}`,
              name,
              description: 'Benchmark',
              category: 'bench',
              price,
              stock,
            },
          },
          admin,
        ),
        'product',
      ).createProduct.id as string;
    const stock = BUYERS;
    const place = `mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id status } }`;
    const address = { name: 'Bench Buyer', line1: '1 Loop', city: 'Benchtown', postalCode: '1000', country: 'US' };
    const checkout = (b: Buyer) =>
      d.gql(
        place,
        { i: { cartId: b.cartId, shippingAddress: address, paymentToken: 'tok_visa' }, k: randomUUID() },
        b.token,
      );

    // `--warmup N`: N other buyers check out another product first, untimed, so that the measured checkouts run on
    // compiled code (a service that has been up for a while), not through V8's tiers and compiler.
    if (WARMUP) {
      const warm = await holdingBuyers(d, await createProduct('Warm-up item', WARMUP, 1999), WARMUP);
      let warmFailed = 0;
      await pool(warm, CONCURRENCY, async (b) => {
        const res = await checkout(b);
        if (res.errors?.length || res.data?.placeOrder?.status !== 'PAID') warmFailed++;
      });
      if (warmFailed) throw new Error(`warm-up: ${warmFailed} of ${WARMUP} checkouts failed`);
    }

    const product = await createProduct('Contended item', stock, 1999);
    let t = performance.now();
    const buyers = await holdingBuyers(d, product, BUYERS);
    const holdSeconds = (performance.now() - t) / 1000;

    // Mixed: the crowd starts, then a quiet window is measured before the checkouts begin.
    let crowd: { browse: ReturnType<typeof browsers>; timers: Awaited<ReturnType<typeof countdowns>> } | undefined;
    if (MIXED) {
      for (let i = 0; i < 30; i++) await createProduct(`Browse item ${i}`, 100_000, 500 + i * 137);
      const ticking = await createProduct('Countdown item', 10_000_000, 999);
      const timers = await countdowns(d, COUNTDOWNS, ticking);
      const browse = browsers(d, BROWSERS);
      await new Promise((r) => setTimeout(r, 3000)); // warm: plans, caches, connections
      browse.set('quiet');
      timers.set('quiet');
      await new Promise((r) => setTimeout(r, QUIET_SECONDS * 1000));
      browse.set('loaded');
      timers.set('loaded');
      crowd = { browse, timers };
    }

    const latencies: number[] = [];
    let failed = 0;
    // The stack's background CPU (polls, sweepers, health checks) while nothing happens: on a shared machine a slow
    // run counts more of it per order, so the figure net of it is the one that compares across runs.
    // The confirmation emails and the events the notification subgraph consumes trail the answers. Without the crowd,
    // the CPU window opens once the setup's and the warm-up's have all been handled, and closes once the measured
    // orders' have: so it holds the whole work of these orders, and the idle rate below is read on a settled stack.
    // The one-process deployment has no notification subgraph (nor its database): nothing trails there; nor does the
    // bound without it.
    const notificationDb =
      PROCESSES && !WITHOUT_NOTIFICATION
        ? new Pool({ connectionString: d.databaseUrl('notification'), max: 1 })
        : undefined;
    const waitingEmails = async () =>
      notificationDb
        ? ((await notificationDb.query(`SELECT count(*)::int AS n FROM emails WHERE status IN ('QUEUED', 'FAILED')`))
            .rows[0].n as number)
        : 0;
    /** Waits (at most 120 s) until no event waits for the notification subgraph and no email waits to be sent. */
    const settle = async (): Promise<number> => {
      const start = performance.now();
      while (performance.now() - start < 120_000) {
        const [events, emails] = await Promise.all([d.notificationBacklog(), waitingEmails()]);
        if (!events && !emails) return (performance.now() - start) / 1000;
        await new Promise((r) => setTimeout(r, 50));
      }
      return NaN;
    };
    if (CPU_PROF) {
      // The profiles start afresh here; a second lets each process drop the old one before anything is measured.
      d.restartProfiles();
      await new Promise((r) => setTimeout(r, 1000));
    }
    const settledBefore = MIXED ? 0 : await settle();
    let idleRate: Record<string, number> | undefined;
    if (IDLE_SECONDS) {
      const idle0 = d.cpu()!;
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
      const idle1 = d.cpu()!;
      idleRate = Object.fromEntries(Object.keys(idle1).map((n) => [n, (idle1[n] - idle0[n]) / IDLE_SECONDS]));
    }
    const cpuBefore = d.cpu();
    const writesBefore = d.writes();
    const helpersBefore = d.helpers();
    // The servers the services share, read the same way (their processes started before the run: pids taken now).
    const servers = Object.fromEntries(SERVERS.map(([label, names]) => [label, pidsNamed(names)]));
    const serversBefore = Object.fromEntries(Object.entries(servers).map(([l, pids]) => [l, cpuSeconds(pids)]));
    const machine0 = machineSeconds();
    const own0 = process.cpuUsage();
    t = performance.now();
    await pool(buyers, CONCURRENCY, async (b) => {
      const s = performance.now();
      const res = await checkout(b);
      latencies.push(performance.now() - s);
      if (res.errors?.length || res.data?.placeOrder?.status !== 'PAID') failed++;
    });
    const checkoutSeconds = (performance.now() - t) / 1000;
    // Catalog answers while the checkouts ran (the loaded samples go on a moment past the last answer).
    const catalogAnswersLoaded = crowd?.browse.samples.loaded.length ?? 0;
    const backlogAtLastAnswer = await d.notificationBacklog();
    const emailsWaiting = await waitingEmails();
    const drainSeconds = MIXED ? 0 : await settle();
    const own = process.cpuUsage(own0);
    const machine1 = machineSeconds();
    const serversMsPerOrder = Object.fromEntries(
      Object.entries(servers).map(([l, pids]) => [l, ((cpuSeconds(pids) - serversBefore[l]) * 1000) / BUYERS]),
    );
    const machineMsPerOrder = {
      busy: ((machine1.busy - machine0.busy) * 1000) / BUYERS,
      steal: ((machine1.steal - machine0.steal) * 1000) / BUYERS,
    };
    const cpuAfter = d.cpu();
    const writesAfter = d.writes();
    const helpersAfter = d.helpers();
    // With the crowd, the emails still waiting when the last order was answered are counted until sent (after the CPU
    // was read: the crowd runs on meanwhile).
    const drainStart = performance.now();
    let emailsLeft = MIXED || Number.isNaN(drainSeconds) ? await waitingEmails() : 0;
    while (emailsLeft > 0 && performance.now() - drainStart < 120_000) {
      await new Promise((r) => setTimeout(r, 100));
      emailsLeft = await waitingEmails();
    }
    const emailDrainSeconds = MIXED ? (emailsLeft ? NaN : (performance.now() - drainStart) / 1000) : drainSeconds;
    await notificationDb?.end();
    const ownMsPerOrder = (own.user + own.system) / 1000 / BUYERS;
    const perProcess: Record<string, number> = {};
    if (cpuBefore && cpuAfter)
      for (const name of Object.keys(cpuAfter)) perProcess[name] = ((cpuAfter[name] - cpuBefore[name]) * 1000) / BUYERS;
    // Of each process's CPU, its threads but the main one: the optimizing compiler still at work shows here.
    const helpersPerProcess: Record<string, number> = {};
    if (helpersBefore && helpersAfter)
      for (const name of Object.keys(helpersAfter))
        helpersPerProcess[name] = ((helpersAfter[name] - helpersBefore[name]) * 1000) / BUYERS;
    const servicesMsPerOrder = cpuAfter ? Object.values(perProcess).reduce((a, b) => a + b, 0) : ownMsPerOrder;
    const idleMsPerOrder = idleRate
      ? (Object.values(idleRate).reduce((a, b) => a + b, 0) * checkoutSeconds * 1000) / BUYERS
      : undefined;
    const lat = sorted(latencies);

    // The invariant, from the databases.
    const productDb = new Pool({ connectionString: d.databaseUrl('product'), max: CONCURRENCY });
    const orderDb = new Pool({ connectionString: d.databaseUrl('order'), max: 2 });
    const one = async (db: Pool, sql: string, params: unknown[]) => (await db.query(sql, params)).rows[0];
    const { on_hand: onHand } = await one(productDb, `SELECT on_hand FROM products WHERE id = $1`, [product]);
    const { n: held } = await one(productDb, `SELECT count(*)::int AS n FROM stock_hold WHERE product_id = $1`, [
      product,
    ]);
    const { low } = await one(
      productDb,
      `SELECT coalesce(min(resulting_on_hand), 0)::int AS low FROM stock_movements WHERE product_id = $1`,
      [product],
    );
    const { n: orders, units } = await one(
      orderDb,
      `SELECT count(DISTINCT order_id)::int AS n, coalesce(sum(quantity), 0)::int AS units FROM order_items WHERE product_id = $1`,
      [product],
    );
    await orderDb.end();
    const invariant = orders === BUYERS - failed && units === stock - onHand && onHand >= 0 && low >= 0 && held === 0;

    let crowdReport: Record<string, unknown> | undefined;
    if (crowd) {
      const b = crowd.browse.samples;
      const l = crowd.timers.lags();
      await crowd.browse.stop();
      await crowd.timers.stop();
      const stats = (xs: number[]) => {
        const s = sorted(xs);
        return { count: s.length, p50: percentile(s, 50), p99: percentile(s, 99) };
      };
      crowdReport = {
        browsers: BROWSERS,
        countdowns: COUNTDOWNS,
        catalog: {
          quiet: stats(b.quiet),
          loaded: stats(b.loaded),
          errors: crowd.browse.errors(),
          // The browsers are a closed loop: when the checkouts take part of the machine, the catalog's answers per
          // second fall, and its latency rises by about the same factor.
          perSecond: { quiet: b.quiet.length / QUIET_SECONDS, loaded: catalogAnswersLoaded / checkoutSeconds },
        },
        countdownLag: { quiet: stats(l.quiet), loaded: stats(l.loaded), errors: crowd.timers.errors() },
      };
    }

    // The ceiling: the bare conditional decrement at the same concurrency, same database, same count. Timed on open
    // connections: until the fourteenth round the pool opened its 32 connections inside the timed pass, and a
    // backend's start (fork, authentication) counted as UPDATE time — about a fifth of the rate on these cores. The
    // median of CEILING_PASSES passes, as one pass of 400 lasts a quarter of a second on a machine whose speed moves.
    const open = await Promise.all(Array.from({ length: CONCURRENCY }, () => productDb.connect()));
    open.forEach((c) => c.release());
    await productDb.query(`CREATE TABLE bench_ceiling (id int PRIMARY KEY, stock int NOT NULL CHECK (stock >= 0))`);
    await productDb.query(`INSERT INTO bench_ceiling VALUES (1, 0)`);
    const raw: number[] = [];
    const passes: number[] = [];
    let rawLeft = 0;
    for (let pass = 0; pass < CEILING_PASSES; pass++) {
      await productDb.query(`UPDATE bench_ceiling SET stock = $1 WHERE id = 1`, [BUYERS]);
      t = performance.now();
      await pool(buyers, CONCURRENCY, async () => {
        const s = performance.now();
        await productDb.query(`UPDATE bench_ceiling SET stock = stock - 1 WHERE id = 1 AND stock >= 1`);
        raw.push(performance.now() - s);
      });
      passes.push(BUYERS / ((performance.now() - t) / 1000));
      rawLeft += (await one(productDb, `SELECT stock FROM bench_ceiling`, [])).stock as number;
    }
    raw.sort((a, b) => a - b);
    await productDb.end();

    const ordersPerSecond = BUYERS / checkoutSeconds;
    const ceilingPerSecond = percentile(sorted(passes), 50);
    console.log(
      `\nCheckout benchmark (${DEPLOYMENT}): ${BUYERS} buyers, 1 unit each of one product (${stock} units), ${CONCURRENCY} in flight; accounts and holds set up in ${f(holdSeconds)} s; ${WARMUP ? `after ${WARMUP} warm-up checkouts (untimed)` : 'no warm-up (cold: the services just started)'}\n`,
    );
    console.log('| measure | ops | ops/s | p50 ms | p95 ms | p99 ms | failed |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    console.log(
      `| placeOrder through the gateway | ${BUYERS} | ${f(ordersPerSecond)} | ${f(percentile(lat, 50))} | ${f(percentile(lat, 95))} | ${f(percentile(lat, 99))} | ${failed} |`,
    );
    console.log(
      `| ceiling: UPDATE … WHERE stock >= 1 (median of ${CEILING_PASSES} passes: ${passes.map((r) => f(r, 0)).join(', ')}/s) | ${BUYERS} | ${f(ceilingPerSecond)} | ${f(percentile(raw, 50))} | ${f(percentile(raw, 95))} | ${f(percentile(raw, 99))} | ${rawLeft} left |`,
    );
    console.log(`\ncheckout ÷ ceiling: ${f(ordersPerSecond / ceilingPerSecond, 3)}×`);
    if (cpuAfter) {
      // Per process, beside the raw figure: net of that process's own idle background (its rate × the checkout's time).
      const netOf = (name: string, ms: number) =>
        idleRate ? ` ${f(ms - ((idleRate[name] ?? 0) * checkoutSeconds * 1000) / BUYERS, 2)} |` : '';
      // Write system calls per order: on loopback each costs its sender the receiver's wakeup too (see the README).
      const writesOf = (name: string) =>
        writesBefore && writesAfter ? ` ${f((writesAfter[name] - writesBefore[name]) / BUYERS, 1)} |` : '';
      // Its threads but the main one, per order: V8's optimizing compiler and GC helpers (see the README's fifteenth round).
      const helpersOf = (name: string) => (helpersBefore ? ` ${f(helpersPerProcess[name], 2)} |` : '');
      console.log(
        `\n| process | CPU ms per order |${helpersBefore ? ' of it, helper threads (JIT, GC) |' : ''}${idleRate ? ' net of its idle |' : ''}${writesBefore ? ' writes per order |' : ''}`,
      );
      console.log(`|---|---:|${helpersBefore ? '---:|' : ''}${idleRate ? '---:|' : ''}${writesBefore ? '---:|' : ''}`);
      for (const [name, ms] of Object.entries(perProcess))
        console.log(`| ${name} | ${f(ms, 2)} |${helpersOf(name)}${netOf(name, ms)}${writesOf(name)}`);
      console.log(`| **services, summed** | **${f(servicesMsPerOrder, 2)}** |`);
      if (idleMsPerOrder !== undefined) {
        console.log(
          `| idle background over the same time (rate measured ${IDLE_SECONDS} s before) | ${f(idleMsPerOrder, 2)} |`,
        );
        console.log(`| **services, summed, net of idle** | **${f(servicesMsPerOrder - idleMsPerOrder, 2)}** |`);
      }
      console.log(`| load generator (this process, not counted) | ${f(ownMsPerOrder, 2)} |`);
      for (const [label, ms] of Object.entries(serversMsPerOrder))
        console.log(`| ${label} (not counted) | ${f(ms, 2)} |`);
      console.log(
        `| the whole machine, busy (/proc/stat: all of the above, the kernel's work, anything else) | ${f(machineMsPerOrder.busy, 2)} |`,
      );
      if (machineMsPerOrder.steal > 0.005)
        console.log(
          `| hypervisor steal (time the machine's CPUs were taken away) | ${f(machineMsPerOrder.steal, 2)} |`,
        );
      if (MIXED)
        console.log(
          '\n(mixed: the services also served the browsing and the countdowns during the checkouts; their CPU is in these figures)',
        );
    } else {
      console.log(
        `\nNode CPU per order (gateway + user, product, cart, order subgraphs, all in THIS process — one event loop, so one core): ${f(ownMsPerOrder)} ms; PostgreSQL's and NATS's own CPU not included.`,
      );
    }
    if (crowdReport) {
      const c = crowdReport as any;
      console.log(
        `\nMixed: ${BROWSERS} catalog browsers and ${COUNTDOWNS} countdowns; quiet = ${QUIET_SECONDS} s before the checkouts\n`,
      );
      console.log('| measure | quiet p50 | quiet p99 | loaded p50 | loaded p99 | loaded p99 ÷ quiet p99 | errors |');
      console.log('|---|---:|---:|---:|---:|---:|---:|');
      for (const [label, m] of [
        ['catalog latency (ms)', c.catalog],
        ['countdown lag (ms)', c.countdownLag],
      ] as const)
        console.log(
          `| ${label} | ${f(m.quiet.p50)} | ${f(m.quiet.p99)} | ${f(m.loaded.p50)} | ${f(m.loaded.p99)} | ${f(m.loaded.p99 / m.quiet.p99, 2)} | ${m.errors} |`,
        );
      console.log(
        `(samples: catalog ${c.catalog.quiet.count} quiet / ${c.catalog.loaded.count} loaded; ticks ${c.countdownLag.quiet.count} / ${c.countdownLag.loaded.count})`,
      );
      const rate = c.catalog.perSecond;
      console.log(
        `Catalog answers per second, quiet → while the checkouts ran: ${f(rate.quiet, 0)} → ${f(rate.loaded, 0)} (÷ ${f(rate.quiet / rate.loaded, 2)}; the browsers are a closed loop, so their latency rises by about this factor)`,
      );
    }
    if (WITHOUT_NOTIFICATION) {
      console.log(
        '\nNo notification subgraph in this run (--without-notification): no event was consumed, no audit row written, no email sent — a bound, not a deployment',
      );
    } else if (PROCESSES) {
      console.log(
        MIXED
          ? `\nEvents the notification subgraph had not acknowledged when the last order was answered: ${backlogAtLastAnswer}`
          : `\nEvents the notification subgraph had not acknowledged when the last order was answered: ${backlogAtLastAnswer}; the CPU window closed once it had handled all of them and sent every email, ${f(drainSeconds, 2)} s later (and opened on a settled stack, ${f(settledBefore, 2)} s after the warm-up)`,
      );
      console.log(
        `Confirmation emails waiting to be sent when the last order was answered: ${emailsWaiting}; queue empty ${emailsLeft ? `not within 120 s (${emailsLeft} left)` : `${f(emailDrainSeconds)} s later`}`,
      );
      console.log(
        d.sink
          ? `Emails went to an SMTP sink in the load generator (accepted and discarded, as a provider elsewhere would): ${d.sink.received()} accepted`
          : 'Emails went to the development mailbox in the load generator, which parses each one (--dev-mailbox)',
      );
    }
    console.log(
      `\nInvariant (from the databases): orders ${orders}, units sold ${units}, on hand ${onHand}, lowest on hand ${low}, holds left ${held} → ${invariant ? 'OK' : 'VIOLATED'}`,
    );
    Object.assign(report, {
      ordersPerSecond,
      latencyMs: { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99) },
      failed,
      ceilingPerSecond,
      ceilingPasses: passes,
      ratioToCeiling: ordersPerSecond / ceilingPerSecond,
      cpuMsPerOrder: {
        services: servicesMsPerOrder,
        idleBackground: idleMsPerOrder,
        servicesNetOfIdle: idleMsPerOrder === undefined ? undefined : servicesMsPerOrder - idleMsPerOrder,
        perProcess: cpuAfter ? perProcess : undefined,
        helperThreadsPerProcess: helpersBefore ? helpersPerProcess : undefined,
        loadGenerator: ownMsPerOrder,
        servers: serversMsPerOrder,
        machine: machineMsPerOrder,
      },
      writesPerOrder:
        writesBefore && writesAfter
          ? Object.fromEntries(Object.keys(writesAfter).map((n) => [n, (writesAfter[n] - writesBefore[n]) / BUYERS]))
          : undefined,
      emails: {
        smtp: PROCESSES ? (d.sink ? 'sink' : 'dev-mailbox') : undefined,
        accepted: d.sink?.received(),
        waitingAtEnd: emailsWaiting,
        drainSeconds: emailDrainSeconds,
        leftAfter120s: emailsLeft,
      },
      /** The notification's unacknowledged events at the last answer; the CPU window (without the crowd) waited for them. */
      notificationEvents: { waitingAtEnd: backlogAtLastAnswer, drainSeconds, settledBeforeSeconds: settledBefore },
      invariant: { orders, units, onHand, low, held, ok: invariant },
      mixed: crowdReport,
      at: new Date().toISOString(),
    });
    const dir = path.join(ROOT, 'bench/results');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `checkout-${DEPLOYMENT}.json`), JSON.stringify(report, null, 2) + '\n');
    if (!invariant) process.exitCode = 1;
  } finally {
    await d.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
