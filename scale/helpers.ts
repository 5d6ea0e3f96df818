import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Client as Pg } from 'pg';
import { connect, NatsConnection } from 'nats';
import { createClient, Client } from 'graphql-ws';
import WebSocket from 'ws';
import { databaseName, natsStreamName, natsSubject, signAccessToken } from '@shop/kernel';
import type { GraphQLResponse, ScaleStack } from '@shop/kernel/testing';

export const ADDRESS = {
  name: 'Ann Buyer',
  line1: '1 Main Street',
  line2: null,
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};

export function ok<T = Record<string, any>>(r: GraphQLResponse<T>): T {
  if (r.errors?.length || !r.data) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(50);
  }
}

/** Purchase helpers over a scale stack; `via` picks the URL each request goes to (a gateway, or the load balancer). */
export function shopOf(stack: ScaleStack) {
  const admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  const gatewayUrl = (i: number) => `${stack.gateways[i].origin}/graphql`;
  return {
    admin,
    gatewayUrl,
    async category() {
      await stack.gql(`mutation { createCategory(slug: "audio", name: "Audio") { slug } }`, {}, { token: admin });
    },
    async product(stock: number, price = 1000, url?: string): Promise<string> {
      const sku = `SKU-${randomUUID().slice(0, 8)}`;
      const input = { sku, name: `Speaker ${sku}`, description: 'A speaker.', category: 'audio', price, stock };
      return ok(
        await stack.gql(
          `mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`,
          { input },
          { token: admin, url },
        ),
      ).createProduct.id as string;
    },
    async stock(id: string): Promise<number> {
      return ok(await stack.gql(`query($id: ID!) { product(id: $id) { stock } }`, { id }, { token: admin })).product
        .stock as number;
    },
    /** A verified user inserted straight into the user database (no sign-up email), with an access token. */
    async buyer(): Promise<{ id: string; email: string; token: string }> {
      const id = randomUUID();
      const email = `buyer.${id.slice(0, 8)}@example.test`;
      const url = new URL(stack.env.config.postgresUrl);
      url.pathname = `/${databaseName(stack.env.config, 'user')}`;
      const pg = new Pg({ connectionString: url.toString() });
      await pg.connect();
      try {
        await pg.query(
          `INSERT INTO users (id, email, password_hash, first_name, role, email_verified_at) VALUES ($1, $2, 'x', 'Ann', 'USER', now())`,
          [id, email],
        );
      } finally {
        await pg.end();
      }
      return { id, email, token: signAccessToken(stack.env.keys, { sub: id, role: 'USER' }) };
    },
  };
}

/** Every message of `type` (e.g. `order.placed`) on this stack's stream, decoded, in stream order. */
export async function streamEvents(stack: ScaleStack, type: string): Promise<any[]> {
  const prefix = stack.env.config.natsPrefix;
  const nc: NatsConnection = await connect({ servers: stack.env.config.natsUrl });
  try {
    const jsm = await nc.jetstreamManager();
    const stream = natsStreamName(prefix, type.split('.')[0] as never);
    const subject = natsSubject(prefix, type);
    const info = await jsm.streams.info(stream);
    const out: any[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
      if (m && m.subject === subject) out.push(m.json());
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** `/graphql` POSTs each process served so far (its own `shop_http_request_duration_seconds` count). */
export async function graphqlRequests(origin: string): Promise<number> {
  const text = await fetch(`${origin}/metrics`).then((r) => r.text());
  let n = 0;
  for (const line of text.split('\n'))
    if (
      line.startsWith('shop_http_request_duration_seconds_count{') &&
      line.includes('route="/graphql"') &&
      line.includes('method="POST"')
    )
      n += Number(line.split(' ').pop());
  return n;
}

/** Sum of the gateway's `shop_gateway_cache_requests_total` lines with `result="hit"`. */
export async function cacheHits(metricsPort: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
  let n = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('shop_gateway_cache_requests_total{') && line.includes('result="hit"'))
      n += Number(line.split(' ').pop());
  return n;
}

/** Established TCP connections whose local port is `port` (a server's accepted sockets), from /proc/net/tcp{,6}. */
export function establishedOn(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(f)) continue;
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && cols[1].endsWith(`:${hex}`) && cols[3] === '01') n++;
    }
  }
  return n;
}

export const TIMER = `subscription($id: ID!) { cartTimer(cartId: $id) { status secondsRemaining cart { items { quantity product { name } } } } }`;

export interface Countdown {
  cartId: string;
  client: Client;
  events: { at: number; payload: any }[];
  ended?: 'complete' | 'error';
  reconnects: number;
  /** Largest time between two events since `from` (ms). */
  maxGap(from?: number): number;
  errors(): any[];
  stop(): Promise<void>;
}

/**
 * A `cartTimer` subscription through `url` by a client that reconnects at once (every 100 ms) when its socket
 * closes, as the storefront does, and re-subscribes; `reconnects` counts those.
 */
export function countdown(url: string, cartId: string): Countdown {
  const c: Countdown = {
    cartId,
    events: [],
    reconnects: 0,
    client: createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      retryWait: () => sleep(100),
      on: { connected: (_s, _p, wasRetry) => void (wasRetry && c.reconnects++) },
    }),
    maxGap(from = 0) {
      const at = c.events.filter((e) => e.at >= from).map((e) => e.at);
      let gap = 0;
      for (let i = 1; i < at.length; i++) gap = Math.max(gap, at[i] - at[i - 1]);
      return gap;
    },
    errors: () => c.events.filter((e) => e.payload.errors).map((e) => e.payload.errors),
    async stop() {
      unsubscribe();
      await c.client.dispose();
    },
  };
  const unsubscribe = c.client.subscribe(
    { query: TIMER, variables: { id: cartId } },
    {
      next: (payload) => c.events.push({ at: Date.now(), payload }),
      error: () => (c.ended = 'error'),
      complete: () => (c.ended = 'complete'),
    },
  );
  return c;
}
