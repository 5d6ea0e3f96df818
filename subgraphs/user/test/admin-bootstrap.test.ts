import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import userSubgraph, { StartedUser } from '../src';
import { codes, LOGIN, PASSWORD, REGISTER, uniqueEmail } from './helpers';

/**
 * ADMIN_EMAIL / ADMIN_PASSWORD at start must never hand the admin role to an account somebody else registered
 * first: the service is started a second time on the same database with the admin settings pointing at it.
 */
const ADMIN_PASSWORD = 'admin password for tests';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ subgraphs: [userSubgraph], gateway: startGateway });
});
afterAll(() => stack?.stop());

const db = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
  (stack.services.user as StartedUser).orm.em.fork().getConnection().execute<T[]>(sql, params);
const roleOf = async (email: string) =>
  (await db<{ role: string }>(`SELECT role FROM users WHERE email = ?`, [email]))[0]?.role;

/** Starts another user service instance with ADMIN_EMAIL / ADMIN_PASSWORD set, on the same database. */
async function startWithAdmin(email: string, password = ADMIN_PASSWORD): Promise<StartedUser> {
  const config = { ...stack.env.config, admin: { email, password } };
  return userSubgraph.start({ config, keys: stack.env.keys, logger: stack.env.logger, port: 0 });
}

async function register(email: string, password: string, verified: boolean): Promise<void> {
  const reg = await stack.gql(REGISTER, { input: { email, password } });
  expect(reg.errors).toBeUndefined();
  if (verified) await db(`UPDATE users SET email_verified_at = now() WHERE email = ?`, [email]);
}

test('someone registered the admin email first (unverified, even with the right password) → start refuses, no promotion', async () => {
  const email = uniqueEmail('squatter');
  await register(email, ADMIN_PASSWORD, false);
  await expect(startWithAdmin(email)).rejects.toThrow(/ADMIN_EMAIL.*not verified/s);
  expect(await roleOf(email)).toBe('USER');
});

test('the admin email is a verified account with another password → start refuses, no promotion', async () => {
  const email = uniqueEmail('other');
  await register(email, PASSWORD, true);
  await expect(startWithAdmin(email)).rejects.toThrow(/ADMIN_EMAIL.*password is not ADMIN_PASSWORD/s);
  expect(await roleOf(email)).toBe('USER');
  // The owner keeps signing in as an ordinary user.
  const login = await stack.gql(LOGIN, { email, password: PASSWORD });
  expect(login.data!.login.user.role).toBe('USER');
});

test('a verified account whose password is ADMIN_PASSWORD → promoted; the password is kept', async () => {
  const email = uniqueEmail('owner');
  await register(email, ADMIN_PASSWORD, true);
  const svc = await startWithAdmin(email);
  await svc.stop();
  expect(await roleOf(email)).toBe('ADMIN');
  const login = await stack.gql(LOGIN, { email, password: ADMIN_PASSWORD });
  expect(login.data!.login.user.role).toBe('ADMIN');
});

test('no account with the admin email → created verified as ADMIN; a later start with another password keeps that admin', async () => {
  const email = uniqueEmail('fresh');
  await (await startWithAdmin(email)).stop();
  expect(await roleOf(email)).toBe('ADMIN');
  expect((await stack.gql(LOGIN, { email, password: ADMIN_PASSWORD })).data!.login.user.role).toBe('ADMIN');
  // An admin that changed its password since: nothing is promoted, so start goes on and the account is untouched.
  await (await startWithAdmin(email, 'a different admin password')).stop();
  expect(codes(await stack.gql(LOGIN, { email, password: 'a different admin password' }))).toEqual([
    'INVALID_CREDENTIALS',
  ]);
  expect(await roleOf(email)).toBe('ADMIN');
});
