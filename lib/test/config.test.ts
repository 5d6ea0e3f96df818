import { ConfigError, CONFIG_VARIABLES, loadConfig, readVariable } from '../src/config';

test('defaults follow CONTRACT.md', () => {
  const c = loadConfig({});
  expect(c).toMatchObject({
    gatewayPort: 4000,
    cartHoldSeconds: 600,
    cartTimerTickSeconds: 1,
    dealsTtlSeconds: 86400,
    dealsCount: 10,
    dealsDiscountPercent: 20,
    dbPrefix: 'shop',
  });
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
    limits: {
      maxDepth: 10,
      maxAliases: 15,
      maxRootFields: 10,
      maxDirectives: 20,
      maxTokens: 2000,
      maxQueryBytes: 16384,
      maxCost: 20000,
    },
    rateLimit: {
      perIp: 600,
      perUser: 1200,
      windowSeconds: 60,
      authPerIp: 20,
      authWindowSeconds: 300,
      mediaPerIp: 3000,
    },
    safelist: false,
    safelistFile: undefined,
    trustProxy: false,
    websocket: {
      maxConnectionsPerIp: 50,
      maxSubscriptionsPerConnection: 20,
      connectRatePerIp: 60,
      connectWindowSeconds: 60,
    },
  });
  const c = loadConfig({
    GRAPHQL_MAX_DEPTH: '0',
    RATE_LIMIT_PER_IP: '0',
    SAFELIST: 'on',
    SAFELIST_FILE: '/srv/pq.json',
  });
  expect([c.edge.limits.maxDepth, c.edge.rateLimit.perIp, c.edge.safelist, c.edge.safelistFile]).toEqual([
    0,
    0,
    true,
    '/srv/pq.json',
  ]);
  let message = '';
  try {
    loadConfig({ SAFELIST: 'yes', GRAPHQL_MAX_COST: '-1', RATE_LIMIT_WINDOW_SECONDS: '0' });
  } catch (e) {
    message = (e as Error).message;
  }
  for (const p of [
    'SAFELIST must be true, false, 1, 0, on or off (got "yes")',
    'GRAPHQL_MAX_COST must be an integer',
    'RATE_LIMIT_WINDOW_SECONDS must be an integer between 1',
  ]) {
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
  for (const p of [
    'SUBGRAPH_TIMEOUT_MS must be an integer between 100 and 300000',
    'RATE_LIMIT_MEDIA_PER_IP must be an integer',
  ])
    expect(message).toContain(p);
});

test('TRUST_PROXY means what Express documents: true, a hop count, or addresses/subnets/names; anything else is named', () => {
  const trust = (v?: string) => loadConfig(v === undefined ? {} : { TRUST_PROXY: v }).edge.trustProxy;
  expect(trust()).toBe(false);
  expect(trust('false')).toBe(false);
  expect(trust('true')).toBe(true);
  expect(trust('1')).toBe(1); // one hop, not the address 0.0.0.1
  expect(trust('2')).toBe(2);
  expect(trust('loopback, 10.0.0.0/8 ,fd00::/8,192.168.1.1/255.255.255.0,uniquelocal')).toEqual([
    'loopback',
    '10.0.0.0/8',
    'fd00::/8',
    '192.168.1.1/255.255.255.0',
    'uniquelocal',
  ]);
  for (const bad of ['yes', '10.0.0.0/8/8', '300.1.1.1', 'loopback,nonsense']) {
    expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(
      `TRUST_PROXY must be true, false, a hop count or a comma-separated list`,
    );
  }
});

/** A PEM-shaped key (the configuration checks the armor; the key itself is read when tokens are signed or verified). */
const PEM = '-----BEGIN PUBLIC KEY-----\\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\\n-----END PUBLIC KEY-----';

