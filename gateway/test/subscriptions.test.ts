import { createClient, Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import userSubgraph from '../../subgraphs/user/src';
import { signedInUser } from '../../subgraphs/user/test/helpers';
import { tickerState, tickerSubgraph } from './fixtures/ticker';

let stack: Stack;
let wsUrl: string;
const clients: Client[] = [];
beforeAll(async () => {
  stack = await startStack({ subgraphs: [userSubgraph, tickerSubgraph], gateway: startGateway });
  wsUrl = stack.gatewayUrl.replace(/^http/, 'ws');
});
afterAll(async () => {
  for (const c of clients) await c.dispose();
  await stack?.stop();
});

function client(token?: string): Client {
  const c = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
  clients.push(c);
  return c;
}

async function take(c: Client, query: string, variables: Record<string, unknown>, n: number): Promise<any[]> {
  const out: any[] = [];
  const it = c.iterate({ query, variables });
  try {
    for await (const r of it) {
      out.push(r);
      if (out.length >= n) break;
    }
  } catch (err) {
    out.push({ thrown: err });
  }
  return out;
}

async function until(pred: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const TICKER = `subscription Tick($u: ID!, $c: Int!) { ticker(userId: $u, count: $c) { n user { id email } } }`;

test('events carry fields from another subgraph, resolved through the normal query plan', async () => {
  const s = await signedInUser(stack);
  const events = await take(client(s.accessToken), TICKER, { u: s.id, c: 3 }, 3);
  expect(events.map((e) => e.errors)).toEqual([undefined, undefined, undefined]);
  expect(events.map((e) => e.data.ticker)).toEqual([1, 2, 3].map((n) => ({ n, user: { id: s.id, email: s.email } })));
});

test('fragments, aliases and variables work', async () => {
  const s = await signedInUser(stack);
  const q = `subscription($u: ID!) { t: ticker(userId: $u, count: 2) { ...F } } fragment F on TickEvent { n who: user { email } }`;
  const events = await take(client(s.accessToken), q, { u: s.id }, 2);
  expect(events.map((e) => e.data)).toEqual([
    { t: { n: 1, who: { email: s.email } } },
    { t: { n: 2, who: { email: s.email } } },
  ]);
});

test('the owning subgraph refuses another user: the error reaches the client with its code', async () => {
  const a = await signedInUser(stack);
  const b = await signedInUser(stack);
  const events = await take(client(a.accessToken), TICKER, { u: b.id, c: 2 }, 1);
  const errors = events[0].errors ?? events[0].thrown;
  expect(JSON.stringify(errors)).toContain('FORBIDDEN');
});

test('a bad access token is refused at connection time', async () => {
  const events = await take(client('not-a-token'), TICKER, { u: 'x', c: 1 }, 1);
  expect(events[0].thrown).toBeDefined();
  expect((events[0].thrown as { code?: number }).code).toBe(4403);
});

test('an invalid operation gets validation errors, not a crash', async () => {
  const s = await signedInUser(stack);
  const events = await take(client(s.accessToken), `subscription { ticker(userId: 1) { nope } }`, {}, 1);
  expect(JSON.stringify(events[0])).toMatch(/nope|count/);
});

test('a disconnect closes the upstream subscription (no leak)', async () => {
  const s = await signedInUser(stack);
  const c = client(s.accessToken);
  const before = tickerState.open;
  const it = c.iterate({ query: TICKER, variables: { u: s.id, c: 0 } });
  await it.next();
  await it.next();
  expect(tickerState.open).toBe(before + 1);
  await c.dispose(); // the socket goes away without a complete message
  await until(() => tickerState.open === before);
});

test('queries and mutations also work over the socket', async () => {
  const s = await signedInUser(stack);
  const [r] = await take(client(s.accessToken), `{ me { id email } }`, {}, 1);
  expect(r.data).toEqual({ me: { id: s.id, email: s.email } });
});

test('an operation its subgraph answers alone is shaped like a query: aliases, __typename, @skip, fragments', async () => {
  const s = await signedInUser(stack);
  const q =
    `subscription($u: ID!, $skip: Boolean!) { a: ticker(userId: $u, count: 2) { __typename num: n n @skip(if: $skip) ...F } } ` +
    `fragment F on TickEvent { again: n }`;
  const skipped = await take(client(s.accessToken), q, { u: s.id, skip: true }, 2);
  expect(skipped.map((e) => JSON.stringify(e.data))).toEqual([
    '{"a":{"__typename":"TickEvent","num":1,"again":1}}',
    '{"a":{"__typename":"TickEvent","num":2,"again":2}}',
  ]);
  const kept = await take(client(s.accessToken), q, { u: s.id, skip: false }, 1);
  expect(JSON.stringify(kept[0].data)).toBe('{"a":{"__typename":"TickEvent","num":1,"n":1,"again":1}}');
});
