import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Supergraph } from '@apollo/federation-internals';
import { Client } from 'pg';
import { Bus, createRedis, databaseName, makeEvent, NonRetryableError, Redis } from '@shop/kernel';
import { eventually, GraphQLResponse, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../src';
import userSubgraph from '../../../subgraphs/user/src';
import productSubgraph from '../../../subgraphs/product/src';
import cartSubgraph from '../../../subgraphs/cart/src';
import orderSubgraph from '../../../subgraphs/order/src';
import mediaSubgraph from '../../../subgraphs/media/src';
import notificationSubgraph from '../../../subgraphs/notification/src';
import {
  LOGIN,
  PASSWORD,
  REGISTER,
  signedInUser,
  tokenFromOutbox,
  uniqueEmail,
  VERIFY,
} from '../../../subgraphs/user/test/helpers';
import { createProduct, ensureCategory, ok } from '../../../subgraphs/product/test/helpers';
import { bytes, makeImage } from '../../../subgraphs/media/test/helpers';
import { Fixtures, MATRIX, MatrixRow, Outcome, Role, ROLES, rootField, Untouched } from './matrix';

/**
 * Drives every cell of the authorization matrix through the real gateway (all six subgraphs, real accounts,
 * carts, orders and uploaded images made through the public API), so the table in docs/security.md is the tested one.
 */
let stack: Stack;
let root: string;
let fx: Fixtures;
/** Signs the account behind `role` in again (after its password changed, which revoked its sessions). */
let signInAgain: (role: 'user' | 'other' | 'admin') => Promise<void>;
/** A consumer of `media.matrix_dead_letter` that refuses every message for good: each one becomes a dead letter. */
let deadLetterBus: Bus | undefined;
const DEAD_LETTER_TYPE = 'media.matrix_dead_letter';
const ADDRESS = { name: 'Ann Buyer', line1: '1 Main Street', city: 'Springfield', postalCode: '12345', country: 'US' };

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'authz-'));
  stack = await startStack({
    subgraphs: [userSubgraph, productSubgraph, cartSubgraph, orderSubgraph, mediaSubgraph, notificationSubgraph],
    gateway: startGateway,
    // Every cell signs somebody in from the same address: the per-IP login limit is not what this suite is about.
    env: {
      MEDIA_DIR: path.join(root, 'media'),
      KEYS_DIR: path.join(root, 'keys'),
      LOGIN_RATE_LIMIT_PER_IP: '100000',
      LOGIN_RATE_LIMIT_PER_EMAIL: '100000',
    },
  });
  const [user, other, admin] = [
    await signedInUser(stack),
    await signedInUser(stack),
    await signedInUser(stack, { role: 'ADMIN' }),
  ];
  const tokens: Record<Role, string | undefined> = {
    anonymous: undefined,
    user: user.accessToken,
    other: other.accessToken,
    admin: admin.accessToken,
  };
  await ensureCategory(stack, admin.accessToken, 'audio');
  const gql = (q: string, v: Record<string, unknown>, t?: string) => stack.gql(q, v, t).then(ok);
  const gatewayOrigin = new URL(stack.gatewayUrl).origin;

  const product = async () => (await createProduct(stack, tokens.admin!, { stock: 1000 })).id;
  const cartWithLine = async (token?: string) => {
    const cartId = (await gql('mutation { createCart { id } }', {}, token)).createCart.id as string;
    const productId = await product();
    await gql(
      'mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { id } }',
      { c: cartId, p: productId },
      token,
    );
    return { cartId, productId };
  };
  const account = async () => {
    const email = uniqueEmail('matrix');
    const id = (await gql(REGISTER, { input: { email, password: PASSWORD } })).register.id as string;
    await gql(VERIFY, { t: await tokenFromOutbox(stack, 'user.registered', email) });
    return { id, email, password: PASSWORD };
  };
  const emails = { user: user.email, other: other.email, admin: admin.email };
  signInAgain = async (role) => {
    tokens[role] = (await gql(LOGIN, { email: emails[role], password: fx.passwords[role] })).login
      .accessToken as string;
  };
  let slugs = 0;
  fx = {
    token: (role) => tokens[role],
    passwords: { user: PASSWORD, other: PASSWORD, admin: PASSWORD },
    ids: { user: user.id, other: other.id, admin: admin.id },
    product,
    slug: () => `matrix-${Date.now().toString(36)}-${++slugs}`,
    userCart: () => cartWithLine(tokens.user),
    guestCart: () => cartWithLine(undefined),
    async ownCart(role) {
      if (tokens[role]) await gql('mutation { createCart { id } }', {}, tokens[role]);
    },
    async order() {
      const { cartId } = await cartWithLine(tokens.user);
      const placed = await gql(
        'mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id } }',
        { i: { cartId, shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, k: randomUUID() },
        tokens.user,
      );
      return placed.placeOrder.id as string;
    },
    account,
    async verificationToken() {
      const email = uniqueEmail('unverified');
      await gql(REGISTER, { input: { email, password: PASSWORD } });
      return tokenFromOutbox(stack, 'user.registered', email);
    },
    async resetToken() {
      const a = await account();
      await gql('mutation($e: String!) { requestPasswordReset(email: $e) }', { e: a.email });
      return tokenFromOutbox(stack, 'user.password_reset_requested', a.email);
    },
    async refreshToken() {
      const a = await account();
      return (await gql(LOGIN, { email: a.email, password: a.password })).login.refreshToken as string;
    },
    async image() {
      const ticket = (
        await gql(
          'mutation { createImageUpload(contentType: "image/png", filename: "m.png") { imageId uploadUrl } }',
          {},
          tokens.admin,
        )
      ).createImageUpload;
      const u = new URL(ticket.uploadUrl);
      const res = await fetch(`${gatewayOrigin}${u.pathname}${u.search}`, {
        method: 'PUT',
        body: bytes(await makeImage('png', 64, 48)),
        headers: { 'content-type': 'image/png' },
      });
      if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
      return ticket.imageId as string;
    },
    async deadLetter() {
      if (!deadLetterBus) {
        deadLetterBus = await Bus.connect(stack.env.config, undefined, 'authz-matrix');
        await deadLetterBus.consume({
          durable: 'authz-matrix',
          subjects: [DEAD_LETTER_TYPE],
          handler: async () => {
            throw new NonRetryableError('refused by the authorization matrix fixture');
          },
        });
      }
      const bus = deadLetterBus;
      const event = makeEvent(DEAD_LETTER_TYPE, { fixture: true });
      await bus.publish(event);
      const letter = await eventually('the fixture dead letter', async () =>
        (await bus.deadLetters().list(100)).find((l) => l.eventId === event.id),
      );
      return letter.id;
    },
  };
}, 120_000);

