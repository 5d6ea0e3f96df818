import argon2 from 'argon2';
import { createRedis } from '@shop/kernel';
import { PrivateRedis, Stack, startPrivateRedis, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import userSubgraph, { StartedUser } from '../src';
import { codes, LOGIN, PASSWORD, REGISTER, subgraphGql, uniqueEmail } from './helpers';

/** Sign-in budgets hold when guesses arrive all at once, when the client hops inside its IPv6 /64, and when Redis is away. */
const PER_EMAIL = 10;
const PER_IP = 12;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [userSubgraph],
    gateway: startGateway,
    env: { LOGIN_RATE_LIMIT_PER_EMAIL: String(PER_EMAIL), LOGIN_RATE_LIMIT_PER_IP: String(PER_IP) },
  });
});
afterAll(() => stack?.stop());

async function verifiedUser(s: Stack, email = uniqueEmail('limits')): Promise<string> {
  const reg = await s.gql(REGISTER, { input: { email, password: PASSWORD } });
  expect(reg.errors).toBeUndefined();
  await (s.services.user as StartedUser).orm.em
    .fork()
    .getConnection()
    .execute(`UPDATE users SET email_verified_at = now() WHERE email = ?`, [email]);
  return email;
}

afterEach(() => jest.restoreAllMocks());

test(`30 parallel wrong passwords for one email against a budget of ${PER_EMAIL}: at most ${PER_EMAIL} password checks, the rest RATE_LIMITED`, async () => {
  const email = await verifiedUser(stack);
  const verify = jest.spyOn(argon2, 'verify');
  const answers = await Promise.all(
    Array.from({ length: 30 }, () => stack.gql(LOGIN, { email, password: 'wrong password guess' })),
  );
  const tally = answers
    .map((a) => codes(a)[0])
    .reduce<Record<string, number>>((t, c) => ({ ...t, [String(c)]: (t[String(c)] ?? 0) + 1 }), {});
  expect(tally).toEqual({ INVALID_CREDENTIALS: PER_EMAIL, RATE_LIMITED: 30 - PER_EMAIL });
  expect(verify).toHaveBeenCalledTimes(PER_EMAIL);
  const redis = createRedis(stack.env.config);
  try {
    expect(Number(await redis.get(`login:email:${email}`))).toBe(PER_EMAIL);
  } finally {
    redis.disconnect();
  }
  // The budget stays spent for the right password too, until the window ends.
  expect(codes(await stack.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['RATE_LIMITED']);
});

test('a successful sign-in gives its unit back: the budget counts failures only', async () => {
  const email = await verifiedUser(stack);
  for (let i = 0; i < PER_EMAIL + 5; i++) {
    const ok = await subgraphGql(stack, LOGIN, { email, password: PASSWORD }, { ip: `198.51.100.${i + 1}` });
    expect(ok.errors).toBeUndefined();
  }
  for (let i = 0; i < PER_EMAIL - 1; i++) {
    expect(
      codes(await subgraphGql(stack, LOGIN, { email, password: 'wrong password guess' }, { ip: '198.51.100.200' })),
    ).toEqual(['INVALID_CREDENTIALS']);
  }
  expect(
    (await subgraphGql(stack, LOGIN, { email, password: PASSWORD }, { ip: '198.51.100.201' })).errors,
  ).toBeUndefined();
});

test('addresses of one IPv6 /64 share one per-address budget; another /64 has its own', async () => {
  for (let i = 0; i < PER_IP; i++) {
    // A fresh address of the same /64 (and a fresh email) for every guess.
    const ip = `2001:db8:1:2:${(i + 1).toString(16)}::${(i * 7 + 3).toString(16)}`;
    expect(
      codes(await subgraphGql(stack, LOGIN, { email: uniqueEmail('spray'), password: 'guessing password' }, { ip })),
    ).toEqual(['INVALID_CREDENTIALS']);
  }
  expect(
    codes(
      await subgraphGql(
        stack,
        LOGIN,
        { email: uniqueEmail('spray'), password: 'guessing password' },
        { ip: '2001:db8:1:2:ffff:ffff:ffff:fffe' },
      ),
    ),
  ).toEqual(['RATE_LIMITED']);
  expect(
    codes(
      await subgraphGql(
        stack,
        LOGIN,
        { email: uniqueEmail('spray'), password: 'guessing password' },
        { ip: '2001:db8:1:3::1' },
      ),
    ),
  ).toEqual(['INVALID_CREDENTIALS']);
});

describe('Redis unreachable', () => {
  let redis: PrivateRedis;
  let own: Stack;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    own = await startStack({ subgraphs: [userSubgraph], gateway: startGateway, env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await redis?.start().catch(() => undefined); // cleanup deletes the test's keys there
    await own?.stop();
    await redis?.dispose();
  });

  test('sign-in answers SERVICE_UNAVAILABLE instead of running without its limits, and works again once Redis is back', async () => {
    const email = await verifiedUser(own);
    expect((await own.gql(LOGIN, { email, password: PASSWORD })).errors).toBeUndefined();
    await redis.stop();
    const verify = jest.spyOn(argon2, 'verify');
    for (const password of [PASSWORD, 'wrong password guess']) {
      const res = await own.gql(LOGIN, { email, password });
      expect(codes(res)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(res.data?.login ?? null).toBeNull();
    }
    expect(verify).not.toHaveBeenCalled();
    await redis.start();
    const { eventually } = await import('@shop/kernel/testing');
    await eventually(
      'sign-in to work again',
      async () => !(await own.gql(LOGIN, { email, password: PASSWORD })).errors,
    );
  });
});
