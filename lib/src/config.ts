import ipaddr from 'ipaddr.js';

/**
 * Typed configuration read from the environment once at start. Every problem is collected and reported
 * in one error that names each variable, so a misconfigured deployment fails fast with a useful message.
 */
export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type ServiceName = 'user' | 'product' | 'cart' | 'order' | 'media' | 'notification';
export const SERVICE_NAMES: ServiceName[] = ['user', 'product', 'cart', 'order', 'media', 'notification'];
export const DEFAULT_PORTS: Record<ServiceName | 'gateway', number> = {
  gateway: 4000, user: 4001, product: 4002, cart: 4003, order: 4004, media: 4005, notification: 4006,
};

export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  isProduction: boolean;
  logLevel: string;
  publicUrl: string;
  gatewayPort: number;
  /** Port each subgraph listens on (`<NAME>_PORT`). */
  ports: Record<ServiceName, number>;
  /** Overrides of the supergraph's routing URLs (`<NAME>_SUBGRAPH_URL`), e.g. container host names. */
  subgraphUrls: Partial<Record<ServiceName, string>>;
  /** Server URL; the path names the database prefix: each subgraph uses `<prefix>_<service>`. */
  postgresUrl: string;
  dbPrefix: string;
  redisUrl: string;
  /** Every Redis key this deployment writes starts with it (tests use one per file). */
  redisPrefix: string;
  natsUrl: string;
  /** Prepended to NATS subjects and stream names (tests use one per file). */
  natsPrefix: string;
  mongoUrl?: string;
  smtp: { host?: string; port: number; from: string; secure: boolean; user?: string; pass?: string };
  /** Port of the built-in development mail catcher (used when SMTP_HOST is unset). */
  devMailPort: number;
  keysDir: string;
  jwt: { privateKey?: string; publicKey?: string; internalPrivateKey?: string; internalPublicKey?: string };
  admin: { email?: string; password?: string };
  rateLimit: { loginPerEmail: number; loginPerIp: number; windowSeconds: number; emailPerAddress: number };
  /** Secret-bearing NATS messages (email link tokens): the work-queue stream SECRETS drops an unconsumed one after this. */
  secretMessageMaxAgeSeconds: number;
  cartHoldSeconds: number;
  cartTimerTickSeconds: number;
  /** Anti-hoarding bounds of carts (README "Security", subgraphs/cart/README.md). */
  cartLimits: CartLimitsConfig;
  dealsTtlSeconds: number;
  dealsCount: number;
  dealsDiscountPercent: number;
  mediaDir: string;
  email: { maxAttempts: number; retryBaseMs: number; pollMs: number };
  /** Gateway edge protection: document limits, rate limits, safelist (README "Security"). */
  edge: EdgeConfig;
  /** Longest wait for one subgraph request from the gateway (headers and body); then SERVICE_UNAVAILABLE naming it. */
  subgraphTimeoutMs: number;
  /** Payment provider of the order subgraph; production refuses the simulation unless explicitly allowed. */
  payments: PaymentsConfig;
}

export interface CartLimitsConfig {
  /** Units one guest cart may hold at once (CART_MAX_UNITS_GUEST). */
  maxUnitsGuest: number;
  /** Units one signed-in user's cart may hold at once (CART_MAX_UNITS_USER). */
  maxUnitsUser: number;
  /** Units all guest carts charged to one client address (IPv4, or IPv6 /64) may hold at once (CART_MAX_UNITS_PER_ADDRESS). */
  maxUnitsPerAddress: number;
  /** Absolute lifetime of a guest cart's holds, from its first hold since it was last empty (CART_HOLD_MAX_SECONDS). */
  holdMaxSecondsGuest: number;
  /** The same for a signed-in user's cart (CART_HOLD_MAX_SECONDS_USER); also the product store's ceiling for any hold. */
  holdMaxSecondsUser: number;
}

export const PAYMENT_PROVIDERS = ['simulated'] as const;
export type PaymentProviderName = (typeof PAYMENT_PROVIDERS)[number];
export interface PaymentsConfig {
  /** PAYMENT_PROVIDER: `simulated` (the default; no money moves) is the only one available so far. */
  provider: PaymentProviderName;
  /** ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true: a production deployment (a demo, the benchmarks) may run the simulation. */
  allowSimulatedInProduction: boolean;
}