describe('production refuses its development defaults', () => {
  // What a production deployment has anyway (keys); each test leaves out one more thing.
  const keys = { NODE_ENV: 'production', JWT_PUBLIC_KEY: PEM, INTERNAL_JWT_PUBLIC_KEY: PEM };
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
    expect(
      problems({ ...env, PAYMENT_PROVIDER: 'simulated', ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'false' }),
    ).toMatch(/ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true/);
  });

  test('both at once: one error naming both variables', () => {
    const msg = problems(keys);
    expect(msg).toContain('SMTP_HOST');
    expect(msg).toContain('ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION');
  });

  test('with a real mail server and the simulation allowed explicitly → starts', () => {
    const c = loadConfig(safe);
    expect(c.isProduction).toBe(true);
    expect(c.payments).toEqual({
      provider: 'simulated',
      allowSimulatedInProduction: true,
      actionTimeoutSeconds: 3600,
      stripe: { secretKey: undefined, webhookSecret: undefined, apiBase: undefined },
    });
    expect(c.smtp.host).toBe('smtp.example.net');
  });

  test('development and test keep their defaults: the simulation, the development mailbox', () => {
    for (const NODE_ENV of ['development', 'test']) {
      const c = loadConfig({ NODE_ENV });
      expect(c.payments).toEqual({
        provider: 'simulated',
        allowSimulatedInProduction: false,
        actionTimeoutSeconds: 3600,
        stripe: { secretKey: undefined, webhookSecret: undefined, apiBase: undefined },
      });
      expect(c.smtp.host).toBeUndefined();
    }
  });

  test('ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION is an on/off variable; PAYMENT_PROVIDER only names an available provider', () => {
    for (const v of ['yes', 'y', 'enabled']) {
      expect(problems({ ...safe, ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: v })).toContain(
        `ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION must be true, false, 1, 0, on or off (got "${v}")`,
      );
    }
    // The one boolean syntax of every on/off variable (it used to take only true/false).
    for (const v of ['1', 'TRUE', 'on'])
      expect(problems({ ...safe, ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: v })).toBe('started');
    // Stripe's key and webhook secret are the order subgraph's (only it has them): it checks they are there.
    expect(problems({ ...safe, PAYMENT_PROVIDER: 'stripe' })).toBe('started');
    expect(problems({ PAYMENT_PROVIDER: 'paypal' })).toContain(
      'PAYMENT_PROVIDER must be one of simulated, stripe (got "paypal")',
    );
  });

  test('the Stripe variables: a key, a webhook secret and an API base of the right form, or refused', () => {
    const stripe = {
      ...safe,
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_SECRET_KEY: 'sk_live_abc123',
      STRIPE_WEBHOOK_SECRET: 'whsec_abc123',
    };
    expect(loadConfig(stripe).payments.stripe).toEqual({
      secretKey: 'sk_live_abc123',
      webhookSecret: 'whsec_abc123',
      apiBase: undefined,
    });
    expect(problems({ ...stripe, STRIPE_SECRET_KEY: 'pk_live_abc123' })).toContain(
      'STRIPE_SECRET_KEY must be a Stripe secret or restricted key',
    );
    expect(problems({ ...stripe, STRIPE_WEBHOOK_SECRET: 'CHANGE-ME' })).toContain(
      'STRIPE_WEBHOOK_SECRET must be a Stripe webhook signing secret',
    );
    expect(problems({ ...stripe, STRIPE_API_BASE: 'ftp://x' })).toContain(
      'STRIPE_API_BASE must be a http: or https: URL',
    );
  });
});

/** The problems loadConfig reports for `env` (empty when it loads). */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
}

