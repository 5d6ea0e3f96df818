import { composeModules, parseTrustProxy, StartedGateway, StartedService } from '@shop/kernel';
import { createTestEnv, graphql, TestEnv } from '@shop/kernel/testing';
import { startGateway } from '../src';
import { tickerSubgraph } from './fixtures/ticker';
import { rawSocket, RawSocket, UpgradeRefused } from './fixtures/ws';

/**
 * The client address, HTTP and WebSocket alike, follows TRUST_PROXY as Express documents it
 * (https://expressjs.com/en/guide/behind-proxies.html). What is observed is the budget a request spends: with two
 * anonymous requests per address, a third from the same client is refused (429), one from another client is not.
 * IPv6 clients share a budget per /64. Every request comes from 127.0.0.1; X-Forwarded-For plays the proxies.
 */
let env: TestEnv;
let ticker: StartedService;
let supergraphSdl: string;
const gateways: StartedGateway[] = [];
const sockets: RawSocket[] = [];

beforeAll(async () => {
  env = await createTestEnv({
    RATE_LIMIT_PER_IP: '2',
    RATE_LIMIT_WINDOW_SECONDS: '60',
    WS_MAX_CONNECTIONS_PER_IP: '1',
  });
  ticker = await tickerSubgraph.start({ config: env.config, keys: env.keys, logger: env.logger, port: 0 });
  ({ supergraphSdl } = await composeModules([tickerSubgraph], { ticker: ticker.url }));
});
afterAll(async () => {
  for (const s of sockets) s.close();
  for (const g of gateways) await g.stop();
  await ticker?.stop();
  await env?.cleanup();
});

/** A gateway with TRUST_PROXY=`value`, through the configuration's own parsing. */
async function gatewayTrusting(value: string): Promise<StartedGateway> {
  const { value: trustProxy, problem } = parseTrustProxy(value);
  expect(problem).toBeUndefined();
  const config = { ...env.config, edge: { ...env.config.edge, trustProxy } };
  const gw = await startGateway({
    config,
    keys: env.keys,
    logger: env.logger,
    port: 0,
    supergraphSdl,
    subgraphUrls: { ticker: ticker.url },
  });
  gateways.push(gw);
  return gw;
}

/** HTTP status of an anonymous request forwarded for `xff`. */
async function status(gw: StartedGateway, xff?: string): Promise<number> {
  const r = await graphql(gw.url, '{ __typename }', {}, { headers: xff ? { 'x-forwarded-for': xff } : {} });
  return r.status;
}

/** Spends the budget of the client `xff` resolves to (2 requests), then checks the third is refused. */
async function exhaust(gw: StartedGateway, xff: string): Promise<void> {
  expect([await status(gw, xff), await status(gw, xff), await status(gw, xff)]).toEqual([200, 200, 429]);
}

test('TRUST_PROXY=1: one hop is trusted — the client is the right-most X-Forwarded-For entry, whatever comes before it', async () => {
  const gw = await gatewayTrusting('1');
  await exhaust(gw, '198.51.100.1, 203.0.113.1');
  expect(await status(gw, '198.51.100.2, 203.0.113.1')).toBe(429); // a forged left part does not buy a fresh budget
  expect(await status(gw, '198.51.100.1, 203.0.113.2')).toBe(200); // another client behind the proxy
});

test('TRUST_PROXY=true starts, and trusts every hop: the client is the left-most entry', async () => {
  const gw = await gatewayTrusting('true');
  await exhaust(gw, '198.51.100.11, 203.0.113.11');
  expect(await status(gw, '198.51.100.11, 203.0.113.12')).toBe(429);
  expect(await status(gw, '198.51.100.12, 203.0.113.11')).toBe(200);
});

test('TRUST_PROXY as a list: only those proxies are skipped', async () => {
  const gw = await gatewayTrusting('loopback, 203.0.113.0/24');
  await exhaust(gw, '198.51.100.21, 203.0.113.21');
  expect(await status(gw, '198.51.100.21, 203.0.113.22')).toBe(429); // both hops are trusted proxies
  // 192.0.2.5 is not a trusted proxy: it is the client, whatever it claims came before it.
  await exhaust(gw, '198.51.100.22, 192.0.2.5');
  expect(await status(gw, '198.51.100.23, 192.0.2.5')).toBe(429);
});

test('unset: X-Forwarded-For is ignored (every request here is the socket peer 127.0.0.1)', async () => {
  const gw = await gatewayTrusting('');
  expect([
    await status(gw, '198.51.100.31'),
    await status(gw, '198.51.100.32'),
    await status(gw, '198.51.100.33'),
  ]).toEqual([200, 200, 429]);
});

test('IPv6 clients share a budget per /64', async () => {
  const gw = await gatewayTrusting('loopback');
  expect(await status(gw, '2001:db8:5:6::1')).toBe(200);
  expect(await status(gw, '2001:db8:5:6:ffff::2')).toBe(200);
  expect(await status(gw, '2001:db8:5:6::3')).toBe(429);
  expect(await status(gw, '2001:db8:5:7::1')).toBe(200); // the next /64
});

test('the WebSocket upgrade uses the same rules (TRUST_PROXY=1, one connection per client address)', async () => {
  const gw = await gatewayTrusting('1');
  const open = async (xff: string) => {
    const s = await rawSocket(gw.url, { headers: { 'x-forwarded-for': xff } });
    sockets.push(s);
    return s.acked;
  };
  const refusedStatus = async (xff: string) =>
    open(xff).then(
      () => 0,
      (err) => (err instanceof UpgradeRefused ? err.status : -1),
    );
  expect(await open('198.51.100.41, 203.0.113.41')).toBe(true);
  expect(await refusedStatus('198.51.100.42, 203.0.113.41')).toBe(429); // same client, forged left part
  expect(await open('198.51.100.41, 203.0.113.42')).toBe(true); // another client
});
