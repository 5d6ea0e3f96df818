/**
 * `npm run bench`: our gateway beside Hive Gateway (default runtime, without in-flight merging, router runtime) and,
 * for single-subgraph operations, the subgraph called directly — one run, same machine, same subgraph processes,
 * same supergraph file. Each operation of schema/operations/bench/ is driven by autocannon at fixed concurrency for a fixed
 * time after a warm-up; every response body is checked for errors. Prints a markdown table and writes JSON to
 * bench/results/.
 *
 *   npm run bench -- [--connections 50] [--duration 10] [--warmup 2] [--ops a,b] [--targets ours,hive,...]
 *                    [--rounds 1] [--prewarm 10]
 *                    [--ours name:KEY=V,KEY=V]...   (several variants of our gateway, e.g. to measure one change)
 *                    [--subgraph-env KEY=V,KEY=V]   (extra environment of every subgraph, for the whole run)
 *                    (`{otlp-sink}` in a value: the URL of an OTLP receiver that discards spans, started for the run)
 *                    [--products 10000] [--users 1000] [--orders-per-user 3] [--reseed]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Identity, INTERNAL_TOKEN_HEADER, ServiceName } from '@shop/kernel';
import { freePort } from '@shop/kernel/testing';
import { subgraphs } from '../scripts/subgraphs';
import { SEED_CATEGORIES } from '../subgraphs/product/src/seed';
import { numberArg, stringArg } from './lib/args';
import {
  benchEnv,
  benchKeys,
  mintAccessToken,
  PEERS_DIR,
  peerTokenHeader,
  peerTokenHeaders,
  RESULTS_DIR,
  ROOT,
} from './lib/env';
import { LoadResult, mergeResults, runLoad } from './lib/load';
import { cpuSeconds, Proc, startProc, waitReady, withDescendants } from './lib/procs';
import { ensureCarts, ensureSeeded, Manifest } from './lib/seed';

const CONNECTIONS = numberArg('connections', 50);
const DURATION = numberArg('duration', 10);
const WARMUP = numberArg('warmup', 2);
/** Rounds over all targets, every other one in reverse order, so a machine whose load drifts treats all targets alike. */
const ROUNDS = Math.max(1, numberArg('rounds', 1));
/**
 * Seconds per operation and target of an unmeasured pass before the first measurement. Every target shares the same
 * subgraph processes, freshly started: without this pass, whichever target is measured first pays for the subgraphs'
 * JIT warm-up and cold database caches (seen as ~1.6 ms more subgraph CPU per request and ~30 % fewer req/s). Three
 * or four seconds were not enough for account-page: its first measured round still ran ~2.5 ms more subgraph CPU per
 * page (7.30 against 4.4–4.9 ms later in the same run); after 20 s it no longer did.
 */
const PREWARM = numberArg('prewarm', 10);
const NOT_STARTED = new Set(['notification']); // consumes events only; no operation here reaches it

interface Operation {
  name: string;
  query: string;
  /** Who sends it: nobody in particular, a rotating signed-in user, or a rotating user with a filled cart. */
  auth: 'anonymous' | 'user' | 'cart-owner';
  /** What a correct answer holds (checked on one probe per target before measuring). */
  expect: (data: any) => boolean;
  /** The subgraph that serves it alone (measured directly too). */
  single?: ServiceName;
  /** Variables of each request, when they rotate (else none). */
  variables?: () => Record<string, unknown>;
  /** The file in schema/operations/bench/ (default: the operation's name). */
  file?: string;
}

function operation(
  name: string,
  auth: Operation['auth'],
  expect: Operation['expect'],
  single?: ServiceName,
  more: Pick<Operation, 'variables' | 'file'> = {},
): Operation {
  return {
    name,
    auth,
    expect,
    single,
    ...more,
    query: fs.readFileSync(path.join(ROOT, 'schema/operations/bench', `${more.file ?? name}.graphql`), 'utf8'),
  };
}

/**
 * The searched workload's variables: the i-th request of the whole run gets a set no other request gets (so no
 * response cache can serve it, within its TTL or ever): a word of the seeded catalog's names (a prefix search), a
 * category or none, a sort, a page size, and a lowest price in cents that advances once every word × category × sort ×
 * size combination was used (far below any seeded price, so it filters nothing out but makes the set new).
 */