describe('every variable type: a valid value, an invalid one named in the error, the default', () => {
  test('integer with a range (GATEWAY_PORT 0–65535, CART_HOLD_SECONDS ≥ 1)', () => {
    expect(loadConfig({ GATEWAY_PORT: '8080' }).gatewayPort).toBe(8080);
    expect(loadConfig({ GATEWAY_PORT: '' }).gatewayPort).toBe(4000);
    expect(loadConfig({}).gatewayPort).toBe(4000);
    for (const bad of ['65536', '-1', '4.5', 'eighty']) {
      expect(problemsOf({ GATEWAY_PORT: bad })).toEqual([
        `GATEWAY_PORT must be an integer between 0 and 65535 (got "${bad}")`,
      ]);
    }
    expect(problemsOf({ CART_HOLD_SECONDS: '0' })).toEqual([
      'CART_HOLD_SECONDS must be an integer between 1 and 9007199254740991 (got "0")',
    ]);
  });

  test('one variable per subgraph (<NAME>_PORT, <NAME>_SUBGRAPH_URL)', () => {
    const c = loadConfig({ CART_PORT: '5003', USER_SUBGRAPH_URL: 'http://user:4001/graphql' });
    expect(c.ports).toEqual({ user: 4001, product: 4002, cart: 5003, order: 4004, media: 4005, notification: 4006 });
    expect(c.subgraphUrls).toEqual({ user: 'http://user:4001/graphql' });
    expect(loadConfig({}).subgraphUrls).toEqual({});
    expect(problemsOf({ ORDER_PORT: '70000', MEDIA_SUBGRAPH_URL: 'ftp://media' })).toEqual([
      'ORDER_PORT must be an integer between 0 and 65535 (got "70000")',
      'MEDIA_SUBGRAPH_URL must be a http: or https: URL (got "ftp://media")',
    ]);
  });

  test('positive number (START_TIMEOUT_SECONDS)', () => {
    expect(loadConfig({ START_TIMEOUT_SECONDS: '2.5' }).startTimeoutSeconds).toBe(2.5);
    expect(loadConfig({}).startTimeoutSeconds).toBe(60);
    for (const bad of ['0', '-3', 'soon']) {
      expect(problemsOf({ START_TIMEOUT_SECONDS: bad })).toEqual([
        `START_TIMEOUT_SECONDS must be a positive number (got "${bad}")`,
      ]);
    }
  });

  test('URL with its protocols (REDIS_URL, POSTGRES_URL, PUBLIC_URL, MONGO_URL)', () => {
    expect(loadConfig({ REDIS_URL: 'rediss://cache.internal:6380' }).redisUrl).toBe('rediss://cache.internal:6380');
    expect(loadConfig({}).redisUrl).toBe('redis://127.0.0.1:6379');
    for (const bad of ['http://cache:6379', 'cache:6379', 'not a url']) {
      expect(problemsOf({ REDIS_URL: bad })).toEqual([`REDIS_URL must be a redis: or rediss: URL (got "${bad}")`]);
    }
    expect(loadConfig({ POSTGRES_URL: 'postgresql://db/acme' })).toMatchObject({
      postgresUrl: 'postgresql://db/acme',
      dbPrefix: 'acme',
    });
    expect(problemsOf({ POSTGRES_URL: 'postgres://db/Acme-Shop' })).toEqual([
      'POSTGRES_URL database name must match [a-z_][a-z0-9_]* (got "Acme-Shop")',
    ]);
    expect(loadConfig({ PUBLIC_URL: 'https://shop.example/' }).publicUrl).toBe('https://shop.example');
    expect(loadConfig({ GATEWAY_PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ MONGO_URL: 'mongodb+srv://cluster0.example/' }).mongoUrl).toBe(
      'mongodb+srv://cluster0.example/',
    );
    expect(loadConfig({}).mongoUrl).toBeUndefined();
    expect(problemsOf({ MONGO_URL: 'postgres://db' })).toEqual([
      'MONGO_URL must be a mongodb: or mongodb+srv: URL (got "postgres://db")',
    ]);
  });

  // One syntax for every on/off variable: these used to take 1/0 (GATEWAY_*), on/off (SAFELIST) or true/false, and
  // SMTP_SECURE read anything but "true" as false.
  const switches: [string, (c: ReturnType<typeof loadConfig>) => boolean, boolean][] = [
    ['GATEWAY_DEDUPE', (c) => c.perf.dedupe, true],
    ['GATEWAY_RESPONSE_CACHE', (c) => c.perf.responseCache, false],
    ['GATEWAY_ENTITY_CACHE', (c) => c.perf.entityCache, false],
    ['SAFELIST', (c) => c.edge.safelist, false],
    ['SMTP_SECURE', (c) => c.smtp.secure, false],
    ['ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION', (c) => c.payments.allowSimulatedInProduction, false],
  ];
  test.each(switches)(
    'boolean syntax: %s takes true/false, 1/0, on/off in any case, refuses anything else',
    (name, read, fallback) => {
      for (const on of ['true', '1', 'on', 'TRUE', 'On']) expect(read(loadConfig({ [name]: on }))).toBe(true);
      for (const off of ['false', '0', 'off', 'FALSE', 'Off']) expect(read(loadConfig({ [name]: off }))).toBe(false);
      expect(read(loadConfig({}))).toBe(fallback);
      for (const bad of ['yes', 'no', '2', 'enabled', 'tru']) {
        expect(problemsOf({ [name]: bad })).toEqual([`${name} must be true, false, 1, 0, on or off (got "${bad}")`]);
      }
    },
  );

  test('the catalog caches default to on in production only', () => {
    const production = {
      NODE_ENV: 'production',
      JWT_PUBLIC_KEY: PEM,
      INTERNAL_JWT_PUBLIC_KEY: PEM,
      SMTP_HOST: 'smtp.example.net',
      ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'on',
    };
    expect(loadConfig(production).perf).toMatchObject({ responseCache: true, entityCache: true });
    expect(loadConfig({ ...production, GATEWAY_RESPONSE_CACHE: '0', GATEWAY_ENTITY_CACHE: 'off' }).perf).toMatchObject({
      responseCache: false,
      entityCache: false,
    });
    expect(loadConfig({}).perf).toEqual({
      subgraphFetch: 'undici',
      dedupe: true,
      responseCache: false,
      responseCacheTtlSeconds: 10,
      entityCache: false,
      entityCacheMaxEntries: 20000,
      operationReuse: true,
      workers: 1,
    });
    expect(problemsOf({ GATEWAY_WORKERS: '65', GATEWAY_ENTITY_CACHE_MAX_ENTRIES: '99' })).toEqual([
      'GATEWAY_ENTITY_CACHE_MAX_ENTRIES must be an integer between 100 and 10000000 (got "99")',
      'GATEWAY_WORKERS must be an integer between 0 and 64 (got "65")',
    ]);
  });

  test('enumeration (NODE_ENV, GATEWAY_SUBGRAPH_FETCH, LOG_LEVEL)', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).nodeEnv).toBe('test');
    expect(loadConfig({}).nodeEnv).toBe('development');
    expect(problemsOf({ NODE_ENV: 'staging' })).toEqual([
      'NODE_ENV must be one of development, production, test (got "staging")',
    ]);
    expect(loadConfig({ GATEWAY_SUBGRAPH_FETCH: 'apollo' }).perf.subgraphFetch).toBe('apollo');
    expect(problemsOf({ GATEWAY_SUBGRAPH_FETCH: 'curl' })).toEqual([
      'GATEWAY_SUBGRAPH_FETCH must be one of undici, apollo (got "curl")',
    ]);
    expect(loadConfig({ LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect([loadConfig({}).logLevel, loadConfig({ NODE_ENV: 'test' }).logLevel]).toEqual(['info', 'warn']);
    expect(problemsOf({ LOG_LEVEL: 'verbose' })).toEqual([
      'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent (got "verbose")',
    ]);
  });

  test('string (REDIS_PREFIX, SUPERGRAPH_FILE, MEDIA_SIGNING_SECRET): any text, empty is unset', () => {
    expect(loadConfig({ REDIS_PREFIX: 'acme:' }).redisPrefix).toBe('acme:');
    expect(loadConfig({ REDIS_PREFIX: '' }).redisPrefix).toBe('shop:');
    expect(loadConfig({ SUPERGRAPH_FILE: '/srv/supergraph.graphql' }).supergraphFile).toBe('/srv/supergraph.graphql');
    expect(loadConfig({}).supergraphFile).toBeUndefined();
    expect(loadConfig({ MEDIA_SIGNING_SECRET: 'x'.repeat(40) }).mediaSigningSecret).toBe('x'.repeat(40));
    expect(loadConfig({}).mediaSigningSecret).toBeUndefined();
  });

  test('PEM key (JWT_*): \\n escapes become newlines; no armor is refused, naming the variable; unset by default', () => {
    expect(loadConfig({ JWT_PUBLIC_KEY: PEM }).jwt.publicKey).toBe(PEM.replace(/\\n/g, '\n'));
    expect(loadConfig({}).jwt).toEqual({
      privateKey: undefined,
      publicKey: undefined,
      internalPrivateKey: undefined,
      internalPublicKey: undefined,
    });
    const [problem] = problemsOf({ INTERNAL_JWT_PRIVATE_KEY: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE' });
    expect(problem).toMatch(
      /^INTERNAL_JWT_PRIVATE_KEY must be a PEM key .*\(got "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"\)$/,
    );
    // A present but broken key is reported as broken, not also as missing.
    expect(
      problemsOf({
        NODE_ENV: 'production',
        JWT_PUBLIC_KEY: 'k',
        INTERNAL_JWT_PUBLIC_KEY: PEM,
        SMTP_HOST: 'smtp',
        ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'true',
      }),
    ).toEqual([expect.stringMatching(/^JWT_PUBLIC_KEY must be a PEM key/)]);
  });

  test('list (TRUST_PROXY addresses): comma-separated entries, each checked, at least one', () => {
    expect(loadConfig({ TRUST_PROXY: '10.0.0.1,  ::1 ,' }).edge.trustProxy).toEqual(['10.0.0.1', '::1']);
    for (const bad of [',', ' , ,', '10.0.0.1,bogus']) {
      expect(problemsOf({ TRUST_PROXY: bad })).toEqual([
        expect.stringMatching(/^TRUST_PROXY must be true, false, a hop count or a comma-separated list/),
      ]);
    }
  });

  test('cross-variable rules are kept, listed with the other problems', () => {
    expect(
      problemsOf({
        CART_MAX_UNITS_GUEST: '30',
        CART_MAX_UNITS_PER_ADDRESS: '20',
        CART_HOLD_MAX_SECONDS: '600',
        CART_HOLD_MAX_SECONDS_USER: '300',
        DEALS_COUNT: '0',
      }),
    ).toEqual([
      'DEALS_COUNT must be an integer between 1 and 100 (got "0")',
      "CART_MAX_UNITS_PER_ADDRESS must be at least CART_MAX_UNITS_GUEST (one guest cart must fit an address's budget)",
      'CART_HOLD_MAX_SECONDS_USER must be at least CART_HOLD_MAX_SECONDS (a merged guest cart keeps its lifetime)',
    ]);
  });

  test('readVariable: one declared variable alone, its default, or a ConfigError naming it', () => {
    expect(readVariable('SCHEMA_BASE_REF', { SCHEMA_BASE_REF: 'origin/main' })).toBe('origin/main');
    expect(readVariable('SCHEMA_BASE_REF', {})).toBeUndefined();
    expect(readVariable('GATEWAY_WORKERS', { GATEWAY_WORKERS: '4' })).toBe(4);
    expect(() => readVariable('GATEWAY_WORKERS', { GATEWAY_WORKERS: 'many' })).toThrow(
      'GATEWAY_WORKERS must be an integer between 0 and 64 (got "many")',
    );
  });

  test('every declared variable loads its own default', () => {
    for (const [name, v] of Object.entries(CONFIG_VARIABLES)) {
      expect([name, v.schema.safeParse(undefined).success]).toEqual([name, true]);
    }
  });
});

test('CORS_ORIGINS: development allows the storefront dev server and the gateway itself, production nothing; origins only', () => {
  expect(loadConfig({}).browser.corsOrigins).toEqual(['http://localhost:5173', 'http://localhost:4000']);
  expect(loadConfig({ PUBLIC_URL: 'https://shop.example/app', GATEWAY_PORT: '8080' }).browser.corsOrigins).toEqual([
    'http://localhost:5173',
    'https://shop.example',
    'http://localhost:8080',
  ]);
  const production = {
    NODE_ENV: 'production',
    JWT_PUBLIC_KEY: PEM,
    INTERNAL_JWT_PUBLIC_KEY: PEM,
    SMTP_HOST: 'smtp.example.net',
    ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'on',
    MEDIA_SIGNING_SECRET: 'a'.repeat(40),
  };
  expect(loadConfig(production).browser.corsOrigins).toEqual([]);
  expect(
    loadConfig({ ...production, CORS_ORIGINS: 'https://Shop.Example, http://localhost:5173/' }).browser.corsOrigins,
  ).toEqual(['https://shop.example', 'http://localhost:5173']);
  for (const bad of ['https://shop.example/path', 'shop.example', 'ftp://shop.example', '*']) {
    expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(
      'CORS_ORIGINS must be a comma-separated list of origins (scheme://host[:port], no path)',
    );
  }
});
