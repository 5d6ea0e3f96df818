import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { parse, stringify } from 'yaml';
import { databaseName, signAccessToken } from '@shop/kernel';
import { eventually, freePort, ProcessStack, Stack, startProcessStack } from '@shop/kernel/testing';
import { createProduct, ensureCategory } from '../../subgraphs/product/test/helpers';
import { prometheusOrSkip } from './prometheus-bin';

/**
 * A real Prometheus (Debian's package) with the repository's scrape config and alert rules against every service as
 * its own process, as `npm start` runs them: only the targets are rewritten to this stack's ports, and the scrape and
 * evaluation intervals are shortened to 1 s for the test. Every target is `up`; after placeOrder traffic through the
 * gateway, PromQL returns the PlaceOrder rate; every metric the alert rules and the Grafana dashboard name is
 * exported by some process. Outside CI the test skips (with the reason printed) when prometheus is not installed.
 */
const ROOT = path.resolve(__dirname, '../..');
const prometheus = prometheusOrSkip();
const maybe = prometheus ? describe : describe.skip;

maybe('a real Prometheus scraping the process stack', () => {
  let stack: ProcessStack;
  let prom: ChildProcess | undefined;
  let promUrl: string;
  let promLog = '';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-test-'));

  beforeAll(async () => {
    stack = await startProcessStack({ env: { LOG_LEVEL: 'warn' } });
    const config = parse(fs.readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'));
    // The test's override: 1 s intervals (instead of 15 s), so a rate has samples within seconds.
    config.global.scrape_interval = '1s';
    config.global.evaluation_interval = '1s';
    // Rule files stay the repository's (absolute now, the config is written elsewhere).
    config.rule_files = (config.rule_files as string[]).map((f) => path.join(ROOT, 'deploy/prometheus', f));
    for (const job of config.scrape_configs as { job_name: string; static_configs: { targets: string[] }[] }[]) {
      const p = stack.processes[job.job_name];
      if (!p) throw new Error(`prometheus.yml scrapes ${job.job_name}, which the stack does not run`);
      job.static_configs = [{ targets: [`127.0.0.1:${p.metricsPort}`] }];
    }
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(
      prometheus!,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prom.stderr!.on('data', (b: Buffer) => (promLog += b.toString()));
    await eventually(
      'prometheus to be ready',
      async () => {
        if (prom!.exitCode !== null) throw new Error(`prometheus exited:\n${promLog.slice(-3000)}`);
        return (await fetch(`${promUrl}/-/ready`)).ok;
      },
      30_000,
    );
  }, 240_000);

  afterAll(async () => {
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function api<T = any>(route: string): Promise<T> {
    const res = await fetch(`${promUrl}/api/v1/${route}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${route}: ${body.error}`);
    return body.data;
  }
  const query = (q: string) =>
    api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
      `query?query=${encodeURIComponent(q)}`,
    ).then((d) => d.result);

  test('every target of the scrape config is up, and the alert rules are loaded', async () => {
    const jobs = Object.keys(stack.processes).sort();
    await eventually(
      'every target up',
      async () => {
        const { activeTargets } = await api<{ activeTargets: { labels: { job: string }; health: string }[] }>(
          'targets',
        );
        return activeTargets.length === jobs.length && activeTargets.every((t) => t.health === 'up');
      },
      30_000,
    );
    const up = await query('up');
    expect(up.map((r) => r.metric.job).sort()).toEqual(jobs);
    for (const r of up) expect({ job: r.metric.job, up: r.value[1] }).toEqual({ job: r.metric.job, up: '1' });
    const rules = await api<{ groups: { rules: unknown[] }[] }>('rules');
    expect(rules.groups.flatMap((g) => g.rules).length).toBeGreaterThanOrEqual(10);
  }, 60_000);

  test('after placeOrder traffic through the gateway, PromQL returns the PlaceOrder rate', async () => {
    const { env } = stack;
    const admin = signAccessToken(env.keys, { sub: randomUUID(), role: 'ADMIN' });
    // The product helpers take a Stack; the process stack's gql differs only in how the token is passed.
    const asStack = { gql: (q: string, v?: Record<string, unknown>, token?: string) => stack.gql(q, v, { token }) };
    await ensureCategory(asStack as unknown as Stack, admin, 'audio');
    const product = await createProduct(asStack as unknown as Stack, admin, { stock: 10, price: 1500 });
    const buyer = await verifiedBuyer();
    const must = (r: { data?: any; errors?: unknown[] }) => {
      if (r.errors?.length || !r.data) throw new Error(JSON.stringify(r.errors));
      return r.data;
    };
    const placeOrder = async () => {
      const cart = must(await stack.gql('mutation CreateCart { createCart { id } }', {}, { token: buyer })).createCart
        .id as string;
      must(
        await stack.gql(
          'mutation AddToCart($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { id } }',
          { c: cart, p: product.id },
          { token: buyer },
        ),
      );
      const order = must(
        await stack.gql(
          'mutation PlaceOrder($input: PlaceOrderInput!, $key: String!) { placeOrder(input: $input, idempotencyKey: $key) { id status } }',
          {
            input: {
              cartId: cart,
              paymentToken: 'tok_visa',
              shippingAddress: {
                name: 'Ann Buyer',
                line1: '1 Main Street',
                city: 'Springfield',
                postalCode: '12345',
                country: 'US',
              },
            },
            key: randomUUID(),
          },
          { token: buyer },
        ),
      ).placeOrder;
      expect(order.status).toBe('PAID');
    };

    await placeOrder();
    const series = 'shop_graphql_operations_total{operation="PlaceOrder",type="mutation",outcome="success"}';
    // Prometheus has scraped the first order; a second one makes the counter move within the rate's window.
    await eventually('the first PlaceOrder scraped', async () => (await query(series)).length === 1, 20_000);
    await placeOrder();
    const rate = await eventually(
      'a PlaceOrder rate',
      async () => {
        const [r] = await query(`sum(rate(${series}[1m]))`);
        return r && Number(r.value[1]) > 0 ? Number(r.value[1]) : undefined;
      },
      20_000,
    );
    expect(rate).toBeGreaterThan(0);
    // The events of the orders reached NATS (order.placed published by the order process) and were consumed.
    await eventually(
      'order.placed published',
      async () => (await query('sum(shop_nats_published_total{type="order.placed"})'))[0]?.value[1] === '2',
      20_000,
    );
  }, 120_000);

  test('every metric the alert rules and the dashboard name is exported by some process', async () => {
    const exported = new Set<string>();
    for (const p of Object.values(stack.processes)) {
      const text = await (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text();
      for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        exported.add(name);
        if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(name + s);
      }
    }
    const used = new Map<string, string>();
    const alerts = parse(fs.readFileSync(path.join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    for (const r of alerts.groups.flatMap((g) => g.rules)) for (const m of names(r.expr)) used.set(m, r.alert);
    const dashboard = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/shop-overview.json'), 'utf8'),
    ) as { panels: { title: string; targets?: { expr: string }[] }[] };
    for (const p of dashboard.panels)
      for (const t of p.targets ?? []) for (const m of names(t.expr)) used.set(m, `dashboard: ${p.title}`);
    expect(used.size).toBeGreaterThan(20);

    const missing = [...used].filter(([name]) => !exported.has(name));
    expect(missing).toEqual([]);
  }, 60_000);

  /** A signed-in user with a verified email (placeOrder refuses unverified ones), written to the user database. */
  async function verifiedBuyer(): Promise<string> {
    const { env } = stack;
    const url = new URL(env.config.postgresUrl);
    url.pathname = `/${databaseName(env.config, 'user')}`;
    const db = new Client({ connectionString: url.toString() });
    await db.connect();
    const id = randomUUID();
    try {
      await db.query(
        `INSERT INTO users (id, email, password_hash, first_name, role, email_verified_at) VALUES ($1, $2, 'x', 'Ann', 'USER', now())`,
        [id, `buyer.${id.slice(0, 8)}@example.test`],
      );
    } finally {
      await db.end();
    }
    return signAccessToken(env.keys, { sub: id, role: 'USER' });
  }
});

/** Metric names a PromQL expression reads (`up` is Prometheus' own). */
function names(expr: string): string[] {
  return [...expr.matchAll(/\b((?:shop|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]);
}
