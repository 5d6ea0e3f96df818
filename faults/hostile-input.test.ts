import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import fc from 'fast-check';
import {
  buildSchema,
  GraphQLInputType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  GraphQLField,
  getNamedType,
  isLeafType,
} from 'graphql';
import { Supergraph } from '@apollo/federation-internals';
import { createRedis, Redis } from '@shop/kernel';
import { graphql } from '@shop/kernel/testing';
import { ALL, INTERNALS, PLACEHOLDER_KEYS, Shop, startShop, Tally } from './helpers';
import { closeCode, rawSocket, RawSocket, UpgradeRefused, waitFor } from '../gateway/test/fixtures/ws';

/**
 * Hostile input, generated with fast-check for every mutation's variables from the API schema: wrong types, huge strings,
 * negative and enormous numbers, unicode, control characters, injection strings — sent by an admin (so validation, not
 * authorization, is what answers). Every answer must be a coded error or a success; never INTERNAL_SERVER_ERROR, a 5xx or
 * internals. When the answer is an error, nothing changed: a checksum of every table of every subgraph database and of
 * every Redis key of the test's prefix (rate-limit counters and cache-invalidation counters excepted: see REDIS_EXEMPT).
 */
const RUNS = Number(process.env.HOSTILE_RUNS ?? 20);
let shop: Shop;
let known: { product: string; cart: string; image: string };
let redis: Redis;

beforeAll(async () => {
  // The media subgraph needs its URL-signing secret in production.
  const MEDIA_SIGNING_SECRET = process.env.MEDIA_SIGNING_SECRET ?? 'hostile-input-test-secret-0123456789';
  shop = await startShop(Object.values(ALL), { NODE_ENV: 'production', ...PLACEHOLDER_KEYS, MEDIA_SIGNING_SECRET });
  redis = createRedis(shop.stack.env.config, { prefix: false });
  const product = await shop.product(10);
  const cart = await shop.cartWith(undefined, [[product, 1]]);
  const up = await shop.stack.gql(
    'mutation { createImageUpload(contentType: "image/png", filename: "a.png") { imageId } }',
    {},
    shop.admin,
  );
  known = { product, cart, image: up.data!.createImageUpload.imageId };
  await new Promise((r) => setTimeout(r, 1000)); // let outbox relays and email workers settle before checksumming
});
afterAll(async () => {
  await Promise.all((databases ?? []).map((d) => d.client.end()));
  redis?.disconnect();
  await shop?.stop();
});

const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR ""="',
  '1; SELECT pg_sleep(5)',
  '{"$gt": ""}',
  '$where',
  '../../../etc/passwd',
  '<script>alert(1)</script>',
  '${7*7}',
  '{{7*7}}',
  '%00',
  '\u0000',
  '\u202e',
  '\ud83d\ude00',
  'NaN',
  '-0',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  'ʇxǝʇ',
  'ｆｕｌｌ',
  'a\nb\r\nc',
  ' ',
  '',
];
const hugeString = fc.constantFrom('x'.repeat(100_000), '😀'.repeat(30_000), 'é'.repeat(70_000));
const anyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 4, arbitrary: fc.constantFrom(...INJECTIONS) },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: fc.emailAddress() },
);
const anyInt = fc.oneof(
  fc.integer(),
  fc.constantFrom(
    -1,
    0,
    -2147483648,
    2147483647,
    2147483648,
    -2147483649,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    1e308,
    0.5,
    -0.0001,
  ),
);
const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  anyString,
  fc.array(anyString, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), anyString, { maxKeys: 3 }),
);

function valueOf(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  const inner = isNonNullType(type) ? type.ofType : type;
  let typed: fc.Arbitrary<unknown>;
  if (isListType(inner)) typed = fc.array(valueOf(inner.ofType as GraphQLInputType, depth + 1), { maxLength: 3 });
  else if (isEnumType(inner)) typed = fc.oneof(fc.constantFrom(...inner.getValues().map((v) => v.name)), anyString);
  else if (isInputObjectType(inner)) {
    const fields = Object.values(inner.getFields());
    typed = fc.record(Object.fromEntries(fields.map((f) => [f.name, valueOf(f.type, depth + 1)])), {
      requiredKeys: [],
    });
  } else if (isScalarType(inner) && inner.name === 'Int') typed = anyInt;
  else if (isScalarType(inner) && inner.name === 'Boolean') typed = fc.boolean();
  else if (isScalarType(inner) && inner.name === 'ID')
    typed = fc.oneof(anyString, fc.uuid(), fc.constantFrom(...Object.values(known)));
  else typed = anyString;
  return fc.oneof({ weight: 5, arbitrary: typed }, { weight: 1, arbitrary: wrongType });
}

