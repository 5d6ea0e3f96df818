import { Stack, startStack } from '@shop/kernel';
import { startGateway } from '../../../gateway/src';
import userSubgraph from '../src';
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
    expect(codes(await stack.gql(LOGIN, { email: uniqueEmail('spray'), password: 'guessing password' }))).toEqual(['INVALID_CREDENTIALS']);
  }
  const limited = await stack.gql(LOGIN, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  expect(codes(limited)).toEqual(['RATE_LIMITED']);
});