const SEARCH_WORDS = [
  ...new Set(
    SEED_CATEGORIES.flatMap((c) => [...c.nouns, ...c.adjectives]).map((w) => w.split(/[\s-]/)[0].toLowerCase()),
  ),
];
const SEARCH_CATEGORIES: (string | undefined)[] = [undefined, ...SEED_CATEGORIES.map((c) => c.slug)];
const SEARCH_SORTS = ['RELEVANCE', 'PRICE_ASC', 'PRICE_DESC'];
const SEARCH_SIZES = [10, 20];
const warmSequence = { next: 0 };
let searchSequence = warmSequence;
/**
 * The measured requests of one round and operation: every target of the round gets the same sequence of sets, from
 * `start` (a region of its own per round and operation, new sets each round), so that no target is measured on a
 * dearer slice of the rotation than another (some words, categories and sizes cost the subgraph more). Without
 * `start`: back to the unmeasured sequence (prewarm, warm-up), which never reaches the measured regions. Each target
 * has its own response cache (the peers' in their process; ours in Redis, but only one `--ours` variant usually has it
 * on): two `--ours` variants with the response cache on would serve each other's answers here, and their cache-hit
 * column would show it.
 */
function useSearchSequence(start?: number): void {
  searchSequence = start === undefined ? warmSequence : { next: start };
}
/**
 * Measured regions start here (the unmeasured sequence of a whole run stays far below), `SEARCH_REGION` sets each (more
 * than one measurement sends), one per round and searched operation. The lowest price grows by one cent per
 * word × category × sort × size combination (3,822 sets): it must stay below the seeded prices (from 5.00), which
 * `searchRegion` checks before the first round — 56 rounds of both searched operations fit.
 */
const SEARCH_MEASURED_FROM = 200_000;
const SEARCH_REGION = 15_000;
const SEARCH_LOWEST_SEEDED_CENTS = 500;
function searchRegion(round: number, index: number, perRound: number): number {
  const start = SEARCH_MEASURED_FROM + (round * perRound + index) * SEARCH_REGION;
  const combos = SEARCH_WORDS.length * SEARCH_CATEGORIES.length * SEARCH_SORTS.length * SEARCH_SIZES.length;
  if ((start + SEARCH_REGION) / combos >= SEARCH_LOWEST_SEEDED_CENTS)
    throw new Error(`too many rounds for the searched workload: its lowest price would reach the seeded prices`);
  return start;
}
export function searchVariables(i = searchSequence.next++): Record<string, unknown> {
  const combos = [SEARCH_WORDS.length, SEARCH_CATEGORIES.length, SEARCH_SORTS.length, SEARCH_SIZES.length];
  const pick: number[] = [];
  let rest = i;
  for (const n of combos) {
    pick.push(rest % n);
    rest = Math.floor(rest / n);
  }
  const category = SEARCH_CATEGORIES[pick[1]];
  return {
    filter: { search: SEARCH_WORDS[pick[0]], ...(category ? { category } : {}), minPrice: rest },
    sort: SEARCH_SORTS[pick[2]],
    first: SEARCH_SIZES[pick[3]],
  };
}
const searchOp = (name: string, auth: Operation['auth']) =>
  operation(name, auth, (d) => Array.isArray(d.products?.edges), undefined, {
    file: 'search-page',
    variables: () => searchVariables(),
  });

const ALL_OPERATIONS: Operation[] = [
  operation(
    'storefront-home',
    'anonymous',
    (d) => d.deals.length > 0 && d.products.edges.length === 20 && d.products.edges[0].node.images.length > 0,
  ),
  operation(
    'cart-view',
    'cart-owner',
    (d) =>
      d.myCart?.items.length > 0 && !!d.myCart.items[0].product.name && d.myCart.items[0].product.images.length > 0,
  ),
  operation(
    'account-page',
    'user',
    (d) => d.me?.orders.edges.length > 0 && !!d.me.orders.edges[0].node.items[0].product.name,
  ),
  operation('catalog-page', 'anonymous', (d) => d.products.edges.length === 20, 'product'),
  searchOp('search-anonymous', 'anonymous'),
  searchOp('search-signed-in', 'user'),
];
/** The body of each request: fixed, or with new variables per request. */
const bodyOf = (op: Operation): string | (() => string) =>
  op.variables
    ? () => JSON.stringify({ query: op.query, variables: op.variables!() })
    : JSON.stringify({ query: op.query });