function documentFor(field: GraphQLField<unknown, unknown>): string {
  const vars = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `mutation Hostile${vars ? `(${vars})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`;
}

/** Waits until the databases and Redis stop changing (two equal checksums 300 ms apart, 15 s at most). */
async function settled(): Promise<void> {
  let last = await checksum();
  for (const until = Date.now() + 15_000; Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await checksum();
    if (now === last) return;
    last = now;
  }
}

/**
 * Redis keys (after the test's prefix) a refused mutation may change by design, left out of the checksum: counters that
 * count attempts, refused ones included (the user subgraph's sign-in budgets `login:` and email budgets `email:verify:`,
 * `email:reset:`; the gateway's request budgets `rl:`, off in this test), and the gateway's catalog-cache generation and
 * write leases `gateway:catalog:`, bumped before every catalog mutation is sent, whatever its answer.
 */
const REDIS_EXEMPT = ['login:', 'email:verify:', 'email:reset:', 'rl:', 'gateway:catalog:'];

/**
 * One digest per subgraph database over every row of every table (migrations bookkeeping excluded), and one per Redis
 * key under the test's prefix (its serialized value, not its TTL, which ticks), REDIS_EXEMPT excepted.
 */
async function checksum(): Promise<string> {
  return [await databasesChecksum(), await redisChecksum()].join('\n');
}

async function redisChecksum(): Promise<string> {
  const prefix = shop.stack.env.config.redisPrefix;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const parts: string[] = [];
  for (const key of keys.sort()) {
    const name = key.slice(prefix.length);
    if (REDIS_EXEMPT.some((p) => name.startsWith(p))) continue;
    const value = await redis.dumpBuffer(key);
    if (value) parts.push(`redis.${name}:${createHash('md5').update(value).digest('hex')}`);
  }
  return parts.join('\n');
}

/** One open connection per subgraph database with its checksum query (the tables do not change after migrations). */
let databases: { name: string; client: Client; sql: string }[] | undefined;

async function openDatabases(): Promise<NonNullable<typeof databases>> {
  const base = new URL(shop.stack.env.config.postgresUrl);
  base.pathname = '/postgres';
  const admin = new Client({ connectionString: base.toString() });
  await admin.connect();
  const dbs = (
    await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1`, [
      `${shop.stack.env.config.dbPrefix}\\_%`,
    ])
  ).rows;
  await admin.end();
  return Promise.all(
    dbs.map(async ({ datname }) => {
      const u = new URL(base.toString());
      u.pathname = `/${datname}`;
      const client = new Client({ connectionString: u.toString() });
      await client.connect();
      const tables = (
        await client.query<{ t: string; name: string }>(
          `SELECT quote_ident(tablename) AS t, tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'mikro_orm%' ORDER BY 2`,
        )
      ).rows;
      // Every table in one round trip.
      const sql = tables
        .map(
          ({ t, name }) =>
            `SELECT ${client.escapeLiteral(name)} AS t, count(*)::int AS n, md5(coalesce(string_agg(md5(x::text), '' ORDER BY md5(x::text)), '')) AS h FROM ${t} x`,
        )
        .join(' UNION ALL ');
      return { name: datname, client, sql };
    }),
  );
}

async function databasesChecksum(): Promise<string> {
  databases ??= await openDatabases();
  const parts = await Promise.all(
    databases.map(async ({ name, client, sql }) =>
      sql
        ? (await client.query<{ t: string; n: number; h: string }>(sql)).rows.map((r) => `${name}.${r.t}:${r.n}:${r.h}`)
        : [],
    ),
  );
  return parts.flat().join('\n');
}

/** The error text minus the caller's own values (validation messages quote them; an injected "SELECT" is not a leak). */
function withoutEcho(text: string, variables: unknown): string {
  const strings: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') strings.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(variables);
  return strings
    .filter((x) => x.length > 2)
    .sort((a, b) => b.length - a.length)
    .reduce((t, x) => t.split(JSON.stringify(x).slice(1, -1)).join('…'), text);
}

