import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { OTLP_PROTOCOLS } from './tracing';

/**
 * Typed configuration read from the environment once at start. Every variable is declared once below
 * (CONFIG_VARIABLES: its zod schema with the default, and the description docs/configuration.md shows;
 * `npm run docs:config` regenerates that table). Every problem is collected and reported in one error that names
 * each variable, so a misconfigured deployment fails fast with a useful message.
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
  gateway: 4000,
  user: 4001,
  product: 4002,
  cart: 4003,
  order: 4004,
  media: 4005,
  notification: 4006,
};

/** GATEWAY_METRICS_PORT's default (deploy/prometheus/prometheus.yml scrapes it). */
export const DEFAULT_GATEWAY_METRICS_PORT = 9400;

export const PAYMENT_PROVIDERS = ['simulated', 'stripe'] as const;
export type PaymentProviderName = (typeof PAYMENT_PROVIDERS)[number];

/** One line of the configuration table; variables sharing one row object (a pair, a per-subgraph family) share the line. */
export interface VariableDoc {
  /** Shown instead of the variable names (e.g. "`<NAME>_SUBGRAPH_URL`"). */
  name?: string;
  /** Shown instead of the schema's default (when it depends on other variables, or is generated). */
  default?: string;
  description: string;
}

export interface Variable<T = unknown> {
  /** Parses the raw value; unset or empty arrives as `undefined` and gets the default. */
  schema: z.ZodType<T>;
  /** What a valid value is: a problem reads `<NAME> must be <expect> (got "<raw>")` (refinements word their own). */
  expect: string;
  doc: VariableDoc;
  /**
   * A credential or key (or a URL that may carry one): deployments keep it in a secret store, never in plain
   * configuration (deploy/k8s: the Secret, not the ConfigMap; scripts/test/k8s.test.ts checks).
   */
  secret?: boolean;
}

type Doc = string | VariableDoc;
const doc = (d: Doc): VariableDoc => (typeof d === 'string' ? { description: d } : d);
const secret = <T>(v: Variable<T>): Variable<T> => ({ ...v, secret: true });

// ---- Variable kinds: each one a zod schema over the raw string ----

function int(fallback: number, [min, max]: [number, number?], d: Doc): Variable<number> {
  return { ...intOrUnset([min, max], d), schema: intSchema(min, max).default(fallback) };
}
/** An integer whose default depends on other variables (undefined when unset). */
function intOrUnset([min, max = Number.MAX_SAFE_INTEGER]: [number, number?], d: Doc): Variable<number | undefined> {
  return { schema: intSchema(min, max).optional(), expect: `an integer between ${min} and ${max}`, doc: doc(d) };
}
const intSchema = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const port = (fallback: number, d: Doc) => int(fallback, [0, 65535], d);

function positive(fallback: number, d: Doc): Variable<number> {
  return { schema: z.coerce.number().positive().default(fallback), expect: 'a positive number', doc: doc(d) };
}

/** The one syntax of every on/off variable: true/false, 1/0, on/off (any case); anything else is refused. */
const onOff = () => z.stringbool({ truthy: ['true', '1', 'on'], falsy: ['false', '0', 'off'] });
const BOOLEAN = 'true, false, 1, 0, on or off';
function bool(fallback: boolean, d: Doc): Variable<boolean> {
  return { schema: onOff().default(fallback), expect: BOOLEAN, doc: doc(d) };
}
/** An on/off variable whose default depends on other variables (undefined when unset). */
function boolOrUnset(d: Doc): Variable<boolean | undefined> {
  return { schema: onOff().optional(), expect: BOOLEAN, doc: doc(d) };
}

function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  fallback: T[number],
  d: Doc,
): Variable<T[number]> {
  // `fallback` is one of `values`; zod's default wants its own literal type.
  return { schema: z.enum(values).default(fallback as never), expect: `one of ${values.join(', ')}`, doc: doc(d) };
}

const protocolPattern = (protocols: string[]) =>
  new RegExp(`^(${protocols.map((p) => p.replace(/[+.]/g, '\\$&')).join('|')})$`);
const urlExpect = (protocols: string[]) => `a ${protocols.map((p) => `${p}:`).join(' or ')} URL`;
function url(fallback: string, protocols: string[], d: Doc): Variable<string> {
  return {
    schema: z.url({ protocol: protocolPattern(protocols) }).default(fallback),
    expect: urlExpect(protocols),
    doc: doc(d),
  };
}
function urlOrUnset(protocols: string[], d: Doc): Variable<string | undefined> {
  return {
    schema: z.url({ protocol: protocolPattern(protocols) }).optional(),
    expect: urlExpect(protocols),
    doc: doc(d),
  };
}

function text(fallback: string, d: Doc): Variable<string> {
  return { schema: z.string().default(fallback), expect: 'a string', doc: doc(d) };
}
function textOrUnset(d: Doc): Variable<string | undefined> {
  return { schema: z.string().optional(), expect: 'a string', doc: doc(d) };
}

/** A PEM key; `\n` escapes (one-line environment values) become newlines. */
function pem(d: Doc): Variable<string | undefined> {
  const armored = /^-----BEGIN [A-Z0-9 ]+-----\n[\s\S]+\n-----END [A-Z0-9 ]+-----\s*$/;
  return {
    schema: z
      .string()
      .transform((v) => v.trim().replace(/\\n/g, '\n'))
      .pipe(z.string().regex(armored))
      .optional(),
    expect: 'a PEM key (-----BEGIN … KEY----- … -----END … KEY-----, newlines may be written \\n)',
    doc: doc(d),
  };
}

/** Comma-separated entries, each one checked by `entry`, at least one. */
const list = (entry: z.ZodType<string, string>) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(entry).min(1));

/** An http(s) origin (`scheme://host[:port]`, no path), normalized as browsers send it (e.g. lower-case host). */
const originEntry = z
  .string()
  .refine((o) => {
    try {
      const u = new URL(o);
      return /^https?:$/.test(u.protocol) && u.origin === o.replace(/\/$/, '').toLowerCase();
    } catch {
      return false;
    }
  })
  .transform((o) => new URL(o).origin);

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
/** An address, a subnet (CIDR or address/mask) or one of Express's names. */
const proxyEntry = z.string().refine((entry) => {
  if (PROXY_NAMES.has(entry)) return true;
  const [addr, mask, ...rest] = entry.split('/');
  if (rest.length || !ipaddr.isValid(addr)) return false;
  return mask === undefined || /^\d{1,3}$/.test(mask) || ipaddr.isValid(mask);
});

