import { signAccessToken } from '@shop/kernel';
import { tickerState, tickerSubgraph } from './fixtures/ticker';
import { EdgeStack, startEdgeStack } from './fixtures/edge-stack';
import { closeCode, rawSocket, RawSocket, UpgradeRefused, waitFor } from './fixtures/ws';

/**
 * WebSocket quotas: connections per client address (this instance), subscriptions per connection, and connection
 * attempts per address and window (Redis). The gateway trusts the loopback proxy (TRUST_PROXY=loopback), so each test
 * plays its own client addresses through X-Forwarded-For — the same address rules as HTTP.
 */
let stack: EdgeStack;
const sockets: RawSocket[] = [];
beforeAll(async () => {
  stack = await startEdgeStack({
    subgraphs: [tickerSubgraph],
    env: {
      TRUST_PROXY: 'loopback',
      WS_MAX_CONNECTIONS_PER_IP: '3',
      WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
      WS_CONNECT_RATE_PER_IP: '5',
      WS_CONNECT_WINDOW_SECONDS: '60',
    },
  });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await stack?.stop();
});

const TICKER = `subscription T($u: ID!) { ticker(userId: $u, count: 0) { n } }`;
const token = (sub: string) => signAccessToken(stack.env.keys, { sub, role: 'USER' });

async function open(from: string, sub = 'ws-user'): Promise<RawSocket> {
  const s = await rawSocket(stack.gatewayUrl, { token: token(sub), headers: { 'x-forwarded-for': from } });
  sockets.push(s);
  expect(s.acked).toBe(true);
  return s;
}

async function refused(from: string): Promise<UpgradeRefused> {
  try {
    const s = await rawSocket(stack.gatewayUrl, { token: token('ws-user'), headers: { 'x-forwarded-for': from } });
    sockets.push(s);
  } catch (err) {
    if (err instanceof UpgradeRefused) return err;
    throw err;
  }
  throw new Error(`the upgrade from ${from} was accepted`);
}

test('subscriptions per connection are capped (BAD_USER_INPUT, limit "subscriptions"); finishing one frees a slot', async () => {
  const s = await open('192.0.2.1');
  const started = tickerState.started;
  s.subscribe('1', TICKER, { u: 'ws-user' });
  s.subscribe('2', TICKER, { u: 'ws-user' });
  expect((await s.next('1')).type).toBe('next');
  expect((await s.next('2')).type).toBe('next');
  s.subscribe('3', TICKER, { u: 'ws-user' });
  const third = await waitFor(() => s.messages.some((m) => m.id === '3' && m.type === 'error')).then(() =>
    s.messages.find((m) => m.id === '3'),
  );
  expect(third.payload[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'subscriptions', max: 2 });
  expect(tickerState.started).toBe(started + 2); // the refused one never reached the subgraph
  expect(await closeCode(s, 100)).toBeUndefined(); // the socket and its two subscriptions live on

  s.ws.send(JSON.stringify({ id: '1', type: 'complete' }));
  await new Promise((r) => setTimeout(r, 100));
  s.subscribe('4', TICKER, { u: 'ws-user' });
  expect((await s.next('4')).type).toBe('next');
});

test('connections per client address are capped on this instance: HTTP 429 with a coded JSON body; other addresses are not affected', async () => {
  const three = [await open('192.0.2.10'), await open('192.0.2.10'), await open('192.0.2.10')];
  const r = await refused('192.0.2.10');
  expect(r.status).toBe(429);
  expect(JSON.parse(r.body).errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'connections', max: 3 });
  await open('192.0.2.11');
  three[0].close();
  await three[0].closed;
  await new Promise((r2) => setTimeout(r2, 100)); // the server sees the TCP close
  await open('192.0.2.10');
});

test('IPv6 clients count per /64', async () => {
  await open('2001:db8:7:1::1');
  await open('2001:db8:7:1::2');
  await open('2001:db8:7:1:abcd::3');
  expect((await refused('2001:db8:7:1::4')).status).toBe(429);
  await open('2001:db8:7:2::1'); // another /64
});

test('connection attempts per address are rate limited (a window in Redis): HTTP 429 with Retry-After', async () => {
  for (let i = 0; i < 5; i++) {
    const s = await open('192.0.2.20');
    s.close();
    await s.closed;
  }
  const r = await refused('192.0.2.20');
  expect(r.status).toBe(429);
  const retryAfter = Number(r.headers['retry-after']);
  expect(retryAfter > 0 && retryAfter <= 60).toBe(true);
  expect(JSON.parse(r.body).errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter });
  await open('192.0.2.21');
});