/** `--cpu-prof-subgraphs` / `--cpu-prof-gateway`: V8 CPU profiles of those processes into bench/.data/prof (written when they stop). */
function cpuProf(flag: string): string[] {
  const extra = flag === '--cpu-prof-gateway' ? GATEWAY_NODE_FLAGS : [];
  return process.argv.includes(flag)
    ? [...extra, '--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench/.data/prof')}`]
    : extra;
}

/** `--gateway-node-flags "…"`: V8/Node flags for our gateway process (profiling aids, e.g. `--trace-gc`). */
const GATEWAY_NODE_FLAGS = stringArg('gateway-node-flags', '').split(' ').filter(Boolean);

interface Running {
  url: string;
  /** The gateway's processes (empty for direct runs). */
  pids(): number[];
  /** Our gateway: its response cache's hit and lookup counters so far (from its metrics endpoint). */
  cacheCounters?(): Promise<{ hits: number; lookups: number; entityHits: number; entityLookups: number }>;
  stop(): Promise<void>;
}
interface Target {
  name: string;
  kind: 'ours' | 'hive' | 'direct';
  /** Whether it has a response cache switched on (ours: unless GATEWAY_RESPONSE_CACHE=0; Hive: the -cached targets). */
  cached: boolean;
  start(): Promise<Running>;
}

/** `shop_gateway_cache_requests_total{cache,result}` from a Prometheus text page. */
function cacheCounter(text: string, cache: string, result: string): number {
  const m = new RegExp(
    `^shop_gateway_cache_requests_total\\{[^}]*cache="${cache}"[^}]*result="${result}"[^}]*\\} (\\S+)`,
    'm',
  ).exec(text);
  return m ? Number(m[1]) : 0;
}

function ensurePeers(): void {
  if (
    fs.existsSync(path.join(PEERS_DIR, 'node_modules/@graphql-hive/gateway')) &&
    fs.existsSync(path.join(PEERS_DIR, 'node_modules/autocannon'))
  )
    return;
  console.log('[bench] installing bench/peers (Hive Gateway, autocannon): npm ci --prefix bench/peers');
  const r = spawnSync('npm', ['ci', '--prefix', PEERS_DIR, '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm ci --prefix bench/peers failed');
}

function listArg(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === `--${name}` && process.argv[i + 1]) out.push(process.argv[i + 1]);
  });
  return out;
}

/** `name:KEY=V,KEY=V` → a variant of our gateway with extra environment. */
function parseVariant(spec: string): { name: string; env: Record<string, string> } {
  const [name, rest = ''] = spec.split(/:(.*)/s);
  return { name, env: parseEnv(rest) };
}

/** `KEY=V,KEY=V` → environment. */
function parseEnv(spec: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of spec.split(',').filter(Boolean)) {
    const [k, v = ''] = kv.split(/=(.*)/s);
    env[k] = v;
  }
  return env;
}

const OTLP_SINK = '{otlp-sink}';
/** Replaces `{otlp-sink}` in every value by the sink's URL. */
const withSink = (env: Record<string, string>, sinkUrl: string) =>
  Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.split(OTLP_SINK).join(sinkUrl)]));

async function main(): Promise<void> {
  ensurePeers();
  const seeded: Manifest = await ensureSeeded(
    {
      products: numberArg('products', 10_000),
      users: numberArg('users', 1_000),
      ordersPerUser: numberArg('orders-per-user', 3),
    },
    { force: process.argv.includes('--reseed') },
  );
  const manifest = await ensureCarts(seeded, numberArg('carts', 300));
  const keys = benchKeys();
  const procs: Proc[] = [];
  const stopAll = async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

  try {
    // Tracing overhead (docs/observability.md): an OTLP receiver that discards, its own process, when a variant names it.
    const variants = listArg('ours').map(parseVariant);
    const subgraphEnv = parseEnv(listArg('subgraph-env').join(','));
    let sinkUrl = '';
    if (process.argv.some((a) => a.includes(OTLP_SINK))) {
      const port = await freePort();
      const sink = startProc('otlp-sink', ['dist/bench/lib/otlp-sink.js', '--port', String(port)], {}, ROOT);
      procs.push(sink);
      sinkUrl = `http://127.0.0.1:${port}`;
      await waitReady(sink, sinkUrl, 10_000);
      console.log(`[bench] OTLP sink (discards spans) at ${sinkUrl}`);
    }

    // Subgraphs: built JS, production mode, each on a free port.
    const urls: Record<string, string> = {};
    for (const s of subgraphs.filter((m) => !NOT_STARTED.has(m.name))) {
      const port = await freePort();
      const p = startProc(
        s.name,
        [...cpuProf('--cpu-prof-subgraphs'), `dist/subgraphs/${s.name}/src/main.js`],
        benchEnv({ [`${s.name.toUpperCase()}_PORT`]: String(port), ...withSink(subgraphEnv, sinkUrl) }),
        ROOT,
      );
      procs.push(p);
      await waitReady(p, `http://127.0.0.1:${port}/ready`);
      urls[s.name] = `http://127.0.0.1:${port}/graphql`;
    }
    console.log(`[bench] subgraphs ready: ${Object.keys(urls).join(', ')}`);

    // One supergraph file for every gateway: schema/supergraph.graphql with the routing URLs of this run.
    const supergraphFile = path.join(ROOT, 'bench/.data/supergraph.graphql');
    const sdl = fs
      .readFileSync(path.join(ROOT, 'schema/supergraph.graphql'), 'utf8')
      .replace(/@join__graph\(name: "([a-z]+)", url: "[^"]*"\)/g, (m, name: string) =>
        urls[name] ? `@join__graph(name: "${name}", url: "${urls[name]}")` : m,
      );
    fs.writeFileSync(supergraphFile, sdl);

    const ours = (name: string, env: Record<string, string>): Target => ({
      name,
      kind: 'ours',
      cached: env.GATEWAY_RESPONSE_CACHE !== '0',
      async start() {
        const port = await freePort();
        const metricsPort = await freePort();
        // The edge's per-IP/per-user rate limits would stop a load test from one address (that is their job); they are
        // off unless a variant sets them (e.g. --ours "limited:RATE_LIMIT_PER_IP=100000000" measures their cost).
        const base = {
          GATEWAY_PORT: String(port),
          GATEWAY_METRICS_PORT: String(metricsPort),
          SUPERGRAPH_FILE: supergraphFile,
          RATE_LIMIT_PER_IP: '0',
          RATE_LIMIT_PER_USER: '0',
          WS_MAX_CONNECTIONS_PER_IP: '0',
          WS_CONNECT_RATE_PER_IP: '0',
          WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '0',
        };
        const p = startProc(
          name,
          [...cpuProf('--cpu-prof-gateway'), 'dist/gateway/src/main.js'],
          benchEnv({ ...base, ...withSink(env, sinkUrl) }),
          ROOT,
        );
        await waitReady(p, `http://127.0.0.1:${port}/health`);
        return {
          url: `http://127.0.0.1:${port}/graphql`,
          pids: () => withDescendants(p.child.pid!),
          stop: () => p.stop(),
          async cacheCounters() {
            const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
            const count = (cache: string) => ['hit', 'miss', 'bypass'].map((r) => cacheCounter(text, cache, r));
            const [rh, rm, rb] = count('response');
            const [eh, em, eb] = count('entity');
            return { hits: rh, lookups: rh + rm + rb, entityHits: eh, entityLookups: eh + em + eb };
          },
        };
      },
    });
    const hive = (name: string, opts: { router?: boolean; dedup: boolean; cache?: boolean }): Target => ({
      name,
      kind: 'hive',
      cached: !!opts.cache,
      async start() {
        const port = await freePort();
        const bin = path.join(PEERS_DIR, 'node_modules/@graphql-hive/gateway/dist/bin.js');
        const args = [
          bin,
          'supergraph',
          supergraphFile,
          '--port',
          String(port),
          '--host',
          '127.0.0.1',
          '-c',
          path.join(PEERS_DIR, 'gateway.config.mjs'),
        ];
        if (opts.router) args.push('--hive-router-runtime');
        const p = startProc(
          name,
          args,
          {
            NODE_ENV: 'production',
            BENCH_HIVE_DEDUP: opts.dedup ? '1' : '0',
            BENCH_HIVE_CACHE: opts.cache ? '1' : '0',
            // The same TTL as ours (GATEWAY_RESPONSE_CACHE_TTL_SECONDS, default 10).
            BENCH_HIVE_CACHE_TTL_MS: String(1000 * Number(process.env.GATEWAY_RESPONSE_CACHE_TTL_SECONDS ?? 10)),
          },
          PEERS_DIR,
        );
        await waitReady(p, `http://127.0.0.1:${port}/healthcheck`);
        return {
          url: `http://127.0.0.1:${port}/graphql`,
          pids: () => withDescendants(p.child.pid!),
          stop: () => p.stop(),
        };
      },
    });
    if (process.argv.includes('--serve')) {
      // Profiling aid: keep the subgraphs running and print what a client needs.
      // Internal tokens: one header per subgraph (`x-gateway-token-<name>`, what Hive expects); send the one for the
      // subgraph you call directly as `x-gateway-token`.
      const info = {
        urls,
        supergraphFile,
        anonymousInternal: peerTokenHeaders(keys, {}, Object.keys(urls)),
        user: manifest.userIds[0],
        userAccess: mintAccessToken(keys, manifest.userIds[0], 'USER'),
        userInternal: peerTokenHeaders(keys, { userId: manifest.userIds[0], role: 'USER' }, Object.keys(urls)),
      };
      fs.writeFileSync(
        path.join(ROOT, 'bench/.data/serve.json'),
        JSON.stringify({ ...info, gatewayEnv: benchEnv({ SUPERGRAPH_FILE: supergraphFile }) }, null, 2),
      );
      console.log('[bench] serving; details in bench/.data/serve.json; Ctrl-C stops');
      await new Promise(() => undefined);
    }
    const available: Target[] = [
      ...(variants.length ? variants.map((v) => ours(v.name, v.env)) : [ours('ours', {})]),
      hive('hive', { dedup: true }),
      hive('hive-cached', { dedup: true, cache: true }),
      hive('hive-nodedup', { dedup: false }),
      hive('hive-router', { router: true, dedup: true }),
      hive('hive-router-cached', { router: true, dedup: true, cache: true }),
      hive('hive-router-nodedup', { router: true, dedup: false }),
      {
        name: 'direct',
        kind: 'direct',
        cached: false,
        start: async () => ({ url: '', pids: () => [], stop: async () => undefined }),
      },
    ];
    const wanted = stringArg('targets', '');
    const targets = wanted
      ? available.filter(
          (t) => wanted.split(',').includes(t.name) || (t.kind === 'ours' && wanted.split(',').includes('ours')),
        )
      : available.filter((t) => t.name !== 'hive-router-nodedup' && t.name !== 'hive-nodedup');
    const wantedOps = stringArg('ops', '');
    const ops = wantedOps ? ALL_OPERATIONS.filter((o) => wantedOps.split(',').includes(o.name)) : ALL_OPERATIONS;

    // Identities: a rotating set of seeded users, each with the token its gateway expects.
    // Internal tokens name the subgraph they are for: Hive gets one header per subgraph (`x-gateway-token-<name>`, its
    // propagateHeaders hook picks the right one per subgraph request); a direct run sends the one of its subgraph.
    const services = Object.keys(urls);
    const users = manifest.userIds;
    const accessTokens = users.map((id) => mintAccessToken(keys, id, 'USER'));
    const cartOwners = manifest.carts.map((c) => c.userId);
    const cartAccess = cartOwners.map((id) => mintAccessToken(keys, id, 'USER'));
    // Minted again each time a peer starts, as our gateway mints its own each time it starts (every measurement):
    // the subgraphs then verify each identity's new token once per measurement behind either gateway. Minted once per
    // run, the peers' tokens stayed in the subgraphs' verification cache from round to round while ours did not.
    let internalTokens: Record<string, string>[] = [];
    let anonymousInternal: Record<string, string> = {};
    let cartInternal: Record<string, string>[] = [];
    const mintPeerTokens = () => {
      internalTokens = users.map((id) => peerTokenHeaders(keys, { userId: id, role: 'USER' }, services));
      anonymousInternal = peerTokenHeaders(keys, {} as Identity, services);
      cartInternal = cartOwners.map((id) => peerTokenHeaders(keys, { userId: id, role: 'USER' }, services));
    };
    const rotate = <T>(tokens: T[], header: (t: T) => Record<string, string>) => {
      let i = 0;
      return () => header(tokens[i++ % tokens.length]);
    };
    const internalHeaders =
      (target: Target, op: Operation) =>
      (perService: Record<string, string>): Record<string, string> =>
        target.kind === 'direct' ? { [INTERNAL_TOKEN_HEADER]: perService[peerTokenHeader(op.single!)] } : perService;
    const headersFor = (target: Target, op: Operation): Record<string, string> | (() => Record<string, string>) => {
      if (op.auth === 'anonymous') return target.kind === 'ours' ? {} : internalHeaders(target, op)(anonymousInternal);
      const [access, internal] = op.auth === 'user' ? [accessTokens, internalTokens] : [cartAccess, cartInternal];
      if (target.kind === 'ours') return rotate(access, (t) => ({ authorization: `Bearer ${t}` }));
      // Hive gets the client's Authorization header too (it does nothing with it but keep signed-in requests out of
      // its response cache, as ours does), with the internal tokens of the same user.
      const both = access.map((t, i) => [t, internal[i]] as const);
      const inner = internalHeaders(target, op);
      return target.kind === 'direct'
        ? rotate(internal, inner)
        : rotate(both, ([t, perService]) => ({ ...inner(perService), authorization: `Bearer ${t}` }));
    };

    /** Starts `target`, calls `each` with every operation it serves and the URL to send it to, and stops it. */
    const withTarget = async (
      target: Target,
      each: (op: Operation, url: string, running: Running) => Promise<void>,
    ) => {
      if (target.kind !== 'ours') mintPeerTokens();
      const running = await target.start();
      try {
        for (const op of ops) {
          if (target.kind === 'direct' && !op.single) continue;
          await each(op, target.kind === 'direct' ? urls[op.single!] : running.url, running);
        }
      } finally {
        await running.stop();
      }
    };

    const subgraphPids = procs.filter((p) => p.name !== 'otlp-sink').map((p) => p.child.pid!);
    if (PREWARM > 0) {
      // Through every target (the gateways' processes are thrown away), so the warm subgraphs favour none of them.
      for (const target of targets) {
        await withTarget(target, async (op, url) => {
          await runLoad(
            { url, body: bodyOf(op), headers: headersFor(target, op) },
            { connections: CONNECTIONS, seconds: PREWARM },
          );
        });
      }
      console.log(`[bench] subgraphs warmed: ${PREWARM} s per operation through every target`);
    }
    type Row = {
      op: string;
      target: string;
      kind: Target['kind'];
      cached: boolean;
      result: LoadResult;
      gatewayCpuMs: number;
      subgraphCpuMs: number;
      /** Ours with the entity cache on: the share of entity lookups it answered. */
      entityHitRatio?: number;
    };
    const runs: Row[] = [];
    const loadBefore = os.loadavg();
    const schedule = Array.from({ length: ROUNDS }, (_, r) => (r % 2 ? [...targets].reverse() : targets)).flat();
    const searched = ops.filter((o) => o.variables);
    if (searched.length) searchRegion(ROUNDS - 1, searched.length - 1, searched.length);
    for (const [slot, target] of schedule.entries()) {
      const round = Math.floor(slot / targets.length);
      await withTarget(target, async (op, url, running) => {
        const body = bodyOf(op);
        // One probe: the answer must be the real thing, not an empty or null page.
        const h = headersFor(target, op);
        const probe = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(typeof h === 'function' ? h() : h) },
          body: typeof body === 'function' ? body() : body,
        });
        const parsed = (await probe.json()) as { data?: unknown; errors?: unknown[] };
        if (parsed.errors?.length || !parsed.data || !op.expect(parsed.data)) {
          throw new Error(`${op.name} @ ${target.name}: unexpected answer ${JSON.stringify(parsed).slice(0, 500)}`);
        }
        if (WARMUP > 0)
          await runLoad({ url, body, headers: headersFor(target, op) }, { connections: CONNECTIONS, seconds: WARMUP });
        const gatewayPids = running.pids();
        const counters0 = await running.cacheCounters?.();
        const cpu0 = [cpuSeconds(gatewayPids), cpuSeconds(subgraphPids)];
        if (op.variables) useSearchSequence(searchRegion(round, searched.indexOf(op), searched.length));
        const result = await runLoad(
          { url, body, headers: headersFor(target, op) },
          { connections: CONNECTIONS, seconds: DURATION },
        ).finally(() => useSearchSequence());
        const n = Math.max(1, result.successes);
        const gatewayCpuMs = ((cpuSeconds(gatewayPids) - cpu0[0]) * 1000) / n;
        const subgraphCpuMs = ((cpuSeconds(subgraphPids) - cpu0[1]) * 1000) / n;
        // Served from a response cache, of the successful answers: ours counts its hits (metrics), Hive marks each
        // answer it served from its cache (includeExtensionMetadata); a target without a response cache has none.
        const counters1 = await running.cacheCounters?.();
        // Ours: hits ÷ lookups of its response cache (its counters also see requests still in flight when the load
        // tool stops counting, so successes are not the denominator); Hive: answers marked as hits ÷ successes.
        const cacheHitRatio =
          counters0 && counters1
            ? counters1.lookups > counters0.lookups
              ? (counters1.hits - counters0.hits) / (counters1.lookups - counters0.lookups)
              : 0
            : target.kind === 'hive'
              ? result.cacheHits / n
              : 0;
        const cacheHits = Math.round(cacheHitRatio * result.successes);
        const entityHitRatio =
          counters0 && counters1 && counters1.entityLookups > counters0.entityLookups
            ? (counters1.entityHits - counters0.entityHits) / (counters1.entityLookups - counters0.entityLookups)
            : undefined;
        runs.push({
          op: op.name,
          target: target.name,
          kind: target.kind,
          cached: target.cached,
          result: { ...result, cacheHits },
          gatewayCpuMs,
          subgraphCpuMs,
          entityHitRatio,
        });
        console.log(
          `[bench] ${op.name} @ ${target.name}: ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.p99.toFixed(1)} ms, ${result.errors} errors, ` +
            `CPU per request: gateway ${gatewayCpuMs.toFixed(2)} ms, subgraphs ${subgraphCpuMs.toFixed(2)} ms, ` +
            `response cache hits ${(100 * cacheHitRatio).toFixed(1)} %` +
            (entityHitRatio !== undefined ? `, entity cache hits ${(100 * entityHitRatio).toFixed(1)} %` : '') +
            (result.errorSamples.length ? `\n  e.g. ${result.errorSamples[0]}` : ''),
        );
      });
    }
    const loadAfter = os.loadavg();
    // One row per operation and target: the rounds merged (CPU per request weighted by successes).
    const results: Row[] = [];
    for (const op of ops) {
      for (const t of targets) {
        const mine = runs.filter((r) => r.op === op.name && r.target === t.name);
        if (!mine.length) continue;
        const n = mine.reduce((s, r) => s + r.result.successes, 0) || 1;
        const entity = mine.filter((r) => r.entityHitRatio !== undefined);
        results.push({
          op: op.name,
          target: t.name,
          kind: t.kind,
          cached: t.cached,
          result: mergeResults(mine.map((r) => r.result)),
          gatewayCpuMs: mine.reduce((s, r) => s + r.gatewayCpuMs * r.result.successes, 0) / n,
          subgraphCpuMs: mine.reduce((s, r) => s + r.subgraphCpuMs * r.result.successes, 0) / n,
          entityHitRatio: entity.length ? entity.reduce((s, r) => s + r.entityHitRatio!, 0) / entity.length : undefined,
        });
      }
    }

    // The report.
    const cpus = os.cpus();
    const machine = `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
    const lines: string[] = [];
    lines.push(
      `Machine: ${machine}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after.`,
    );
    lines.push(
      `${CONNECTIONS} connections, ${DURATION} s per measurement after ${WARMUP} s warm-up, ${ROUNDS} round(s) (every other one in reverse target order, merged); catalog ${manifest.products} products, ${manifest.users} users × ${manifest.ordersPerUser} orders, ${manifest.carts.length} carts of 3 lines.`,
    );
    lines.push(
      "CPU ms/req: CPU time (user + system) the gateway's processes and all subgraph processes used during the measurement, divided by successful requests.",
    );
    const oursNames = targets.filter((t) => t.kind === 'ours').map((t) => t.name);
    /** Ours against a peer, oriented so that > 1 means ours is better: req/s ours ÷ peer, gateway CPU peer ÷ ours. */
    const ratioOf = (o: Row, peer: Row) => ({
      requestsPerSecond:
        peer.result.requestsPerSecond > 0 ? o.result.requestsPerSecond / peer.result.requestsPerSecond : 0,
      gatewayCpuPerRequest:
        peer.kind !== 'direct' && o.gatewayCpuMs > 0 ? peer.gatewayCpuMs / o.gatewayCpuMs : undefined,
    });
    for (const op of ops) {
      const rows = results.filter((r) => r.op === op.name);
      if (!rows.length) continue;
      lines.push('', `**${op.name}**${op.single ? ` (single subgraph: ${op.single})` : ''}`, '');
      const ratioCols = oursNames.flatMap((n) => [`${n} ÷ this req/s`, `this ÷ ${n} gateway CPU`]);
      lines.push(
        `| target | req/s | p50 ms | p95 ms | p99 ms | errors | gateway CPU ms/req | subgraphs CPU ms/req | response cache hits | ${ratioCols.join(' | ')} |`,
      );
      lines.push(`|---|---:|---:|---:|---:|---:|---:|---:|---:|${ratioCols.map(() => '---:').join('|')}|`);
      for (const r of rows) {
        const ratios = oursNames.flatMap((n) => {
          const o = rows.find((x) => x.target === n);
          const q = o && ratioOf(o, r);
          return [
            q ? `${q.requestsPerSecond.toFixed(2)}×` : '',
            q?.gatewayCpuPerRequest ? `${q.gatewayCpuPerRequest.toFixed(2)}×` : '–',
          ];
        });
        const x = r.result;
        const gw = r.kind === 'direct' ? '–' : r.gatewayCpuMs.toFixed(2);
        const hits = r.cached
          ? `${((100 * x.cacheHits) / Math.max(1, x.successes)).toFixed(1)} %` +
            (r.entityHitRatio !== undefined ? ` (entities ${(100 * r.entityHitRatio).toFixed(0)} %)` : '')
          : r.entityHitRatio !== undefined
            ? `– (entities ${(100 * r.entityHitRatio).toFixed(0)} %)`
            : '–';
        lines.push(
          `| ${r.target} | ${x.requestsPerSecond.toFixed(0)} | ${x.p50.toFixed(1)} | ${x.p95.toFixed(1)} | ${x.p99.toFixed(1)} | ${x.errors} | ${gw} | ${r.subgraphCpuMs.toFixed(2)} | ${hits} | ${ratios.join(' | ')} |`,
        );
      }
    }
    const report = lines.join('\n');
    console.log(`\n${report}\n`);
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify(
        {
          at: new Date().toISOString(),
          machine,
          loadBefore,
          loadAfter,
          connections: CONNECTIONS,
          durationSeconds: DURATION,
          warmupSeconds: WARMUP,
          seed: {
            products: manifest.products,
            users: manifest.users,
            ordersPerUser: manifest.ordersPerUser,
            carts: manifest.carts.length,
          },
          results: results.map((r) => ({
            ...r,
            result: { ...r.result, latencies: undefined },
            cacheHitRatio: r.cached ? r.result.cacheHits / Math.max(1, r.result.successes) : 0,
            // Per operation, ours (each variant) against this target: > 1 means ours is better.
            ratio:
              r.kind === 'ours'
                ? undefined
                : Object.fromEntries(
                    oursNames.flatMap((n) => {
                      const o = results.find((x) => x.op === r.op && x.target === n);
                      return o ? [[n, ratioOf(o, r)]] : [];
                    }),
                  ),
          })),
          runs: runs.map((r) => ({ ...r, result: { ...r.result, latencies: undefined } })),
          report,
        },
        null,
        2,
      ),
    );
    console.log(`[bench] results written to ${path.relative(ROOT, file)}`);
  } finally {
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