/**
 * TRUST_PROXY as Express documents it (https://expressjs.com/en/guide/behind-proxies.html): `true`, `false`, a hop count
 * (so `1` is one hop, not "on"), or a list of addresses, subnets and names.
 */
function trustProxy(d: Doc): Variable<boolean | number | string[]> {
  return {
    schema: z
      .union([
        z.enum(['true', 'false']).transform((v) => v === 'true'),
        z.string().regex(/^\d+$/).transform(Number),
        list(proxyEntry),
      ])
      .default(false),
    expect:
      'true, false, a hop count or a comma-separated list of addresses, subnets or loopback/linklocal/uniquelocal',
    doc: doc(d),
  };
}

/** The same variable for each subgraph (`<NAME>_<suffix>`), one row of the table. */
function perService<const S extends string, T>(
  suffix: S,
  make: (s: ServiceName, row: VariableDoc) => Variable<T>,
  row: VariableDoc,
) {
  return Object.fromEntries(SERVICE_NAMES.map((s) => [`${s.toUpperCase()}_${suffix}`, make(s, row)])) as Record<
    `${Uppercase<ServiceName>}_${S}`,
    Variable<T>
  >;
}

// Rows shared by pairs of variables.
const SMTP_CREDENTIALS: VariableDoc = {
  default: '*(unset)*',
  description: 'SMTP credentials, when the server needs them.',
};
const ACCESS_KEYS: VariableDoc = {
  default: 'generated in development',
  description:
    "RS256 key pair for users' access tokens (PEM; `\\n` escapes allowed). The user subgraph signs, the gateway verifies. Public key required in production.",
};
const INTERNAL_KEYS: VariableDoc = {
  default: 'generated in development',
  description:
    "Key pair for the gateway's internal tokens: EC P-256 (ES256; what development and scripts/production-secrets.ts generate) or RSA (RS256); the algorithm follows the key. The gateway signs, subgraphs verify. Public key required in production.",
};
const ADMIN_ACCOUNT: VariableDoc = {
  default: '*(unset)*',
  description:
    'When both are set, the user subgraph makes sure this account exists at start as a verified admin. An existing account is promoted only when it is verified and its password is `ADMIN_PASSWORD`; otherwise the user subgraph refuses to start.',
};

/**
 * Every environment variable any process reads, in the order of docs/configuration.md. The descriptions are that
 * table's text (markdown); a default shown in `doc.default` is one the schema cannot state (it depends on others).
 */