afterAll(async () => {
  await deadLetterBus?.close();
  redis?.disconnect();
  for (const c of databases.values()) await (await c).end();
  await stack?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** The first event of a subscription over the gateway's WebSocket, as a GraphQL response. */
async function firstEvent(
  document: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<GraphQLResponse> {
  const client = createClient({
    url: stack.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
  try {
    for await (const r of client.iterate({ query: document, variables })) return r as GraphQLResponse;
    return { errors: [{ message: 'the subscription ended without an event' }] };
  } catch (err) {
    // graphql-ws rejects with the error list when the subscription is refused at subscribe time.
    const list = Array.isArray(err) ? err : [{ message: String((err as Error).message ?? err) }];
    return { errors: list };
  } finally {
    await client.dispose();
  }
}

let redis: Redis | undefined;
const databases = new Map<string, Promise<Client>>();
function database(service: Exclude<Untouched['service'], 'cart' | 'notification'>): Promise<Client> {
  let c = databases.get(service);
  if (!c) {
    const u = new URL(stack.env.config.postgresUrl);
    u.pathname = `/${databaseName(stack.env.config, service)}`;
    const client = new Client({ connectionString: u.toString() });
    databases.set(service, (c = client.connect().then(() => client)));
  }
  return c;
}

/** The state of the resources a cell's call must not change, one line each (rows as JSON, the cart as stored). */
async function snapshot(untouched: Untouched[]): Promise<string[]> {
  return Promise.all(
    untouched.map(async (u) => {
      if (u.service === 'cart') {
        redis ??= createRedis(stack.env.config);
        const [cart, deadline] = await Promise.all([
          redis.get(`cart:${u.cartId}`),
          redis.zscore('cart:deadlines', u.cartId),
        ]);
        // The fixture made this cart: seeing none means the check looks in the wrong place.
        if (!cart) throw new Error(`no cart ${u.cartId} in Redis`);
        return `cart ${u.cartId}: ${cart} deadline ${deadline}`;
      }
      if (u.service === 'notification') {
        // The letter as stored in the DLQ stream (a refused replay or discard would have deleted it).
        const letter = await deadLetterBus!.deadLetters().get(Number(u.deadLetter));
        if (!letter) throw new Error(`no dead letter ${u.deadLetter}`);
        return `dead letter ${u.deadLetter}: ${JSON.stringify(letter)}`;
      }
      const db = await database(u.service);
      const where = u.column ? `WHERE x."${u.column}"::text = $1` : '';
      const { rows } = await db.query(
        `SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY to_jsonb(x)::text), '[]')::text AS rows FROM "${u.table}" x ${where}`,
        u.column ? [u.value] : [],
      );
      if (u.column === 'id' && rows[0].rows === '[]') throw new Error(`no ${u.service}.${u.table} row ${u.value}`);
      return `${u.service}.${u.table}${u.column ? ` ${u.column}=${u.value}` : ''}: ${rows[0].rows}`;
    }),
  );
}

function outcomeOf(row: MatrixRow, res: GraphQLResponse): string {
  const err = res.errors?.[0];
  if (err) return String(err.extensions?.code ?? `uncoded error: ${err.message}`);
  const value = res.data?.[rootField(row)];
  if (value === undefined) return 'no data';
  return value === null ? 'null' : 'allowed';
}

async function runCell(row: MatrixRow, role: Role): Promise<string> {
  const variables = (await row.variables?.(fx, role)) ?? {};
  const token = fx.token(role);
  // A refused mutation changes nothing: the resources it names are compared before and after.
  const guarded = row.untouched && refusal(row.expect[role]) ? row.untouched(variables, fx) : undefined;
  const before = guarded && (await snapshot(guarded));
  const res = row.field.startsWith('Subscription.')
    ? await firstEvent(row.document, variables, token)
    : await stack.gql(row.document, variables, token);
  const outcome = outcomeOf(row, res);
  if (guarded && before && res.errors?.length) {
    const after = await snapshot(guarded);
    const changed = after.filter((line, i) => line !== before[i]);
    if (changed.length)
      return `${outcome}, but changed: ${changed.join(' | ')} (was: ${before.filter((l) => !after.includes(l)).join(' | ')})`;
  }
  // A changed password ends every session of the account, this access token included (live sessions follow the account).
  if (row.field === 'Mutation.changePassword' && role !== 'anonymous' && outcome === 'allowed') await signInAgain(role);
  return outcome;
}

const refusal = (o: Outcome) => o === 'UNAUTHENTICATED' || o === 'FORBIDDEN';
const label = (row: MatrixRow) => (row.on ? `${row.field} (${row.on})` : row.field);

test('the matrix covers every root field of the public API', () => {
  const sdl = fs.readFileSync(path.join(__dirname, '../../../schema/supergraph.graphql'), 'utf8');
  const api = Supergraph.build(sdl).apiSchema().toGraphQLJSSchema();
  const fields = [api.getQueryType(), api.getMutationType(), api.getSubscriptionType()].flatMap((t) =>
    t ? Object.keys(t.getFields()).map((f) => `${t.name}.${f}`) : [],
  );
  const covered = new Set(MATRIX.map((r) => r.field));
  expect(fields.filter((f) => !covered.has(f))).toEqual([]);
  expect(MATRIX.map((r) => r.field.split('.').slice(0, 2).join('.')).filter((f) => !fields.includes(f))).toEqual([]);
});

test('every mutation that refuses somebody says what the refusal must leave untouched', () => {
  const unguarded = MATRIX.filter(
    (r) => r.field.startsWith('Mutation.') && ROLES.some((role) => refusal(r.expect[role])) && !r.untouched,
  );
  expect(unguarded.map(label)).toEqual([]);
});

describe.each(MATRIX.map((row) => [label(row), row] as const))('%s', (_name, row) => {
  test('every role gets what the matrix says', async () => {
    const actual = {} as Record<Role, string>;
    for (const role of ROLES) actual[role] = await runCell(row, role);
    expect(actual).toEqual(row.expect satisfies Record<Role, Outcome>);
  });
});