const ALLOWED_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'EMAIL_NOT_VERIFIED',
  'INVALID_CREDENTIALS',
  'EMAIL_TAKEN',
  'INVALID_TOKEN',
  'INSUFFICIENT_STOCK',
  'CART_EXPIRED',
  'CART_EMPTY',
  'PAYMENT_DECLINED',
  'IDEMPOTENCY_CONFLICT',
  'RATE_LIMITED',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
]);

const tally = new Tally(`Hostile input (fast-check, ${RUNS} runs × every mutation)`);
let accepted = 0;
let changedOnError = 0;
afterAll(() =>
  tally.print(
    changedOnError,
    `${accepted} accepted as valid; every refusal coded, none INTERNAL_SERVER_ERROR or 5xx; databases and Redis (counters excepted) unchanged after each refusal`,
  ),
);

/** Mutations that went through all RUNS hostile inputs (checked against the API's list at the end). */
const exercised = new Map<string, number>();

describe('hostile variables', () => {
  const sdl = fs.readFileSync(path.join(__dirname, '../schema/supergraph.graphql'), 'utf8');
  const fields = Object.values(Supergraph.build(sdl).apiSchema().toGraphQLJSSchema().getMutationType()!.getFields());
  test.each(fields.map((f) => [f.name, f] as const))('%s', async (_name, field) => {
    const document = documentFor(field);
    const vars = fc.record(Object.fromEntries(field.args.map((a) => [a.name, valueOf(a.type)])));
    await fc.assert(
      fc.asyncProperty(vars, async (variables) => {
        const before = await checksum();
        exercised.set(field.name, (exercised.get(field.name) ?? 0) + 1);
        const res = await graphql(shop.stack.gatewayUrl, document, variables, { token: shop.admin });
        tally.count(res);
        if (res.status === 413) return; // over the 1 MB body limit: refused before anything runs
        expect(res.status).toBeLessThan(500);
        if (!res.errors?.length) {
          accepted++;
          // An accepted mutation has effects that land later (events → emails, audit); let them settle so they are
          // not blamed on the next, refused, input.
          await settled();
          return;
        }
        for (const e of res.errors) {
          const code = String(e.extensions?.code);
          if (!ALLOWED_CODES.has(code) || INTERNALS.test(withoutEcho(JSON.stringify(e), variables)))
            throw new Error(
              `${field.name} answered ${JSON.stringify(e)} to ${JSON.stringify(variables).slice(0, 300)}`,
            );
        }
        const after = await checksum();
        if (after !== before) {
          changedOnError++;
          const b = new Set(before.split('\n'));
          throw new Error(
            `${field.name} refused but changed ${after
              .split('\n')
              .filter((l) => !b.has(l))
              .join(', ')}`,
          );
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});

test('every mutation of the public API (schema/api.graphql) went through every hostile run', () => {
  const published = Object.keys(
    buildSchema(fs.readFileSync(path.join(__dirname, '../schema/api.graphql'), 'utf8'))
      .getMutationType()!
      .getFields(),
  );
  expect(published.length).toBeGreaterThan(20);
  expect([...exercised.keys()].sort()).toEqual([...published].sort());
  expect([...exercised].filter(([, runs]) => runs < RUNS)).toEqual([]);
});

/**
 * Hostile request targets against the gateway's /media proxy, written byte for byte on raw sockets: absolute-form
 * request lines naming internal services, dot segments plain, percent-encoded and double-encoded, backslashes, encoded
 * slashes, scheme-relative and authority-looking paths. Every answer is a refusal (400/404/405, or 403 INVALID_TOKEN
 * for an upload path without its signature; coded JSON when the proxy answers), no internal service is reached —
 * neither a listening "internal" server (think: the mail catcher) nor any subgraph's /health or /ready — and the
 * gateway keeps serving.
 */
describe('hostile /media request targets (raw sockets)', () => {
  const mediaTally = new Tally(`Hostile /media request targets (fast-check, ${RUNS * 10} runs, raw sockets)`);
  let internal: http.Server;
  let internalHits = 0;
  let internalOrigins: string[] = [];
  beforeAll(async () => {
    internal = http.createServer((_req, res) => {
      internalHits++;
      res.end('{"secret":"internal-only"}');
    });
    await new Promise<void>((r) => internal.listen(0, '127.0.0.1', () => r()));
    internalOrigins = [
      `http://127.0.0.1:${(internal.address() as net.AddressInfo).port}`,
      ...Object.values(shop.stack.services).map((s) => new URL(s.url).origin),
    ];
  });
  afterAll(async () => {
    mediaTally.print(internalHits, 'every target refused; no internal service reached; gateway healthy after');
    internal?.closeAllConnections();
    await new Promise((r) => internal?.close(r));
  });

  function raw(target: string, method: string): Promise<{ status: number; body: string }> {
    const port = Number(new URL(shop.stack.gatewayUrl).port);
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${method} ${target}`)));
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        resolve({
          status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0),
          body: text.slice(text.indexOf('\r\n\r\n') + 4),
        });
      });
      socket.write(
        `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${method === 'PUT' ? 'Content-Length: 0\r\n' : ''}Connection: close\r\n\r\n`,
      );
    });
  }

  const DOTS = [
    '..',
    '.',
    '%2e%2e',
    '%2E%2E',
    '.%2e',
    '%2e.',
    '%2e',
    '%252e%252e',
    '%25252e%25252e',
    '..%2f',
    '..%2F',
    '..%5c',
    '..%255c',
    '..\\',
    '\\..',
    '%c0%ae%c0%ae',
  ];
  const NAMES = [
    'health',
    'ready',
    'graphql',
    'uploads',
    'small',
    'original',
    'dev',
    'mail.json',
    '00000000-0000-4000-8000-000000000000',
    '',
  ];
  const SEPARATORS = ['/', '/', '/', '\\', '%2f', '%5c', '//', '%252f'];
  const segment = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...DOTS) },
    { weight: 2, arbitrary: fc.constantFrom(...NAMES) },
  );
  const pathTail = fc
    .array(fc.tuple(fc.constantFrom(...SEPARATORS), segment), { minLength: 1, maxLength: 6 })
    .map((parts) => parts.map(([sep, seg]) => sep + seg).join(''));
  const target = fc
    .tuple(
      fc.oneof(
        { weight: 2, arbitrary: fc.constant('') },
        // absolute-form, scheme-relative and userinfo-looking prefixes naming an internal origin
        { weight: 2, arbitrary: fc.nat().map((i) => internalOrigins[i % internalOrigins.length]) },
        { weight: 1, arbitrary: fc.nat().map((i) => internalOrigins[i % internalOrigins.length].replace('http:', '')) },
        {
          weight: 1,
          arbitrary: fc.nat().map((i) => internalOrigins[i % internalOrigins.length].replace('http://', 'https://')),
        },
      ),
      fc.constantFrom(
        '/media',
        '/media/',
        '/MEDIA',
        '/media/uploads',
        `/media/${'00000000-0000-4000-8000-000000000000'}`,
      ),
      pathTail,
      fc.oneof(fc.constant(''), fc.constantFrom('?x=../../health', '?expires=1&sig=x', '?%2e%2e=%2f')),
    )
    .map(([origin, mount, tail, query]) => `${origin}${mount}${tail}${query}`);

  test('encoded paths and absolute-form targets: refused, no internal service reached, gateway healthy', async () => {
    await fc.assert(
      fc.asyncProperty(target, fc.constantFrom('GET', 'HEAD', 'PUT'), async (t, method) => {
        const res = await raw(t, method);
        let code = `HTTP_${res.status}`;
        try {
          code = String(JSON.parse(res.body).code ?? code);
        } catch {
          /* Express's own 404 page for paths outside /media, or no body (HEAD) */
        }
        mediaTally.count({ errors: [{ message: '', extensions: { code } }] });
        // 403 INVALID_TOKEN: a PUT that names a real upload path, refused for its missing signature.
        const refused = [400, 404, 405].includes(res.status) || (res.status === 403 && code === 'INVALID_TOKEN');
        if (!refused) throw new Error(`${method} ${t} answered ${res.status}: ${res.body.slice(0, 200)}`);
        if (
          /internal-only|"service":"(user|product|cart|order|media|notification)"|"status":"(ok|ready)"/.test(res.body)
        )
          throw new Error(`${method} ${t} reached an internal service: ${res.body.slice(0, 200)}`);
        expect(internalHits).toBe(0);
      }),
      { numRuns: RUNS * 10, endOnFailure: true },
    );
    expect(internalHits).toBe(0);
    // Still serving, /media included.
    expect((await fetch(new URL('/health', shop.stack.gatewayUrl))).status).toBe(200);
    expect((await graphql(shop.stack.gatewayUrl, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    const img = await fetch(new URL(`/media/${known.image}/small`, shop.stack.gatewayUrl));
    expect(img.status).toBe(404); // a pending upload: the media service answers, through the proxy
    expect(await img.json()).toMatchObject({ code: 'NOT_FOUND', error: 'Image not found' });
  });
});

/**
 * Hostile WebSocket traffic against the production gateway (its default quotas): a message over 1 MB, a flood of
 * subscribe messages on one socket, and many sockets from one address. Every refusal is coded, nothing crashes, and
 * the gateway keeps answering.
 */
describe('hostile WebSocket traffic', () => {
  const opened: RawSocket[] = [];
  afterAll(() => opened.forEach((s) => s.close()));
  const open = async (): Promise<RawSocket> => {
    const s = await rawSocket(shop.stack.gatewayUrl, { token: shop.admin });
    opened.push(s);
    return s;
  };
  const stillServing = async () => {
    const r = await graphql(shop.stack.gatewayUrl, '{ categories { slug } }');
    expect(r.status).toBe(200);
    expect(r.errors).toBeUndefined();
  };

  test('a message over 1 MB closes the socket with 1009 (Message Too Big)', async () => {
    const s = await open();
    expect(s.acked).toBe(true);
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined); // graphql-ws reports the ws error
    try {
      s.subscribe('big', '{ __typename }', { pad: 'x'.repeat(1024 * 1024 + 1) });
      expect(await s.closed).toBe(1009);
    } finally {
      logged.mockRestore();
    }
    await stillServing();
  });

  test('a flood of subscribe messages: at most WS_MAX_SUBSCRIPTIONS_PER_CONNECTION (20) run, the rest are refused with a code', async () => {
    // A cart of its own: the hostile mutations above may have merged, emptied or ordered `known.cart` (then no
    // subscription on it ever answers and the count below never completes).
    const cart = await shop.cartWith(undefined, [[await shop.product(10), 1]]);
    const s = await open();
    const query = `subscription F($c: ID!) { cartTimer(cartId: $c) { cartId status } }`;
    for (let i = 0; i < 500; i++) s.subscribe(String(i), query, { c: cart });
    await waitFor(() => new Set(s.messages.filter((m) => m.id !== undefined).map((m) => m.id)).size === 500, 30_000);
    const errors = s.messages.filter((m) => m.type === 'error');
    const running = new Set(s.messages.filter((m) => m.type === 'next').map((m) => m.id));
    expect(running.size).toBeLessThanOrEqual(20);
    expect(errors.length).toBeGreaterThanOrEqual(480);
    for (const e of errors)
      expect(e.payload[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'subscriptions', max: 20 });
    expect(await closeCode(s, 100)).toBeUndefined();
    // A repeated id is a protocol error: graphql-ws closes with 4409.
    s.subscribe('0', query, { c: cart });
    expect(await s.closed).toBe(4409);
    await stillServing();
  }, 60_000);

  test('many sockets from one address: beyond WS_MAX_CONNECTIONS_PER_IP (50) the upgrade is refused with 429 and a code', async () => {
    const results = await Promise.allSettled(Array.from({ length: 70 }, () => open()));
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(accepted).toBeLessThanOrEqual(50);
    expect(refused.length).toBeGreaterThanOrEqual(20);
    for (const e of refused) {
      expect(e).toBeInstanceOf(UpgradeRefused);
      expect((e as UpgradeRefused).status).toBe(429);
      expect(JSON.parse((e as UpgradeRefused).body).errors[0].extensions).toMatchObject({
        code: 'RATE_LIMITED',
        limit: 'connections',
        max: 50,
      });
    }
    await stillServing();
    for (const s of opened.splice(0)) {
      s.close();
      await s.closed;
    }
    await new Promise((r) => setTimeout(r, 200));
    expect((await open()).acked).toBe(true); // the slots come back
  }, 60_000);
});