export const CONFIG_VARIABLES = {
  NODE_ENV: oneOf(
    ['development', 'production', 'test'],
    'development',
    '`development`, `production` or `test`. Production requires the JWT public keys, `SMTP_HOST` and a real `MEDIA_SIGNING_SECRET`, refuses the simulated payment provider unless `ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true`, never generates keys, masks internal errors and disables introspection and dev pages.',
  ),
  LOG_LEVEL: {
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
    expect: 'one of trace, debug, info, warn, error, fatal, silent',
    doc: doc({
      default: '`info` (`warn` in test, `npm run migrate` and `npm run seed`)',
      description: 'pino level: `trace`, `debug`, `info`, `warn`, `error`, `fatal` (or `silent`).',
    }),
  } satisfies Variable<string | undefined>,
  LOG_SHIPPING: bool(
    true,
    "Ship every process's log lines over NATS (stream `LOGS`) to the notification subgraph's central log store, queried with `logs` (docs/observability.md). Off: stdout only.",
  ),
  LOG_SHIP_BUFFER_LINES: int(
    10_000,
    [100, 10_000_000],
    'Log lines a process holds while they wait for the broker; beyond it lines are dropped and counted (`shop_log_lines_dropped_total`), never waited for.',
  ),
  LOG_RETENTION_DAYS: int(
    7,
    [1, 3650],
    'Notification subgraph: days a central log line is kept; older ones are deleted every few minutes.',
  ),
  PUBLIC_URL: urlOrUnset(['http', 'https'], {
    default: '`http://localhost:<GATEWAY_PORT>`',
    description:
      'Public origin of the gateway; used in email links (`/verify-email`, `/reset-password`) and media URLs.',
  }),
  GATEWAY_PORT: port(DEFAULT_PORTS.gateway, 'Gateway HTTP/WebSocket port.'),
  GATEWAY_METRICS_PORT: port(
    DEFAULT_GATEWAY_METRICS_PORT,
    "Gateway: port of its Prometheus listener (`GET /metrics`), separate from `GATEWAY_PORT` so the public port never exposes metrics; with `GATEWAY_WORKERS` > 1 the primary serves the workers' total. `0`: no listener. Subgraphs serve `/metrics` on their own ports.",
  ),
  GATEWAY_SUBGRAPH_FETCH: oneOf(
    ['undici', 'apollo'],
    'undici',
    "Gateway: how it calls subgraphs: `undici` (kept-alive connection pools) or `apollo` (the data source's default fetch).",
  ),
  GATEWAY_DEDUPE: bool(
    true,
    'Merge identical in-flight subgraph queries of one identity (never across identities; mutations never).',
  ),
  GATEWAY_RESPONSE_CACHE: boolOrUnset({
    default: '`true` in production, else `false`',
    description:
      'Cache whole responses of anonymous catalog queries (product + media only), invalidated by every product/media mutation before it answers (bench/README.md).',
  }),
  GATEWAY_ENTITY_CACHE: boolOrUnset({
    default: '`true` in production, else `false`',
    description:
      "Cache catalog entities (product, media) one by one for every caller, keyed by role; only the missing ones are fetched; a mutation's answer is always fetched. Same invalidation as the response cache (bench/README.md).",
  }),
  GATEWAY_ENTITY_CACHE_MAX_ENTRIES: int(
    20_000,
    [100, 10_000_000],
    'Entities kept per gateway process (oldest dropped first).',
  ),
  GATEWAY_RESPONSE_CACHE_TTL_SECONDS: int(
    10,
    [1, 3600],
    'Longest life of a cached response or entity (stock also changes through cart holds, outside the gateway).',
  ),
  GATEWAY_OPERATION_REUSE: bool(
    true,
    "Reuse what @apollo/gateway derives from each document for every request with that document: the operation, and the result shaping's facts per selection set (kept as long as Apollo's document cache keeps the document; gateway/src/perf/operationReuse.ts, resultShaping.ts).",
  ),
  APOLLO_TELEMETRY: bool(
    false,
    "Gateway: let @apollo/gateway send Apollo its anonymous usage telemetry (an OTLP metrics export to Apollo's endpoint every hour, retried while unreachable). Off unless set: a self-hosted shop does not call a third party on its own. (`APOLLO_TELEMETRY_DISABLED`, the library's own switch, is set from this.)",
  ),
  GATEWAY_WORKERS: int(1, [0, 64], 'Gateway processes on the port (node:cluster); `0` = one per core.'),
  ...perService('PORT', (s, row) => port(DEFAULT_PORTS[s], row), {
    name: '`USER_PORT` … `NOTIFICATION_PORT`',
    default: '`4001`–`4006`',
    description:
      'Port of each subgraph: `USER_PORT` 4001, `PRODUCT_PORT` 4002, `CART_PORT` 4003, `ORDER_PORT` 4004, `MEDIA_PORT` 4005, `NOTIFICATION_PORT` 4006.',
  }),
  POSTGRES_URL: {
    ...url(
      'postgres://postgres@127.0.0.1:5432/shop',
      ['postgres', 'postgresql'],
      'PostgreSQL server. The database name is a prefix: each subgraph uses `<prefix>_<subgraph>`, e.g. `shop_user` (created by `npm run migrate`, and at start outside production).',
    ),
    schema: z
      .url({ protocol: protocolPattern(['postgres', 'postgresql']) })
      .refine((v) => /^[a-z_][a-z0-9_]*$/.test(databasePrefix(v)), {
        error: (iss) =>
          `POSTGRES_URL database name must match [a-z_][a-z0-9_]* (got "${databasePrefix(String(iss.input))}")`,
      })
      .default('postgres://postgres@127.0.0.1:5432/shop'),
    secret: true,
  },
  POSTGRES_CREATE_DATABASE: boolOrUnset({
    default: '`false` in production, else `true`; `npm run migrate`: `true`',
    description:
      'Whether a process creates its database (`<prefix>_<subgraph>`) when it does not exist. Production leaves that to `npm run migrate` (the migration Jobs of deploy/k8s), so running services need no `CREATE DATABASE` right.',
  }),
  POSTGRES_POOL_MAX: int(
    10,
    [1, 100],
    "Most PostgreSQL connections one process opens (its ORM pool). Every instance of every subgraph has its own pool: keep instances × this below the server's `max_connections` (100 by default).",
  ),
  REDIS_URL: secret(url('redis://127.0.0.1:6379', ['redis', 'rediss'], 'Redis server (`redis:` or `rediss:`).')),
  REDIS_PREFIX: text('shop:', 'Prefix of every Redis key this deployment writes.'),
  NATS_URL: secret(url('nats://127.0.0.1:4222', ['nats', 'tls'], 'NATS server; JetStream must be enabled.')),
  NATS_PREFIX: text('', 'Prefix of NATS subjects and stream names (tests use one per file).'),
  NATS_MAX_DELIVER: int(
    10,
    [1, 1000],
    'Deliveries of an event to a durable consumer before it is dead-lettered: copied to the `DLQ` stream (subject `dlq.<original subject>`) and acknowledged (README "Dead letters").',
  ),
  NATS_RETRY_BACKOFF_MS: {
    schema: list(z.string().regex(/^\d+$/))
      .transform((v) => v.map(Number))
      .default([1000, 5000, 30000, 120000, 300000]),
    expect: 'a comma-separated list of delays in milliseconds, e.g. 1000,5000,30000',
    doc: {
      default: '`1000,5000,30000,120000,300000`',
      description:
        'Back-off between the deliveries of an event whose handler failed: the n-th retry waits the n-th delay (the last one repeats). With the defaults, an event is dead-lettered about 28 minutes after its first failure.',
    },
  } as Variable<number[]>,
  NATS_DLQ_MAX_AGE_DAYS: int(
    30,
    [1, 3650],
    'How long a dead letter stays in the `DLQ` stream before JetStream deletes it.',
  ),
  MONGO_URL: secret(
    urlOrUnset(
      ['mongodb', 'mongodb+srv'],
      'When set, the document stores (notification history and audit log; media metadata) use MongoDB through mongoose instead of PostgreSQL.',
    ),
  ),
  SMTP_HOST: textOrUnset(
    'SMTP server for outgoing mail. Unset: mail goes to the development mailbox the gateway runs (see below) — refused in production.',
  ),
  SMTP_PORT: intOrUnset([0, 65535], {
    default: '`587`, or `DEV_MAIL_PORT` when `SMTP_HOST` is unset',
    description: 'SMTP port.',
  }),
  SMTP_SECURE: bool(false, '`true` for implicit TLS (usually port 465).'),
  SMTP_USER: secret(textOrUnset(SMTP_CREDENTIALS)),
  SMTP_PASS: secret(textOrUnset(SMTP_CREDENTIALS)),
  SMTP_FROM: text('Shop <no-reply@shop.local>', 'Sender of every email.'),
  SMTP_MAX_CONNECTIONS: int(
    10,
    [1, 100],
    "SMTP connections kept open to the server, each carrying one email at a time: about 1 ÷ (4 × the server's round trip) emails per second each (10 connections to a server 30 ms away: ~80 per second). Confirmation emails keep up with checkouts only if this covers the order rate; lower it if your provider limits concurrent connections.",
  ),
  DEV_MAIL_PORT: port(1025, "Port of the development mailbox's SMTP server (127.0.0.1), when `SMTP_HOST` is unset."),
  KEYS_DIR: text('.keys', 'Where development signing keys are generated (git-ignored). Not used in production.'),
  JWT_PRIVATE_KEY: secret(pem(ACCESS_KEYS)),
  JWT_PUBLIC_KEY: pem(ACCESS_KEYS),
  INTERNAL_JWT_PRIVATE_KEY: secret(pem(INTERNAL_KEYS)),
  INTERNAL_JWT_PUBLIC_KEY: pem(INTERNAL_KEYS),
  ADMIN_EMAIL: textOrUnset(ADMIN_ACCOUNT),
  ADMIN_PASSWORD: secret(textOrUnset(ADMIN_ACCOUNT)),
  LOGIN_RATE_LIMIT_PER_EMAIL: int(
    10,
    [1],
    'Failed sign-ins allowed per email address per window (also wrong current passwords in `changePassword`, per user); then `RATE_LIMITED` until the window ends.',
  ),
  LOGIN_RATE_LIMIT_PER_IP: int(50, [1], 'Failed sign-ins allowed per client IP per window.'),
  LOGIN_RATE_LIMIT_WINDOW_SECONDS: int(900, [1], 'Length of the sign-in rate-limit window.'),
  SECRET_MESSAGE_MAX_AGE_SECONDS: int(
    3600,
    [60],
    'Longest a secret-bearing message (`secret.email_link`) waits in the `SECRETS` work-queue stream before it is dropped unread.',
  ),
  EMAIL_RATE_LIMIT_PER_ADDRESS: int(
    5,
    [1],
    'Verification / password-reset emails sent per address per hour (the mutations still answer `true`).',
  ),
  EMAIL_MAX_ATTEMPTS: int(8, [1, 100], 'Delivery attempts before an email is marked `DEAD`.'),
  EMAIL_RETRY_BASE_MS: int(2000, [1], 'Base delay of the exponential back-off between delivery attempts.'),
  EMAIL_POLL_MS: int(500, [10], 'How often the email queue looks for due messages.'),
  CART_HOLD_SECONDS: int(600, [1], 'How long a cart holds stock after its last change.'),
  CART_TIMER_TICK_SECONDS: int(1, [1], "Interval of the `cartTimer` subscription's ticks."),
  // At most 7 days: the product store refuses hold deadlines further ahead.
  CART_HOLD_MAX_SECONDS: int(
    1800,
    [1, 7 * 24 * 3600],
    'Longest a guest cart holds stock, from its first hold since it was last empty, however often it is touched.',
  ),
  CART_HOLD_MAX_SECONDS_USER: int(
    3600,
    [1, 7 * 24 * 3600],
    "The same for signed-in carts; also the product store's own cap on any hold.",
  ),
  CART_MAX_UNITS_GUEST: int(20, [1, 100_000], 'Units one guest cart may hold at once.'),
  CART_MAX_UNITS_PER_ADDRESS: int(
    60,
    [1, 10_000_000],
    'Units all guest carts of one client address (IPv6: /64) may hold together.',
  ),
  CART_MAX_UNITS_USER: int(200, [1, 100_000], 'Units one signed-in cart may hold at once.'),
  CART_PRICE_CACHE_SECONDS: int(
    60,
    [0, 3600],
    "Longest a cart instance prices checkouts from the product subgraph's earlier answers (dropped at once when " +
      'a price, deal or product changes; the commit checks the prices anyway). 0: ask at every checkout.',
  ),
  DEALS_TTL_SECONDS: int(86400, [1], 'How long the deals list is cached in Redis.'),
  DEALS_COUNT: int(10, [1, 100], 'Number of deals.'),
  DEALS_DISCOUNT_PERCENT: int(20, [1, 99], 'Discount of a deal.'),
  MEDIA_DIR: text('.media', 'Where the media subgraph stores files (several media instances need a shared volume).'),
  // The media subgraph checks it (subgraphs/media/src/service/signing.ts): only it needs the secret.
  MEDIA_SIGNING_SECRET: secret(
    textOrUnset({
      default: 'generated in development',
      description:
        'HMAC key (≥ 32 characters) of the signed upload URLs; every media instance needs the same one. Required in production, where a value published with the project, a placeholder (`change-me`, `example`, …) or one with fewer than 8 distinct characters is refused.',
    }),
  ),
  PAYMENT_PROVIDER: oneOf(
    PAYMENT_PROVIDERS,
    'simulated',
    'The order subgraph\'s payment provider. `simulated`: no money moves (`tok_visa` pays, `tok_chargeDeclined` is declined). `stripe`: Stripe PaymentIntents through the official SDK (needs `STRIPE_SECRET_KEY` and `STRIPE_WEBHOOK_SECRET`; subgraphs/order/README.md, "Payments").',
  ),
  PAYMENT_ACTION_TIMEOUT_SECONDS: int(
    3600,
    [60],
    "Order subgraph: how long an order waits for the buyer's action on its payment (3-D Secure) before it fails: the payment is cancelled at the provider and the stock goes back.",
  ),
  ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: bool(
    false,
    '`true` lets a production deployment (a demo, the benchmarks) run the simulated provider; otherwise production refuses to start with it.',
  ),
  // Only the order subgraph reads them (subgraphs/order/src/service/stripe.ts checks they are there for PAYMENT_PROVIDER=stripe).
  STRIPE_SECRET_KEY: secret({
    // Its own wording: a problem never echoes the value (it is a credential).
    schema: z
      .string()
      .refine((v) => /^(sk|rk)_(test|live)_[A-Za-z0-9]+$/.test(v), {
        error:
          'STRIPE_SECRET_KEY must be a Stripe secret or restricted key (sk_live_…, sk_test_…, rk_…; value not shown)',
      })
      .optional(),
    expect: 'a Stripe secret or restricted key (sk_live_…, sk_test_…, rk_…)',
    doc: doc(
      'Order subgraph, `PAYMENT_PROVIDER=stripe`: the API key (Dashboard → Developers → API keys). `sk_test_…` is test mode (no money moves): production refuses it unless `ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true`.',
    ),
  }),
  STRIPE_WEBHOOK_SECRET: secret({
    schema: z
      .string()
      .refine((v) => /^whsec_[A-Za-z0-9]+$/.test(v), {
        error: 'STRIPE_WEBHOOK_SECRET must be a Stripe webhook signing secret (whsec_…; value not shown)',
      })
      .optional(),
    expect: 'a Stripe webhook signing secret (whsec_…)',
    doc: doc(
      "Order subgraph, `PAYMENT_PROVIDER=stripe`: the signing secret of the endpoint `<PUBLIC_URL>/webhooks/payments` (Dashboard → Webhooks, or `stripe listen`); every webhook's signature is checked with it.",
    ),
  }),
  STRIPE_API_BASE: urlOrUnset(['http', 'https'], {
    default: "*(Stripe's own, https://api.stripe.com)*",
    description:
      'Order subgraph: where the Stripe SDK sends its API requests. Tests point it at a local fake; production refuses it.',
  }),
  TRUST_PROXY: trustProxy({
    default: '*(unset)*',
    description:
      'Gateway: behind a reverse proxy, which `X-Forwarded-For` hops to believe, as Express documents: `true`, a hop count (`1`), or a comma-separated list of addresses/subnets/`loopback`/`linklocal`/`uniquelocal`. HTTP and WebSocket alike.',
  }),
  // Checkout, the slowest legitimate operation, takes well under a second; 300 s (undici's default) held sockets and memory.
  SUBGRAPH_TIMEOUT_MS: int(
    15_000,
    [100, 300_000],
    "Gateway: longest wait for a subgraph's answer (headers and body); then `SERVICE_UNAVAILABLE` naming it.",
  ),
  // A storefront page loads dozens of images: far more than its GraphQL requests.
  RATE_LIMIT_MEDIA_PER_IP: int(
    3000,
    [0],
    'Gateway: `/media` requests per client address per `RATE_LIMIT_WINDOW_SECONDS`.',
  ),
  WS_MAX_CONNECTIONS_PER_IP: int(50, [0], 'Gateway: open WebSocket connections per client address (per instance).'),
  WS_CONNECT_RATE_PER_IP: int(
    60,
    [0],
    'Gateway: WebSocket connection attempts per client address per `WS_CONNECT_WINDOW_SECONDS` (Redis, all instances).',
  ),
  WS_CONNECT_WINDOW_SECONDS: int(60, [1], 'Gateway: window of the connection-attempt budget.'),
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: int(20, [0], 'Gateway: operations in flight per WebSocket connection.'),
  SUPERGRAPH_FILE: textOrUnset({
    default: '`schema/supergraph.graphql`',
    description: 'Gateway: the supergraph it serves.',
  }),
  STOREFRONT_DIR: textOrUnset({
    default: '`storefront/dist`',
    description:
      'Gateway: the built storefront it serves at `/` (`npm run build:storefront`; `npm start` builds it). `off`: serve none (e.g. when a CDN serves it).',
  }),
  GRAPHQL_MAX_DEPTH: int(
    10,
    [0],
    'Gateway: deepest field nesting of an operation (fragments do not add levels). Over it: `BAD_USER_INPUT`, `extensions.limit` = `depth`. `0` turns any of these limits off.',
  ),
  GRAPHQL_MAX_ALIASES: int(15, [0], 'Gateway: aliases per operation (`limit: aliases`).'),
  GRAPHQL_MAX_ROOT_FIELDS: int(
    10,
    [0],
    'Gateway: root fields per operation, through fragments, `__typename` not counted (`limit: rootFields`).',
  ),
  GRAPHQL_MAX_DIRECTIVES: int(20, [0], 'Gateway: directives per operation (`limit: directives`).'),
  GRAPHQL_MAX_TOKENS: int(2000, [0], 'Gateway: lexical tokens of the document; parsing stops there (`limit: tokens`).'),
  GRAPHQL_MAX_QUERY_BYTES: int(
    16384,
    [0],
    'Gateway: size of the query text, checked before parsing (`limit: queryBytes`).',
  ),
  GRAPHQL_MAX_COST: int(
    20000,
    [0],
    'Gateway: graphql-armor cost (`limit: cost`): 2 per object field, 1 per scalar, ×1.5 per level, × a literal `first`/`last`.',
  ),
  RATE_LIMIT_PER_IP: int(
    600,
    [0],
    'Gateway: requests per window from one client IP by anonymous callers. Over it: HTTP 429, `RATE_LIMITED`, `Retry-After`. `0` turns a rate limit off.',
  ),
  RATE_LIMIT_PER_USER: int(1200, [0], 'Gateway: requests per window by one signed-in user (whatever their address).'),
  RATE_LIMIT_WINDOW_SECONDS: int(60, [1], 'Gateway: window of the two budgets above.'),
  RATE_LIMIT_AUTH_PER_IP: int(
    20,
    [0],
    'Gateway: `login`, `register`, `resendVerificationEmail`, `requestPasswordReset` and `resetPassword` fields per client IP per window, on top of the general budget.',
  ),
  RATE_LIMIT_AUTH_WINDOW_SECONDS: int(300, [1], 'Gateway: window of the sign-in budget.'),
  CORS_ORIGINS: {
    schema: list(originEntry).optional(),
    expect: 'a comma-separated list of origins (scheme://host[:port], no path)',
    doc: doc({
      default:
        "development: `http://localhost:5173` (the storefront's Vite dev server), `PUBLIC_URL`'s origin and `http://localhost:<GATEWAY_PORT>`; production: none",
      description:
        "Gateway: browser origins allowed to call `/graphql` (and `/media`) with credentials (CORS), to get cookie sessions, and to open the WebSocket. The gateway's own origin (the storefront it serves) is always allowed. Other origins get no CORS headers, 403 when they send the session cookies, and no WebSocket (docs/security.md).",
    }),
  } satisfies Variable<string[] | undefined>,
  SAFELIST: bool(false, 'Gateway: `on` runs only the operations of `schema/operations` (see "Security").'),
  SAFELIST_FILE: textOrUnset({
    default: '`schema/persisted-queries.json`',
    description: 'Gateway: the persisted-query manifest `SAFELIST=on` allows.',
  }),
  ...perService('SUBGRAPH_URL', (_s, row) => urlOrUnset(['http', 'https'], row), {
    name: '`<NAME>_SUBGRAPH_URL`',
    default: 'routing URL in the supergraph',
    description:
      "Gateway: where to reach a subgraph instead of rover.yaml's `routing_url`, e.g. `USER_SUBGRAPH_URL=http://user:4001/graphql`. `npm start` sets these from the ports.",
  }),
  // OpenTelemetry's standard names, read by lib/src/tracing.ts and the SDK itself; declared here so that a wrong value
  // fails at start like any other and the table documents them.
  OTEL_EXPORTER_OTLP_ENDPOINT: urlOrUnset(['http', 'https'], {
    default: '*(unset: tracing off)*',
    description:
      'Traces: the OTLP collector (e.g. `http://localhost:4318`; `/v1/traces` is appended). Setting it (or the next one) turns tracing on in every process; unset, no SDK is loaded and nothing is traced (docs/observability.md "Tracing").',
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: urlOrUnset(['http', 'https'], {
    default: '*(unset)*',
    description: 'Traces: the full URL spans are sent to (used as it is), instead of `OTEL_EXPORTER_OTLP_ENDPOINT`.',
  }),
  OTEL_EXPORTER_OTLP_PROTOCOL: oneOf(
    OTLP_PROTOCOLS,
    'http/protobuf',
    "Traces: `http/protobuf`, `http/json` or `grpc` (then the endpoint is the collector's gRPC port, e.g. `http://localhost:4317`).",
  ),
  OTEL_SERVICE_NAME: textOrUnset({
    default: 'the process: `gateway`, `user`, … `notification`',
    description: "Traces: the `service.name` of the process's spans.",
  }),
  OTEL_TRACES_SAMPLER: oneOf(
    [
      'parentbased_always_on',
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_traceidratio',
      'parentbased_always_off',
    ],
    'parentbased_always_on',
    "Traces: which requests are traced. `parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG=0.1` keeps a tenth of the gateway's requests and follows the gateway's decision in every subgraph.",
  ),
  OTEL_TRACES_SAMPLER_ARG: {
    schema: z.coerce.number().min(0).max(1).optional(),
    expect: 'a number between 0 and 1',
    doc: doc({ default: '`1`', description: 'Traces: the ratio of the `*traceidratio` samplers.' }),
  } satisfies Variable<number | undefined>,
  // Kubernetes' default terminationGracePeriodSeconds is 30: 5 + 20 leaves 5 s for the last closes.
  SHUTDOWN_DELAY_SECONDS: intOrUnset([0, 120], {
    default: '`5` in production, else `0`',
    description:
      'On SIGTERM/SIGINT a process answers 503 on `/ready` at once but keeps serving this long, so load balancers and Kubernetes endpoints stop sending it traffic before it closes its port (docs/observability.md "Readiness and shutdown").',
  }),
  SHUTDOWN_GRACE_SECONDS: int(
    20,
    [0, 3600],
    'After that delay: how long in-flight HTTP requests, WebSocket closes and NATS handlers get to finish; then the rest is closed by force and the process exits with code 1. Set `terminationGracePeriodSeconds` ≥ `SHUTDOWN_DELAY_SECONDS` + `SHUTDOWN_GRACE_SECONDS` + 5.',
  ),
  START_TIMEOUT_SECONDS: positive(60, '`npm start` only: how long each process may take to become ready.'),
  SCHEMA_BASE_REF: textOrUnset(
    '`npm run compose` only: a git ref (e.g. `origin/main`) whose API schema the breaking-change check compares against.',
  ),
};

export type VariableName = keyof typeof CONFIG_VARIABLES;

/** The variables marked `secret`: kept in a secret store (deploy/k8s: the Secret `shop-secrets`), never in a ConfigMap. */
export const SECRET_VARIABLES = (Object.keys(CONFIG_VARIABLES) as VariableName[]).filter(
  (name) => (CONFIG_VARIABLES[name] as Variable).secret,
);
type Values = { [K in VariableName]: (typeof CONFIG_VARIABLES)[K] extends Variable<infer T> ? T : never };
type Env = Record<string, string | undefined>;

function databasePrefix(postgresUrl: string): string {
  try {
    return decodeURIComponent(new URL(postgresUrl).pathname.replace(/^\//, '')) || 'shop';
  } catch {
    return 'shop';
  }
}

/** One variable's value (its default when unset or empty), or the problem naming it with the default in its place. */
function parseVariable<K extends VariableName>(
  name: K,
  raw: string | undefined,
): { value: Values[K]; problem?: string } {
  const v: Variable = CONFIG_VARIABLES[name];
  const given = raw === '' ? undefined : raw;
  const result = v.schema.safeParse(given);
  if (result.success) return { value: result.data as Values[K] };
  const issue = result.error.issues[0];
  // A refinement that words its own problem names the variable; every other one reads the same way.
  const own = issue.code === 'custom' && issue.message.startsWith(name);
  const problem = own ? issue.message : `${name} must be ${v.expect} (got "${given}")`;
  return { value: v.schema.parse(undefined) as Values[K], problem };
}

/** One declared variable alone, for tools that need no whole configuration (`npm run compose`). */
export function readVariable<K extends VariableName>(name: K, env: Env = process.env): Values[K] {
  const { value, problem } = parseVariable(name, env[name]);
  if (problem) throw new ConfigError([problem]);
  return value;
}

/** TRUST_PROXY's value (false on a problem) and the problem, if any. */
export function parseTrustProxy(raw: string | undefined): { value: boolean | number | string[]; problem?: string } {
  return parseVariable('TRUST_PROXY', raw);
}

/** The typed configuration, grouped the way its users read it. */
function assemble(v: Values) {
  const nodeEnv = v.NODE_ENV;
  const isProduction = nodeEnv === 'production';
  const byService = <T>(suffix: string) =>
    Object.fromEntries(SERVICE_NAMES.map((s) => [s, v[`${s.toUpperCase()}_${suffix}` as VariableName] as T]));
  return {
    nodeEnv,
    isProduction,
    logLevel: v.LOG_LEVEL ?? (nodeEnv === 'test' ? 'warn' : 'info'),
    /** Central logs (docs/observability.md): shipping from every process, retention in the notification subgraph. */
    logs: { shipping: v.LOG_SHIPPING, bufferLines: v.LOG_SHIP_BUFFER_LINES, retentionDays: v.LOG_RETENTION_DAYS },
    publicUrl: (v.PUBLIC_URL ?? `http://localhost:${v.GATEWAY_PORT}`).replace(/\/$/, ''),
    gatewayPort: v.GATEWAY_PORT,
    /** The gateway's metrics listener; 0 = none. */
    gatewayMetricsPort: v.GATEWAY_METRICS_PORT,
    /** Browser clients (docs/security.md "Browser clients"): the CORS allowlist, also used for cookies and WebSocket. */
    browser: {
      corsOrigins:
        v.CORS_ORIGINS ??
        (isProduction
          ? []
          : [
              ...new Set([
                'http://localhost:5173',
                new URL(v.PUBLIC_URL ?? `http://localhost:${v.GATEWAY_PORT}`).origin,
                `http://localhost:${v.GATEWAY_PORT}`,
              ]),
            ]),
    },
    /** Port each subgraph listens on (`<NAME>_PORT`). */
    ports: byService<number>('PORT') as Record<ServiceName, number>,
    /** Overrides of the supergraph's routing URLs (`<NAME>_SUBGRAPH_URL`), e.g. container host names. */
    subgraphUrls: Object.fromEntries(
      Object.entries(byService<string | undefined>('SUBGRAPH_URL')).filter(([, u]) => u),
    ) as Partial<Record<ServiceName, string>>,
    /** Server URL; the path names the database prefix: each subgraph uses `<prefix>_<service>`. */
    postgresUrl: v.POSTGRES_URL,
    dbPrefix: databasePrefix(v.POSTGRES_URL),
    /** Create a missing database at start (development convenience; production leaves it to `npm run migrate`). */
    createDatabase: v.POSTGRES_CREATE_DATABASE ?? !isProduction,
    /** Connections per process (ORM pool): instances × this must stay below the server's max_connections. */
    postgresPoolMax: v.POSTGRES_POOL_MAX,
    redisUrl: v.REDIS_URL,
    /** Every Redis key this deployment writes starts with it (tests use one per file). */
    redisPrefix: v.REDIS_PREFIX,
    natsUrl: v.NATS_URL,
    /** Prepended to NATS subjects and stream names (tests use one per file). */
    natsPrefix: v.NATS_PREFIX,
    /** Durable consumers: deliveries before an event is dead-lettered, and the back-off between them (README "Dead letters"). */
    natsRetry: { maxDeliver: v.NATS_MAX_DELIVER, backoffMs: v.NATS_RETRY_BACKOFF_MS },
    /** Age after which JetStream deletes a dead letter from the DLQ stream. */
    dlqMaxAgeDays: v.NATS_DLQ_MAX_AGE_DAYS,
    mongoUrl: v.MONGO_URL,
    smtp: {
      host: v.SMTP_HOST,
      port: v.SMTP_PORT ?? (v.SMTP_HOST ? 587 : v.DEV_MAIL_PORT),
      from: v.SMTP_FROM,
      secure: v.SMTP_SECURE,
      user: v.SMTP_USER,
      pass: v.SMTP_PASS,
      maxConnections: v.SMTP_MAX_CONNECTIONS,
    },
    /** Port of the built-in development mail catcher (used when SMTP_HOST is unset). */
    devMailPort: v.DEV_MAIL_PORT,
    keysDir: v.KEYS_DIR,
    jwt: {
      privateKey: v.JWT_PRIVATE_KEY,
      publicKey: v.JWT_PUBLIC_KEY,
      internalPrivateKey: v.INTERNAL_JWT_PRIVATE_KEY,
      internalPublicKey: v.INTERNAL_JWT_PUBLIC_KEY,
    },
    admin: { email: v.ADMIN_EMAIL, password: v.ADMIN_PASSWORD },
    rateLimit: {
      loginPerEmail: v.LOGIN_RATE_LIMIT_PER_EMAIL,
      loginPerIp: v.LOGIN_RATE_LIMIT_PER_IP,
      windowSeconds: v.LOGIN_RATE_LIMIT_WINDOW_SECONDS,
      emailPerAddress: v.EMAIL_RATE_LIMIT_PER_ADDRESS,
    },
    /** Secret-bearing NATS messages (email link tokens): the work-queue stream SECRETS drops an unconsumed one after this. */
    secretMessageMaxAgeSeconds: v.SECRET_MESSAGE_MAX_AGE_SECONDS,
    cartHoldSeconds: v.CART_HOLD_SECONDS,
    cartTimerTickSeconds: v.CART_TIMER_TICK_SECONDS,
    /** CART_PRICE_CACHE_SECONDS: age limit of the cart's price directory (subgraphs/cart/src/service/price-directory.ts). */
    cartPriceCacheSeconds: v.CART_PRICE_CACHE_SECONDS,
    /** Anti-hoarding bounds of carts (README "Security", subgraphs/cart/README.md). */
    cartLimits: {
      /** Units one guest cart may hold at once. */
      maxUnitsGuest: v.CART_MAX_UNITS_GUEST,
      /** Units one signed-in user's cart may hold at once. */
      maxUnitsUser: v.CART_MAX_UNITS_USER,
      /** Units all guest carts charged to one client address (IPv4, or IPv6 /64) may hold at once. */
      maxUnitsPerAddress: v.CART_MAX_UNITS_PER_ADDRESS,
      /** Absolute lifetime of a guest cart's holds, from its first hold since it was last empty. */
      holdMaxSecondsGuest: v.CART_HOLD_MAX_SECONDS,
      /** The same for a signed-in user's cart; also the product store's ceiling for any hold. */
      holdMaxSecondsUser: v.CART_HOLD_MAX_SECONDS_USER,
    },
    dealsTtlSeconds: v.DEALS_TTL_SECONDS,
    dealsCount: v.DEALS_COUNT,
    dealsDiscountPercent: v.DEALS_DISCOUNT_PERCENT,
    mediaDir: v.MEDIA_DIR,
    /** HMAC key of upload URLs; the media subgraph checks it and, outside production, generates one when unset. */
    mediaSigningSecret: v.MEDIA_SIGNING_SECRET,
    email: { maxAttempts: v.EMAIL_MAX_ATTEMPTS, retryBaseMs: v.EMAIL_RETRY_BASE_MS, pollMs: v.EMAIL_POLL_MS },
    /** Gateway edge protection: document limits, rate limits, safelist (docs/security.md). */
    edge: {
      /** Document limits enforced before anything executes (0 turns one off). */
      limits: {
        maxDepth: v.GRAPHQL_MAX_DEPTH,
        maxAliases: v.GRAPHQL_MAX_ALIASES,
        maxRootFields: v.GRAPHQL_MAX_ROOT_FIELDS,
        maxDirectives: v.GRAPHQL_MAX_DIRECTIVES,
        maxTokens: v.GRAPHQL_MAX_TOKENS,
        /** Size of the query text in bytes (the request body itself is capped at 1 MB). */
        maxQueryBytes: v.GRAPHQL_MAX_QUERY_BYTES,
        /** graphql-armor cost: 2 per object field, 1 per scalar, growing 1.5× per level. */
        maxCost: v.GRAPHQL_MAX_COST,
      },
      /** Requests per window; 0 turns a limit off. Anonymous callers count per IP, signed-in ones per user. */
      rateLimit: {
        perIp: v.RATE_LIMIT_PER_IP,
        perUser: v.RATE_LIMIT_PER_USER,
        windowSeconds: v.RATE_LIMIT_WINDOW_SECONDS,
        authPerIp: v.RATE_LIMIT_AUTH_PER_IP,
        authWindowSeconds: v.RATE_LIMIT_AUTH_WINDOW_SECONDS,
        /** Requests to `/media` (images, uploads) per client address (IPv6 per /64) per window, a budget of its own. */
        mediaPerIp: v.RATE_LIMIT_MEDIA_PER_IP,
      },
      /** SAFELIST=on: only operations of the persisted-query manifest run. */
      safelist: v.SAFELIST,
      /** Persisted-query manifest for the safelist (default: schema/persisted-queries.json next to the build). */
      safelistFile: v.SAFELIST_FILE,
      /**
       * TRUST_PROXY, with Express's "trust proxy" meaning: `true` trusts every proxy (the client is the left-most
       * X-Forwarded-For entry), a number trusts that many hops in front of the gateway, a list trusts those addresses,
       * subnets (CIDR) or the names `loopback`, `linklocal`, `uniquelocal`. `false` (default): the socket's peer is the client.
       */
      trustProxy: v.TRUST_PROXY,
      /** WebSocket quotas (0 turns one off). Connection counts are per gateway instance; the connect rate is shared (Redis). */
      websocket: {
        maxConnectionsPerIp: v.WS_MAX_CONNECTIONS_PER_IP,
        maxSubscriptionsPerConnection: v.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
        connectRatePerIp: v.WS_CONNECT_RATE_PER_IP,
        connectWindowSeconds: v.WS_CONNECT_WINDOW_SECONDS,
      },
    },
    /** Gateway performance switches (bench/README.md). */
    perf: {
      subgraphFetch: v.GATEWAY_SUBGRAPH_FETCH,
      dedupe: v.GATEWAY_DEDUPE,
      // Off unless asked for outside production: tests elsewhere read stock right after changing it over NATS.
      responseCache: v.GATEWAY_RESPONSE_CACHE ?? isProduction,
      responseCacheTtlSeconds: v.GATEWAY_RESPONSE_CACHE_TTL_SECONDS,
      entityCache: v.GATEWAY_ENTITY_CACHE ?? isProduction,
      entityCacheMaxEntries: v.GATEWAY_ENTITY_CACHE_MAX_ENTRIES,
      operationReuse: v.GATEWAY_OPERATION_REUSE,
      /** Processes serving the port (node:cluster); 1 = no cluster, 0 = one per core. */
      workers: v.GATEWAY_WORKERS,
    },
    /** Whether @apollo/gateway may send Apollo its anonymous usage telemetry (off unless asked for). */
    apolloTelemetry: v.APOLLO_TELEMETRY,
    /** The supergraph the gateway serves (default: schema/supergraph.graphql next to the build). */
    supergraphFile: v.SUPERGRAPH_FILE,
    /** The built storefront the gateway serves at `/` (default: storefront/dist next to the build; `off`: none). */
    storefrontDir: v.STOREFRONT_DIR,
    /** Longest wait for one subgraph request from the gateway (headers and body); then SERVICE_UNAVAILABLE naming it. */
    subgraphTimeoutMs: v.SUBGRAPH_TIMEOUT_MS,
    /** Payment provider of the order subgraph; production refuses the simulation unless explicitly allowed. */
    payments: {
      provider: v.PAYMENT_PROVIDER,
      allowSimulatedInProduction: v.ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION,
      /** A payment waiting for the buyer's action longer than this fails (the order's stock goes back). */
      actionTimeoutSeconds: v.PAYMENT_ACTION_TIMEOUT_SECONDS,
      /** PAYMENT_PROVIDER=stripe: the API key, the webhook signing secret, and (tests) the API's base URL. */
      stripe: { secretKey: v.STRIPE_SECRET_KEY, webhookSecret: v.STRIPE_WEBHOOK_SECRET, apiBase: v.STRIPE_API_BASE },
    },
    /** SIGTERM/SIGINT: not ready at once, keep serving `delayMs`, then drain within `graceMs` (lib/src/shutdown.ts). */
    shutdown: {
      delayMs: (v.SHUTDOWN_DELAY_SECONDS ?? (isProduction ? 5 : 0)) * 1000,
      graceMs: v.SHUTDOWN_GRACE_SECONDS * 1000,
    },
    /** `npm start`: how long each process may take to become ready. */
    startTimeoutSeconds: v.START_TIMEOUT_SECONDS,
  };
}

export type Config = ReturnType<typeof assemble>;
export type CartLimitsConfig = Config['cartLimits'];
export type PaymentsConfig = Config['payments'];
export type EdgeConfig = Config['edge'];
export type PerfConfig = Config['perf'];
export type ShutdownConfig = Config['shutdown'];

/** Rules across variables: each returns its problem, or nothing. */
const CROSS_CHECKS: ((c: Config) => string | false)[] = [
  (c) =>
    c.cartLimits.maxUnitsPerAddress < c.cartLimits.maxUnitsGuest &&
    "CART_MAX_UNITS_PER_ADDRESS must be at least CART_MAX_UNITS_GUEST (one guest cart must fit an address's budget)",
  (c) =>
    c.cartLimits.holdMaxSecondsUser < c.cartLimits.holdMaxSecondsGuest &&
    'CART_HOLD_MAX_SECONDS_USER must be at least CART_HOLD_MAX_SECONDS (a merged guest cart keeps its lifetime)',
];

/**
 * Development conveniences a production deployment must not run on (docs/security.md); every process refuses to
 * start with them. The media subgraph also refuses a missing or public MEDIA_SIGNING_SECRET
 * (subgraphs/media/src/service/signing.ts).
 */
const PRODUCTION_REFUSALS: ((c: Config) => string | false)[] = [
  (c) =>
    !c.jwt.publicKey &&
    'JWT_PUBLIC_KEY is required when NODE_ENV=production (development keys are never used in production)',
  (c) =>
    !c.jwt.internalPublicKey &&
    'INTERNAL_JWT_PUBLIC_KEY is required when NODE_ENV=production (development keys are never used in production)',
  (c) =>
    !c.smtp.host &&
    'SMTP_HOST is required when NODE_ENV=production (unset, mail would go to the development mailbox on 127.0.0.1)',
  (c) =>
    c.payments.provider === 'simulated' &&
    !c.payments.allowSimulatedInProduction &&
    'PAYMENT_PROVIDER=simulated moves no money: refused when NODE_ENV=production unless ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true',
];

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const values = Object.fromEntries(
    (Object.keys(CONFIG_VARIABLES) as VariableName[]).map((name) => {
      const { value, problem } = parseVariable(name, env[name]);
      if (problem) problems.push(problem);
      return [name, value];
    }),
  ) as Values;
  const config = assemble(values);
  const rules = config.isProduction ? [...CROSS_CHECKS, ...PRODUCTION_REFUSALS] : CROSS_CHECKS;
  // A variable already reported as invalid (its default in place) is not reported again as missing.
  const reported = new Set(problems.map((p) => /^[A-Z0-9_]+(?= )/.exec(p)?.[0]));
  for (const rule of rules) {
    const problem = rule(config);
    if (problem && !reported.has(/^[A-Z0-9_]+(?= )/.exec(problem)?.[0])) problems.push(problem);
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}