export interface EdgeConfig {
  /** Document limits enforced before anything executes (0 turns one off). */
  limits: {
    maxDepth: number;
    maxAliases: number;
    maxRootFields: number;
    maxDirectives: number;
    maxTokens: number;
    /** Size of the query text in bytes (the request body itself is capped at 1 MB). */
    maxQueryBytes: number;
    /** graphql-armor cost: 2 per object field, 1 per scalar, growing 1.5× per level. */
    maxCost: number;
  };
  /** Requests per window; 0 turns a limit off. Anonymous callers count per IP, signed-in ones per user. */
  rateLimit: {
    perIp: number; perUser: number; windowSeconds: number; authPerIp: number; authWindowSeconds: number;
    /** Requests to `/media` (images, uploads) per client address (IPv6 per /64) per window, a budget of its own. */
    mediaPerIp: number;
  };
  /** SAFELIST=on: only operations of the persisted-query manifest run. */
  safelist: boolean;
  /** Persisted-query manifest for the safelist (default: schema/persisted-queries.json next to the build). */
  safelistFile?: string;
  /**
   * TRUST_PROXY, with Express's "trust proxy" meaning: `true` trusts every proxy (the client is the left-most
   * X-Forwarded-For entry), a number trusts that many hops in front of the gateway, a list trusts those addresses,
   * subnets (CIDR) or the names `loopback`, `linklocal`, `uniquelocal`. `false` (default): the socket's peer is the client.
   */
  trustProxy: boolean | number | string[];
  /** WebSocket quotas (0 turns one off). Connection counts are per gateway instance; the connect rate is shared (Redis). */
  websocket: { maxConnectionsPerIp: number; maxSubscriptionsPerConnection: number; connectRatePerIp: number; connectWindowSeconds: number };
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** TRUST_PROXY as Express documents it (https://expressjs.com/en/guide/behind-proxies.html); a problem message otherwise. */
export function parseTrustProxy(raw: string | undefined): { value: boolean | number | string[]; problem?: string } {
  const v = raw?.trim();
  if (!v || v === 'false') return { value: false };
  if (v === 'true') return { value: true };
  if (/^\d+$/.test(v)) return { value: Number(v) };
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((entry) => {
    if (PROXY_NAMES.has(entry)) return false;
    const [addr, mask, ...rest] = entry.split('/');
    if (rest.length || !ipaddr.isValid(addr)) return true;
    return mask !== undefined && !/^\d{1,3}$/.test(mask) && !ipaddr.isValid(mask);
  });
  if (bad.length || !list.length) {
    return { value: false, problem: `TRUST_PROXY must be true, false, a hop count or a comma-separated list of addresses, subnets or loopback/linklocal/uniquelocal (got "${raw}")` };
  }
  return { value: list };
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (name: string, fallback?: string): string => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback === undefined) {
      problems.push(`${name} is required but not set`);
      return '';
    }
    return fallback;
  };
  const opt = (name: string): string | undefined => (env[name] ? env[name] : undefined);
  const int = (name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return n;
  };
  const url = (name: string, fallback: string, protocols: string[]): string => {
    const v = str(name, fallback);
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) problems.push(`${name} must use ${protocols.join(' or ')} (got "${v}")`);
    } catch {
      problems.push(`${name} must be a URL (got "${v}")`);
    }
    return v;
  };
  const onOff = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'on' || raw === 'off') return raw === 'on';
    problems.push(`${name} must be "on" or "off" (got "${raw}")`);
    return fallback;
  };
  const pem = (name: string): string | undefined => opt(name)?.replace(/\\n/g, '\n');
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    problems.push(`${name} must be "true" or "false" (got "${raw}")`);
    return fallback;
  };

  const nodeEnvRaw = str('NODE_ENV', 'development');
  if (!['development', 'production', 'test'].includes(nodeEnvRaw)) {
    problems.push(`NODE_ENV must be development, production or test (got "${nodeEnvRaw}")`);
  }
  const nodeEnv = (['development', 'production', 'test'].includes(nodeEnvRaw) ? nodeEnvRaw : 'development') as Config['nodeEnv'];
  const gatewayPort = int('GATEWAY_PORT', DEFAULT_PORTS.gateway, 0, 65535);
  const postgresUrl = url('POSTGRES_URL', 'postgres://postgres@127.0.0.1:5432/shop', ['postgres:', 'postgresql:']);
  let dbPrefix = 'shop';
  try {
    dbPrefix = decodeURIComponent(new URL(postgresUrl).pathname.replace(/^\//, '')) || 'shop';
  } catch {
    /* reported above */
  }
  if (!/^[a-z_][a-z0-9_]*$/.test(dbPrefix)) problems.push(`POSTGRES_URL database name must match [a-z_][a-z0-9_]* (got "${dbPrefix}")`);

  const ports = Object.fromEntries(
    (['user', 'product', 'cart', 'order', 'media', 'notification'] as ServiceName[]).map((s) => [
      s,
      int(`${s.toUpperCase()}_PORT`, DEFAULT_PORTS[s], 0, 65535),
    ]),
  ) as Record<ServiceName, number>;

  const subgraphUrls: Partial<Record<ServiceName, string>> = {};
  for (const s of SERVICE_NAMES) {
    const name = `${s.toUpperCase()}_SUBGRAPH_URL`;
    if (env[name]) subgraphUrls[s] = url(name, '', ['http:', 'https:']);
  }

  const config: Config = {
    nodeEnv,
    isProduction: nodeEnv === 'production',
    logLevel: str('LOG_LEVEL', nodeEnv === 'test' ? 'warn' : 'info'),
    publicUrl: url('PUBLIC_URL', `http://localhost:${gatewayPort}`, ['http:', 'https:']).replace(/\/$/, ''),
    gatewayPort,
    ports,
    subgraphUrls,
    postgresUrl,
    dbPrefix,
    redisUrl: url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    redisPrefix: str('REDIS_PREFIX', 'shop:'),
    natsUrl: url('NATS_URL', 'nats://127.0.0.1:4222', ['nats:', 'tls:']),
    natsPrefix: str('NATS_PREFIX', ''),
    mongoUrl: opt('MONGO_URL'),
    smtp: {
      host: opt('SMTP_HOST'),
      port: int('SMTP_PORT', opt('SMTP_HOST') ? 587 : int('DEV_MAIL_PORT', 1025, 0, 65535), 0, 65535),
      from: str('SMTP_FROM', 'Shop <no-reply@shop.local>'),
      secure: str('SMTP_SECURE', 'false') === 'true',
      user: opt('SMTP_USER'),
      pass: opt('SMTP_PASS'),
    },
    devMailPort: int('DEV_MAIL_PORT', 1025, 0, 65535),
    keysDir: str('KEYS_DIR', '.keys'),
    jwt: {
      privateKey: pem('JWT_PRIVATE_KEY'),
      publicKey: pem('JWT_PUBLIC_KEY'),
      internalPrivateKey: pem('INTERNAL_JWT_PRIVATE_KEY'),
      internalPublicKey: pem('INTERNAL_JWT_PUBLIC_KEY'),
    },
    admin: { email: opt('ADMIN_EMAIL'), password: opt('ADMIN_PASSWORD') },
    rateLimit: {
      loginPerEmail: int('LOGIN_RATE_LIMIT_PER_EMAIL', 10, 1),
      loginPerIp: int('LOGIN_RATE_LIMIT_PER_IP', 50, 1),
      windowSeconds: int('LOGIN_RATE_LIMIT_WINDOW_SECONDS', 900, 1),
      emailPerAddress: int('EMAIL_RATE_LIMIT_PER_ADDRESS', 5, 1),
    },
    secretMessageMaxAgeSeconds: int('SECRET_MESSAGE_MAX_AGE_SECONDS', 3600, 60),
    cartHoldSeconds: int('CART_HOLD_SECONDS', 600, 1),
    cartTimerTickSeconds: int('CART_TIMER_TICK_SECONDS', 1, 1),
    cartLimits: {
      maxUnitsGuest: int('CART_MAX_UNITS_GUEST', 20, 1, 100_000),
      maxUnitsUser: int('CART_MAX_UNITS_USER', 200, 1, 100_000),
      maxUnitsPerAddress: int('CART_MAX_UNITS_PER_ADDRESS', 60, 1, 10_000_000),
      // At most 7 days: the product store refuses hold deadlines further ahead.
      holdMaxSecondsGuest: int('CART_HOLD_MAX_SECONDS', 1800, 1, 7 * 24 * 3600),
      holdMaxSecondsUser: int('CART_HOLD_MAX_SECONDS_USER', 3600, 1, 7 * 24 * 3600),
    },
    dealsTtlSeconds: int('DEALS_TTL_SECONDS', 86400, 1),
    dealsCount: int('DEALS_COUNT', 10, 1, 100),
    dealsDiscountPercent: int('DEALS_DISCOUNT_PERCENT', 20, 1, 99),
    mediaDir: str('MEDIA_DIR', '.media'),
    email: {
      maxAttempts: int('EMAIL_MAX_ATTEMPTS', 8, 1, 100),
      retryBaseMs: int('EMAIL_RETRY_BASE_MS', 2000, 1),
      pollMs: int('EMAIL_POLL_MS', 500, 10),
    },
    edge: {
      limits: {
        maxDepth: int('GRAPHQL_MAX_DEPTH', 10),
        maxAliases: int('GRAPHQL_MAX_ALIASES', 15),
        maxRootFields: int('GRAPHQL_MAX_ROOT_FIELDS', 10),
        maxDirectives: int('GRAPHQL_MAX_DIRECTIVES', 20),
        maxTokens: int('GRAPHQL_MAX_TOKENS', 2000),
        maxQueryBytes: int('GRAPHQL_MAX_QUERY_BYTES', 16384),
        maxCost: int('GRAPHQL_MAX_COST', 20000),
      },
      rateLimit: {
        perIp: int('RATE_LIMIT_PER_IP', 600),
        perUser: int('RATE_LIMIT_PER_USER', 1200),
        windowSeconds: int('RATE_LIMIT_WINDOW_SECONDS', 60, 1),
        authPerIp: int('RATE_LIMIT_AUTH_PER_IP', 20),
        authWindowSeconds: int('RATE_LIMIT_AUTH_WINDOW_SECONDS', 300, 1),
        // A storefront page loads dozens of images: far more than its GraphQL requests.
        mediaPerIp: int('RATE_LIMIT_MEDIA_PER_IP', 3000),
      },
      safelist: onOff('SAFELIST', false),
      safelistFile: opt('SAFELIST_FILE'),
      trustProxy: (() => {
        const t = parseTrustProxy(env.TRUST_PROXY);
        if (t.problem) problems.push(t.problem);
        return t.value;
      })(),
      websocket: {
        maxConnectionsPerIp: int('WS_MAX_CONNECTIONS_PER_IP', 50),
        maxSubscriptionsPerConnection: int('WS_MAX_SUBSCRIPTIONS_PER_CONNECTION', 20),
        connectRatePerIp: int('WS_CONNECT_RATE_PER_IP', 60),
        connectWindowSeconds: int('WS_CONNECT_WINDOW_SECONDS', 60, 1),
      },
    },
    // Checkout, the slowest legitimate operation, takes well under a second; 300 s (undici's default) held sockets and memory.
    subgraphTimeoutMs: int('SUBGRAPH_TIMEOUT_MS', 15_000, 100, 300_000),
    payments: loadPayments(env, problems, bool),
  };
  if (config.cartLimits.maxUnitsPerAddress < config.cartLimits.maxUnitsGuest) {
    problems.push('CART_MAX_UNITS_PER_ADDRESS must be at least CART_MAX_UNITS_GUEST (one guest cart must fit an address\'s budget)');
  }
  if (config.cartLimits.holdMaxSecondsUser < config.cartLimits.holdMaxSecondsGuest) {
    problems.push('CART_HOLD_MAX_SECONDS_USER must be at least CART_HOLD_MAX_SECONDS (a merged guest cart keeps its lifetime)');
  }
  if (config.isProduction) {
    for (const [name, v] of [
      ['JWT_PUBLIC_KEY', config.jwt.publicKey],
      ['INTERNAL_JWT_PUBLIC_KEY', config.jwt.internalPublicKey],
    ] as const) {
      if (!v) problems.push(`${name} is required when NODE_ENV=production (development keys are never used in production)`);
    }
  }
  if (config.isProduction) problems.push(...productionRefusals(config));
  if (problems.length) throw new ConfigError(problems);
  return config;
}

function loadPayments(env: Env, problems: string[], bool: (name: string, fallback: boolean) => boolean): PaymentsConfig {
  const raw = env.PAYMENT_PROVIDER || 'simulated';
  let provider: PaymentProviderName = 'simulated';
  if ((PAYMENT_PROVIDERS as readonly string[]).includes(raw)) provider = raw as PaymentProviderName;
  else if (raw === 'stripe') problems.push('PAYMENT_PROVIDER=stripe is not available yet (only "simulated" is)');
  else problems.push(`PAYMENT_PROVIDER must be one of ${PAYMENT_PROVIDERS.join(', ')} (got "${raw}")`);
  return { provider, allowSimulatedInProduction: bool('ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION', false) };
}

/**
 * Development conveniences a production deployment must not run on (README "Security"); every process refuses to
 * start with them, like without real keys. The media subgraph also refuses a public MEDIA_SIGNING_SECRET
 * (subgraphs/media/src/service/signing.ts).
 */
function productionRefusals(config: Config): string[] {
  const problems: string[] = [];
  if (!config.smtp.host) {
    problems.push('SMTP_HOST is required when NODE_ENV=production (unset, mail would go to the development mailbox on 127.0.0.1)');
  }
  if (config.payments.provider === 'simulated' && !config.payments.allowSimulatedInProduction) {
    problems.push('PAYMENT_PROVIDER=simulated moves no money: refused when NODE_ENV=production unless ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true');
  }
  return problems;
}
