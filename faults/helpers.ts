import { randomUUID } from 'node:crypto';
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { signAccessToken, StartedService, SubgraphModule } from '@shop/kernel';
import { freePort, GraphQLResponse, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../gateway/src';
import userSubgraph from '../subgraphs/user/src';
import productSubgraph from '../subgraphs/product/src';
import cartSubgraph from '../subgraphs/cart/src';
import orderSubgraph from '../subgraphs/order/src';
import mediaSubgraph from '../subgraphs/media/src';
import notificationSubgraph from '../subgraphs/notification/src';
import { directAccount } from '../subgraphs/order/test/helpers';
import { createProduct, ensureCategory } from '../subgraphs/product/test/helpers';

export { codes, eventually, ok } from '@shop/kernel/testing';
export const ALL = {
  user: userSubgraph,
  product: productSubgraph,
  cart: cartSubgraph,
  order: orderSubgraph,
  media: mediaSubgraph,
  notification: notificationSubgraph,
};
export const ADDRESS = {
  name: 'Ann Buyer',
  line1: '1 Main Street',
  line2: null,
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};
export const PLACE = `mutation Place($input: PlaceOrderInput!, $key: String!) { placeOrder(input: $input, idempotencyKey: $key) { id number status } }`;

export interface Shop {
  stack: Stack;
  admin: string;
  dir: string;
  product(stock: number, price?: number): Promise<string>;
  buyer(): Promise<{ id: string; email: string; token: string }>;
  cartWith(token: string | undefined, lines: [string, number][]): Promise<string>;
  place(token: string, cartId: string, key?: string): Promise<GraphQLResponse & { status: number }>;
  stop(): Promise<void>;
}

/** Production demands the public keys; PEM-shaped placeholders pass the configuration, the harness sets its own keys. */
export const PLACEHOLDER_KEYS = {
  JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nset-by-harness\n-----END PUBLIC KEY-----',
  INTERNAL_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nset-by-harness\n-----END PUBLIC KEY-----',
};

/** The given subgraphs + gateway on a private MEDIA_DIR/KEYS_DIR, an admin token and purchase helpers. */
export async function startShop(subgraphs: SubgraphModule[], env: Record<string, string> = {}): Promise<Shop> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-'));
  // Production refuses the development mailbox and the simulated payments unless named: the test mailbox (SMTP_PORT) and
  // the simulation, explicitly. The catalog caches stay off, as in every other test (stock is read right after changes).
  const production: Record<string, string> =
    env.NODE_ENV === 'production'
      ? {
          SMTP_HOST: '127.0.0.1',
          ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'true',
          // Each test's databases are new; a real deployment has them created by `npm run migrate` beforehand.
          POSTGRES_CREATE_DATABASE: 'true',
          GATEWAY_RESPONSE_CACHE: 'off',
          GATEWAY_ENTITY_CACHE: 'off',
        }
      : {};
  const stack = await startStack({
    subgraphs,
    gateway: startGateway,
    env: { MEDIA_DIR: path.join(dir, 'media'), KEYS_DIR: path.join(dir, 'keys'), ...production, ...env },
  });
  const admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  if (stack.services.product) await ensureCategory(stack, admin, 'audio');
  const must = (r: GraphQLResponse) => {
    if (r.errors?.length || !r.data) throw new Error(JSON.stringify(r.errors));
    return r.data as Record<string, any>;
  };
  return {
    stack,
    admin,
    dir,
    product: async (stock, price = 1000) => (await createProduct(stack, admin, { stock, price })).id,
    buyer: () => directAccount(stack),
    async cartWith(token, lines) {
      const id = must(await stack.gql('mutation { createCart { id } }', {}, token)).createCart.id as string;
      for (const [p, q] of lines)
        must(
          await stack.gql(
            'mutation($c: ID!, $p: ID!, $q: Int!) { addToCart(cartId: $c, productId: $p, quantity: $q) { id } }',
            { c: id, p, q },
            token,
          ),
        );
      return id;
    },
    place: (token, cartId, key = randomUUID()) =>
      stack.gql(PLACE, { input: { cartId, shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, key }, token),
    async stop() {
      await stack.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Requests, errors and lost items of one fault, printed as a markdown row for the closing note and docs/security.md. */
export class Tally {
  requests = 0;
  errors = 0;
  codes = new Map<string, number>();
  constructor(readonly fault: string) {}
  count(res: GraphQLResponse): GraphQLResponse {
    this.requests++;
    if (res.errors?.length) {
      this.errors++;
      const c = String(res.errors[0].extensions?.code ?? 'uncoded');
      this.codes.set(c, (this.codes.get(c) ?? 0) + 1);
    }
    return res;
  }
  print(lost: number, extra = ''): void {
    const codes = [...this.codes].map(([c, n]) => `${c} ×${n}`).join(', ') || 'none';
    console.log(`| ${this.fault} | ${this.requests} | ${this.errors} (${codes}) | ${lost} | ${extra} |`);
  }
}

/** Internal details a client must never see in an error: stack frames, SQL, driver and socket messages. */
export const INTERNALS =
  /\n\s+at |SELECT |INSERT |UPDATE |DELETE FROM|ECONNREFUSED|ECONNRESET|relation "|syntax error|pg_|mikro|knex|stacktrace/i;

/**
 * A subgraph as a child process (the built `dist/subgraphs/<name>/src/main.js`) on a fixed port, so a test can kill it
 * with SIGKILL and start it again where the gateway expects it.
 */
export function processModule(
  mod: SubgraphModule,
): SubgraphModule & { kill(): Promise<void>; restart(): Promise<void> } {
  let proc: ChildProcess | undefined;
  let launch: (() => Promise<void>) | undefined;
  const main = path.join(__dirname, '..', 'dist', 'subgraphs', mod.name, 'src', 'main.js');
  return {
    name: mod.name,
    buildSchema: () => mod.buildSchema(),
    async start(deps): Promise<StartedService> {
      if (!fs.existsSync(main))
        throw new Error(`${main} is missing: run npm run build first (npm run test:faults does)`);
      const port = await freePort();
      const c = deps.config;
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        NODE_ENV: c.nodeEnv,
        LOG_LEVEL: c.logLevel,
        PUBLIC_URL: c.publicUrl,
        POSTGRES_URL: c.postgresUrl,
        REDIS_URL: c.redisUrl,
        REDIS_PREFIX: c.redisPrefix,
        NATS_URL: c.natsUrl,
        NATS_PREFIX: c.natsPrefix,
        [`${mod.name.toUpperCase()}_PORT`]: String(port),
        MEDIA_DIR: c.mediaDir,
        KEYS_DIR: c.keysDir,
        DEV_MAIL_PORT: String(c.devMailPort),
        SMTP_PORT: String(c.smtp.port),
        ...(c.smtp.host ? { SMTP_HOST: c.smtp.host } : {}),
        PAYMENT_PROVIDER: c.payments.provider,
        ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: String(c.payments.allowSimulatedInProduction),
        ...(c.payments.stripe.secretKey ? { STRIPE_SECRET_KEY: c.payments.stripe.secretKey } : {}),
        ...(c.payments.stripe.webhookSecret ? { STRIPE_WEBHOOK_SECRET: c.payments.stripe.webhookSecret } : {}),
        ...(c.payments.stripe.apiBase ? { STRIPE_API_BASE: c.payments.stripe.apiBase } : {}),
        ...(c.mediaSigningSecret ? { MEDIA_SIGNING_SECRET: c.mediaSigningSecret } : {}),
        JWT_PRIVATE_KEY: deps.keys.access.privateKey ?? '',
        JWT_PUBLIC_KEY: deps.keys.access.publicKey ?? '',
        INTERNAL_JWT_PRIVATE_KEY: deps.keys.internal.privateKey ?? '',
        INTERNAL_JWT_PUBLIC_KEY: deps.keys.internal.publicKey ?? '',
      };
      const url = `http://127.0.0.1:${port}/graphql`;
      launch = async () => {
        proc = spawn(process.execPath, [main], { env, stdio: ['ignore', 'ignore', 'inherit'] });
        const until = Date.now() + 30_000;
        for (;;) {
          const ready = await fetch(`http://127.0.0.1:${port}/ready`)
            .then((r) => r.ok)
            .catch(() => false);
          if (ready) return;
          if (Date.now() > until) throw new Error(`${mod.name} process did not become ready`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await launch();
      const kill = async () => {
        const p = proc;
        if (!p || p.exitCode !== null) return;
        proc = undefined;
        await new Promise<void>((resolve) => {
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        });
      };
      return { name: mod.name, url, stop: kill };
    },
    async kill() {
      const p = proc;
      if (!p) return;
      proc = undefined;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      });
    },
    async restart() {
      if (!launch) throw new Error('not started');
      await launch();
    },
  };
}
