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

describe('production refuses its development defaults', () => {
  // What a production deployment has anyway (keys); each test leaves out one more thing.
  const keys = { NODE_ENV: 'production', JWT_PUBLIC_KEY: 'k', INTERNAL_JWT_PUBLIC_KEY: 'k' };
  const safe = { ...keys, SMTP_HOST: 'smtp.example.net', ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'true' };
  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
      return 'started';
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
  };

  test('the development mailbox (SMTP_HOST unset) → refused, naming SMTP_HOST', () => {
    const { SMTP_HOST: _, ...env } = safe;
    expect(problems(env)).toMatch(/SMTP_HOST is required when NODE_ENV=production/);
  });

  test('the simulated payment provider → refused unless ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true', () => {
    const { ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: _, ...env } = safe;
    expect(problems(env)).toMatch(/PAYMENT_PROVIDER=simulated .*ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true/);
    expect(problems({ ...env, PAYMENT_PROVIDER: 'simulated', ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'false' })).toMatch(/ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true/);
  });

  test('both at once: one error naming both variables', () => {
    const msg = problems(keys);
    expect(msg).toContain('SMTP_HOST');
    expect(msg).toContain('ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION');
  });

  test('with a real mail server and the simulation allowed explicitly → starts', () => {
    const c = loadConfig(safe);
    expect(c.isProduction).toBe(true);
    expect(c.payments).toEqual({ provider: 'simulated', allowSimulatedInProduction: true });
    expect(c.smtp.host).toBe('smtp.example.net');
  });

  test('development and test keep their defaults: the simulation, the development mailbox', () => {
    for (const NODE_ENV of ['development', 'test']) {
      const c = loadConfig({ NODE_ENV });
      expect(c.payments).toEqual({ provider: 'simulated', allowSimulatedInProduction: false });
      expect(c.smtp.host).toBeUndefined();
    }
  });

  test('ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION is true or false; PAYMENT_PROVIDER only names an available provider', () => {
    for (const v of ['yes', '1', 'TRUE', 'on']) {
      expect(problems({ ...safe, ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: v })).toContain(`ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION must be "true" or "false" (got "${v}")`);
    }
    expect(problems({ ...safe, PAYMENT_PROVIDER: 'stripe' })).toContain('PAYMENT_PROVIDER=stripe is not available yet');
    expect(problems({ PAYMENT_PROVIDER: 'paypal' })).toContain('PAYMENT_PROVIDER must be one of simulated (got "paypal")');
  });
});
