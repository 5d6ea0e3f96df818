import { randomUUID } from 'node:crypto';
import type { Subscription } from 'nats';
import { signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import cartSubgraph from '../../cart/src';
import { ADD, CREATE_CART } from '../../cart/test/helpers';
import productSubgraph from '../../product/src';
import { createProduct, ensureCategory } from '../../product/test/helpers';
import userSubgraph, { StartedUser } from '../../user/src';
import { signedInUser } from '../../user/test/helpers';
import orderSubgraph from '../src';
import { ADDRESS, db, directAccount, eventually, ok, PLACE_ORDER, svc } from './helpers';

/**
 * The buyer directory (service/buyers.ts): the checkout takes the buyer's contact from the order database, kept by
 * the user subgraph's events, and asks `user.get` only for a buyer it does not have yet.
 */
let stack: Stack;
let admin: string;
let productId: string;
/** Every `user.get` request on the bus (a plain subscription sees each request beside the serving queue group). */
let userGets: string[] = [];
let spy: Subscription;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [userSubgraph, productSubgraph, cartSubgraph, orderSubgraph],
    gateway: startGateway,
  });
  admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  await ensureCategory(stack, admin, 'audio');
  productId = (await createProduct(stack, admin, { name: 'Cable', price: 500, stock: 100 })).id;
  const bus = svc(stack).bus;
  spy = bus.nc.subscribe(bus.subject('cmd.user.get'), {
    callback: (_err, msg) => userGets.push((msg.json() as { id: string }).id),
  });
});
afterAll(async () => {
  spy?.unsubscribe();
  await stack?.stop();
});
beforeEach(() => (userGets = []));

const UPDATE_PROFILE = `mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id firstName } }`;

/** One unit in a new cart, ordered; the order's contact snapshot as stored. */
async function order(token: string) {
  const cartId = ok(await stack.gql(CREATE_CART, {}, token)).createCart.id;
  ok(await stack.gql(ADD, { c: cartId, p: productId, q: 1 }, token));
  const placed = ok(
    await stack.gql(
      PLACE_ORDER,
      { input: { cartId, shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, key: randomUUID() },
      token,
    ),
  ).placeOrder;
  const [row] = await db(stack)(`SELECT buyer_email, buyer_first_name FROM orders WHERE id = ?`, [placed.id]);
  return row as { buyer_email: string; buyer_first_name: string | null };
}

const directoryRow = async (userId: string) =>
  (await db(stack)(`SELECT email, first_name, updated_at FROM buyers WHERE user_id = ?`, [userId]))[0] as
    { email: string; first_name: string | null; updated_at: Date } | undefined;

test('a buyer who signed up is in the directory from user.registered: the checkout asks the user subgraph nothing', async () => {
  const user = await signedInUser(stack);
  await eventually('the directory row', () => directoryRow(user.id));
  // Every round trip goes through the connection's executeQuery.
  const execute = jest.spyOn(
    svc(stack).orm.em.getConnection() as unknown as { executeQuery(sql: string): Promise<unknown> },
    'executeQuery',
  );
  try {
    expect(await order(user.accessToken)).toEqual({ buyer_email: user.email, buyer_first_name: null });
    // The row came with the idempotency claim (a prepared statement: its text is sent once per connection, when it
    // is PREPAREd): no statement of its own.
    const reads = execute.mock.calls.map(([sql]) => String(sql)).filter((sql) => sql.includes('FROM buyers'));
    expect(reads.length).toBeLessThanOrEqual(1);
    for (const sql of reads) expect(sql).toMatch(/^PREPARE pp_\w+ AS INSERT INTO idempotency_keys/);
  } finally {
    execute.mockRestore();
  }
  expect(userGets).toEqual([]);
});

test('a name change reaches the directory (user.profile_updated) and the next order; an unchanged name publishes nothing', async () => {
  const user = await signedInUser(stack);
  ok(await stack.gql(UPDATE_PROFILE, { i: { firstName: 'Zoë' } }, user.accessToken));
  await eventually('the new name in the directory', async () => (await directoryRow(user.id))?.first_name === 'Zoë');
  expect(await order(user.accessToken)).toEqual({ buyer_email: user.email, buyer_first_name: 'Zoë' });
  expect(userGets).toEqual([]);

  ok(await stack.gql(UPDATE_PROFILE, { i: { firstName: 'Zoë', lastName: null } }, user.accessToken));
  const events = await (stack.services.user as StartedUser).orm.em
    .fork()
    .getConnection()
    .execute<{ payload: { data: unknown } }[]>(
      `SELECT payload FROM outbox WHERE payload->>'type' = 'user.profile_updated' AND payload#>>'{data,userId}' = ?`,
      [user.id],
    );
  expect(events.map((e) => e.payload.data)).toEqual([
    { userId: user.id, email: user.email, firstName: 'Zoë', lastName: null },
  ]);
});

test('a buyer the directory does not have is asked for once (user.get) and written; the next checkout asks nothing', async () => {
  // Inserted behind the user subgraph's back: no event, as for an account older than the directory.
  const { id, email, token } = await directAccount(stack, { emailPrefix: 'old' });
  expect(await directoryRow(id)).toBeUndefined();

  expect(await order(token)).toEqual({ buyer_email: email, buyer_first_name: 'Ann' });
  expect(userGets).toEqual([id]);
  expect(await directoryRow(id)).toMatchObject({ email, first_name: 'Ann' });
  expect(await order(token)).toEqual({ buyer_email: email, buyer_first_name: 'Ann' });
  expect(userGets).toEqual([id]);
});

test('an older event (late, or replayed) never brings an old name back; an event without a usable contact changes nothing', async () => {
  const { buyers } = svc(stack);
  const userId = randomUUID();
  const event = (type: string, firstName: string, occurredAt: string, data: object = {}) => ({
    v: 1 as const,
    id: randomUUID(),
    type,
    occurredAt,
    data: { userId, email: 'late@example.test', firstName, lastName: null, ...data },
  });
  await buyers.apply(event('user.profile_updated', 'New', '2026-12-06T10:00:01.000Z'));
  await buyers.apply(event('user.registered', 'Old', '2026-12-06T10:00:00.000Z'));
  expect(await directoryRow(userId)).toMatchObject({ first_name: 'New' });
  await buyers.apply(event('user.profile_updated', 'Newer', '2026-12-06T10:00:02.000Z'));
  expect(await directoryRow(userId)).toMatchObject({ first_name: 'Newer' });

  await buyers.apply(event('user.profile_updated', 'X', '2026-12-06T10:00:03.000Z', { email: '' }));
  await buyers.apply(event('user.profile_updated', 'X', '2026-12-06T10:00:03.000Z', { userId: 'not-a-uuid' }));
  await buyers.apply(event('user.profile_updated', 'X', 'not a date'));
  await buyers.apply(event('user.password_changed', 'X', '2026-12-06T10:00:03.000Z'));
  expect(await directoryRow(userId)).toMatchObject({ email: 'late@example.test', first_name: 'Newer' });
});
