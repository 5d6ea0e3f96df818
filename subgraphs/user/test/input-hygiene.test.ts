import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import userSubgraph, { StartedUser } from '../src';
import { LOGIN, PASSWORD, REGISTER, signedInUser, uniqueEmail } from './helpers';

/**
 * Addresses and names end up in the emails the shop sends: an address must be one plain mailbox (never a list, a
 * group or a display name a mail library would parse), a name only a name (never a link or a sentence).
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ subgraphs: [userSubgraph], gateway: startGateway });
});
afterAll(() => stack?.stop());

const errorOf = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => res.errors?.[0]?.extensions;

const BAD_ADDRESSES = [
  'victim@example.com,attacker',
  'attacker@evil.example;x',
  '"Shop Support"@example.com',
  'Shop <support@example.com>',
  'a<b>@example.com',
  'a(comment)@example.com',
  'group:a@example.com',
  'a b@example.com',
  'a\t@example.com',
  'a\u0000b@example.com',
  'a\\b@example.com',
];

test.each(BAD_ADDRESSES)('register refuses %j as BAD_USER_INPUT on email', async (email) => {
  const res = await stack.gql(REGISTER, { input: { email, password: PASSWORD } });
  expect(errorOf(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
  expect(res.data?.register ?? null).toBeNull();
});

test('login, resendVerificationEmail and requestPasswordReset refuse list and display-name addresses as input errors', async () => {
  for (const email of BAD_ADDRESSES) {
    expect(errorOf(await stack.gql(LOGIN, { email, password: PASSWORD }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'email',
    });
    expect(
      errorOf(await stack.gql(`mutation($e: String!) { resendVerificationEmail(email: $e) }`, { e: email })),
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
    expect(
      errorOf(await stack.gql(`mutation($e: String!) { requestPasswordReset(email: $e) }`, { e: email })),
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
  }
  // Nothing was queued for any of them.
  const rows = await (stack.services.user as StartedUser).orm.em
    .fork()
    .getConnection()
    .execute(`SELECT count(*)::int AS n FROM outbox`);
  expect(rows[0].n).toBe(0);
});

test('ordinary addresses still work: plus tags, apostrophes, subdomains, upper case', async () => {
  for (const email of [`o'brien.${Date.now()}@example.com`, `Ann+shop.${Date.now()}@Mail.Example.co.uk`]) {
    const res = await stack.gql(REGISTER, { input: { email, password: PASSWORD } });
    expect(res.errors).toBeUndefined();
    expect(res.data!.register.email).toBe(email.toLowerCase());
  }
});

const BAD_NAMES = [
  'Click http://evil.example to claim your prize',
  'evil.example',
  'Call 0800 123 456',
  '<b>Eve</b>',
  'Ann & co',
  'Ann  Lee',
  'Ann\nLee',
  'A'.repeat(51),
];

test.each(BAD_NAMES)('register refuses the name %j as BAD_USER_INPUT on firstName / lastName', async (name) => {
  const first = await stack.gql(REGISTER, {
    input: { email: uniqueEmail('named'), password: PASSWORD, firstName: name },
  });
  expect(errorOf(first)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'firstName' });
  const last = await stack.gql(REGISTER, {
    input: { email: uniqueEmail('named'), password: PASSWORD, lastName: name },
  });
  expect(errorOf(last)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'lastName' });
});

test('updateProfile refuses the same names and keeps real ones from any script', async () => {
  const s = await signedInUser(stack);
  const UPDATE = `mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { firstName lastName } }`;
  for (const name of BAD_NAMES) {
    expect(errorOf(await stack.gql(UPDATE, { i: { firstName: name } }, s.accessToken))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'firstName',
    });
    expect(errorOf(await stack.gql(UPDATE, { i: { lastName: name } }, s.accessToken))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'lastName',
    });
  }
  for (const [firstName, lastName] of [
    ['Jean-Luc', "O'Brien"],
    ['José María', 'd’Artagnan'],
    ['李', 'नमस्ते'],
  ]) {
    const res = await stack.gql(UPDATE, { i: { firstName, lastName } }, s.accessToken);
    expect(res.errors).toBeUndefined();
    expect(res.data!.updateProfile).toEqual({ firstName, lastName });
  }
});
