import { ConfigError, loadConfig } from '../src/config';

test('defaults follow CONTRACT.md', () => {
  const c = loadConfig({});
  expect(c).toMatchObject({ gatewayPort: 4000, cartHoldSeconds: 600, cartTimerTickSeconds: 1, dealsTtlSeconds: 86400, dealsCount: 10, dealsDiscountPercent: 20, dbPrefix: 'shop' });
  expect(c.ports).toEqual({ user: 4001, product: 4002, cart: 4003, order: 4004, media: 4005, notification: 4006 });
});

test('every bad variable is named in one error', () => {
  let err: unknown;
  try {
    loadConfig({ GATEWAY_PORT: 'eighty', POSTGRES_URL: 'mysql://x', CART_HOLD_SECONDS: '-5', NODE_ENV: 'staging' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const msg = (err as Error).message;
  for (const name of ['GATEWAY_PORT', 'POSTGRES_URL', 'CART_HOLD_SECONDS', 'NODE_ENV']) expect(msg).toContain(name);
});

test('production refuses to start without real keys', () => {
  expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_PUBLIC_KEY is required when NODE_ENV=production/);
});

test('gateway edge settings: documented defaults, overridable, bad values named', () => {
  expect(loadConfig({}).edge).toEqual({
    limits: { maxDepth: 10, maxAliases: 15, maxRootFields: 10, maxDirectives: 20, maxTokens: 2000, maxQueryBytes: 16384, maxCost: 20000 },
    rateLimit: { perIp: 600, perUser: 1200, windowSeconds: 60, authPerIp: 20, authWindowSeconds: 300, mediaPerIp: 3000 },
    safelist: false,
    safelistFile: undefined,
    trustProxy: false,
    websocket: { maxConnectionsPerIp: 50, maxSubscriptionsPerConnection: 20, connectRatePerIp: 60, connectWindowSeconds: 60 },
  });
  const c = loadConfig({ GRAPHQL_MAX_DEPTH: '0', RATE_LIMIT_PER_IP: '0', SAFELIST: 'on', SAFELIST_FILE: '/srv/pq.json' });
  expect([c.edge.limits.maxDepth, c.edge.rateLimit.perIp, c.edge.safelist, c.edge.safelistFile]).toEqual([0, 0, true, '/srv/pq.json']);
  let message = '';
  try {
    loadConfig({ SAFELIST: 'yes', GRAPHQL_MAX_COST: '-1', RATE_LIMIT_WINDOW_SECONDS: '0' });
  } catch (e) {
    message = (e as Error).message;
  }
  for (const p of ['SAFELIST must be "on" or "off" (got "yes")', 'GRAPHQL_MAX_COST must be an integer', 'RATE_LIMIT_WINDOW_SECONDS must be an integer between 1']) {
    expect(message).toContain(p);
  }
});

test('media budget and subgraph timeout: defaults, overridable, bad values named', () => {
  const d = loadConfig({});
  expect([d.edge.rateLimit.mediaPerIp, d.subgraphTimeoutMs]).toEqual([3000, 15000]);
  const c = loadConfig({ RATE_LIMIT_MEDIA_PER_IP: '0', SUBGRAPH_TIMEOUT_MS: '2500' });
  expect([c.edge.rateLimit.mediaPerIp, c.subgraphTimeoutMs]).toEqual([0, 2500]);
  let message = '';
  try {
    loadConfig({ SUBGRAPH_TIMEOUT_MS: '0', RATE_LIMIT_MEDIA_PER_IP: '-1' });
  } catch (e) {
    message = (e as Error).message;
  }
  for (const p of ['SUBGRAPH_TIMEOUT_MS must be an integer between 100 and 300000', 'RATE_LIMIT_MEDIA_PER_IP must be an integer']) expect(message).toContain(p);
});

test('TRUST_PROXY means what Express documents: true, a hop count, or addresses/subnets/names; anything else is named', () => {
  const trust = (v?: string) => loadConfig(v === undefined ? {} : { TRUST_PROXY: v }).edge.trustProxy;
  expect(trust()).toBe(false);
  expect(trust('false')).toBe(false);
  expect(trust('true')).toBe(true);
  expect(trust('1')).toBe(1); // one hop, not the address 0.0.0.1
  expect(trust('2')).toBe(2);
  expect(trust('loopback, 10.0.0.0/8 ,fd00::/8,192.168.1.1/255.255.255.0,uniquelocal')).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '192.168.1.1/255.255.255.0', 'uniquelocal']);
  for (const bad of ['yes', '10.0.0.0/8/8', '300.1.1.1', 'loopback,nonsense']) {
    expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(`TRUST_PROXY must be true, false, a hop count or a comma-separated list`);
  }
});
