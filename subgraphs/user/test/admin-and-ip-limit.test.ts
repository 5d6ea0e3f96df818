import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import userSubgraph, { StartedUser } from '../src';
import { codes, LOGIN, ME, uniqueEmail } from './helpers';

const ADMIN_EMAIL = 'Root@Shop.Example';
const ADMIN_PASSWORD = 'admin password for tests';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [userSubgraph],
    gateway: startGateway,
    env: { ADMIN_EMAIL, ADMIN_PASSWORD, LOGIN_RATE_LIMIT_PER_IP: '4', LOGIN_RATE_LIMIT_PER_EMAIL: '100' },
  });
});
afterAll(() => stack?.stop());

test('the configured admin exists at start, verified, and can sign in as ADMIN', async () => {
  const login = await stack.gql(LOGIN, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  expect(login.errors).toBeUndefined();
  expect(login.data!.login.user).toMatchObject({ email: 'root@shop.example', role: 'ADMIN' });
  const me = await stack.gql(ME, {}, login.data!.login.accessToken);
  expect(me.data!.me).toMatchObject({ role: 'ADMIN', emailVerified: true });
});

test('failed sign-ins from one address across many emails → RATE_LIMITED for that address', async () => {
  for (let i = 0; i < 4; i++) {
    expect(codes(await stack.gql(LOGIN, { email: uniqueEmail('spray'), password: 'guessing password' }))).toEqual([
      'INVALID_CREDENTIALS',
    ]);
  }
  const limited = await stack.gql(LOGIN, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  expect(codes(limited)).toEqual(['RATE_LIMITED']);
});

test('user.get command: the email and name for a user id; NOT_FOUND for anyone else', async () => {
  const { Bus } = await import('@shop/kernel');
  const bus = await Bus.connect(stack.env.config);
  try {
    // (Sign-in is rate limited for this address by now: read the id from the database.)
    const [{ id }] = await (stack.services.user as StartedUser).orm.em
      .fork()
      .getConnection()
      .execute(`SELECT id FROM users WHERE email = 'root@shop.example'`);
    expect(await bus.request('user.get', { id })).toEqual({
      id,
      email: 'root@shop.example',
      firstName: null,
      emailVerified: true,
    });
    const err: any = await bus
      .request('user.get', { id: '00000000-0000-4000-8000-000000000000' })
      .catch((e: unknown) => e);
    expect(err.extensions.code).toBe('NOT_FOUND');
    const bad: any = await bus.request('user.get', { id: 'not-a-uuid' }).catch((e: unknown) => e);
    expect(bad.extensions.code).toBe('NOT_FOUND');
  } finally {
    await bus.close();
  }
});
