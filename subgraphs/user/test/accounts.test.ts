import { signAccessToken } from '@shop/kernel';
import { rawSql, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import userSubgraph, { StartedUser } from '../src';
import {
  codes,
  LOGIN,
  ME,
  PASSWORD,
  REFRESH,
  REGISTER,
  signedInUser,
  subgraphGql,
  tokenFromOutbox,
  uniqueEmail,
  VERIFY,
} from './helpers';

let stack: Stack;
let db: (sql: string, params?: unknown[]) => Promise<any[]>;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [userSubgraph],
    gateway: startGateway,
    env: { LOGIN_RATE_LIMIT_PER_EMAIL: '3', LOGIN_RATE_LIMIT_PER_IP: '1000', EMAIL_RATE_LIMIT_PER_ADDRESS: '3' },
  });
  const svc = stack.services.user as StartedUser;
  db = rawSql(svc.orm);
});
afterAll(() => stack?.stop());

describe('register', () => {
  test('creates an unverified USER with a normalized email and announces it', async () => {
    const email = uniqueEmail('Reg').replace('reg', 'REG');
    const res = await stack.gql(REGISTER, {
      input: { email: `  ${email} `, password: PASSWORD, firstName: ' Ann ', lastName: '' },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data!.register).toMatchObject({
      email: email.toLowerCase(),
      firstName: 'Ann',
      lastName: null,
      role: 'USER',
      emailVerified: false,
    });
    const [row] = await db(`SELECT password_hash FROM users WHERE email = ?`, [email.toLowerCase()]);
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const token = await tokenFromOutbox(stack, 'user.registered', email);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Only the digest of the token is stored.
    const stored = await db(
      `SELECT token_hash FROM email_tokens t JOIN users u ON u.id = t.user_id WHERE u.email = ?`,
      [email.toLowerCase()],
    );
    expect(stored).toHaveLength(1);
    expect(stored[0].token_hash).not.toContain(token);
  });

  test('duplicate email (any case) → EMAIL_TAKEN and no second row', async () => {
    const email = uniqueEmail('dup');
    await stack.gql(REGISTER, { input: { email, password: PASSWORD } });
    const res = await stack.gql(REGISTER, { input: { email: email.toUpperCase(), password: PASSWORD } });
    expect(codes(res)).toEqual(['EMAIL_TAKEN']);
    expect(res.errors![0].extensions!.field).toBe('email');
    const rows = await db(`SELECT count(*)::int AS n FROM users WHERE email = ?`, [email]);
    expect(rows[0].n).toBe(1);
  });

  test('the same email registered twice at the same moment → exactly one account', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all(
      [1, 2, 3].map(() => stack.gql(REGISTER, { input: { email, password: PASSWORD } })),
    );
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    expect(results.filter((r) => codes(r)[0] === 'EMAIL_TAKEN')).toHaveLength(2);
    const rows = await db(`SELECT count(*)::int AS n FROM users WHERE email = ?`, [email]);
    expect(rows[0].n).toBe(1);
    const events = await db(
      `SELECT count(*)::int AS n FROM outbox WHERE subject = 'user.registered' AND payload->'data'->>'email' = ?`,
      [email],
    );
    expect(events[0].n).toBe(1);
  });

  test.each([
    ['short', 'password', /at least 10/],
    ['common', 'password123', /too common/],
    ['repetitive', 'aaaaaaaaaaaa', /too common or too simple/],
    ['contains the email', 'weakling-1234', /must not contain your email/],
    ['too long', 'x'.repeat(129) + 'abcd', /at most 128/],
  ])('weak password (%s) → BAD_USER_INPUT on password, nothing stored', async (_label, password, message) => {
    const email = 'weakling@example.com';
    const res = await stack.gql(REGISTER, { input: { email, password } });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0].extensions!.field).toBe('password');
    expect(res.errors![0].message).toMatch(message);
    expect(await db(`SELECT 1 FROM users WHERE email = ?`, [email])).toHaveLength(0);
  });

  test.each([['not-an-email'], ['a@b'], ['x'.repeat(250) + '@example.com']])(
    'invalid email %s → BAD_USER_INPUT on email',
    async (email) => {
      const res = await stack.gql(REGISTER, { input: { email, password: PASSWORD } });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0].extensions!.field).toBe('email');
    },
  );

  test('names longer than 100 characters → BAD_USER_INPUT on firstName', async () => {
    const res = await stack.gql(REGISTER, {
      input: { email: uniqueEmail(), password: PASSWORD, firstName: 'n'.repeat(101) },
    });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0].extensions!.field).toBe('firstName');
  });
});

describe('verification and sign-in', () => {
  test('login is refused until verified; the token works once', async () => {
    const email = uniqueEmail('verify');
    await stack.gql(REGISTER, { input: { email, password: PASSWORD } });
    expect(codes(await stack.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['EMAIL_NOT_VERIFIED']);
    const token = await tokenFromOutbox(stack, 'user.registered', email);
    expect((await stack.gql(VERIFY, { t: token })).data).toEqual({ verifyEmail: true });
    expect(codes(await stack.gql(VERIFY, { t: token }))).toEqual(['INVALID_TOKEN']);
    const login = await stack.gql(LOGIN, { email, password: PASSWORD });
    expect(login.errors).toBeUndefined();
    expect(login.data!.login.expiresIn).toBe(900);
  });

  test('unknown, malformed and expired verification tokens → INVALID_TOKEN', async () => {
    expect(codes(await stack.gql(VERIFY, { t: 'A'.repeat(43) }))).toEqual(['INVALID_TOKEN']);
    expect(codes(await stack.gql(VERIFY, { t: 'short' }))).toEqual(['INVALID_TOKEN']);
    const email = uniqueEmail('expired');
    await stack.gql(REGISTER, { input: { email, password: PASSWORD } });
    const token = await tokenFromOutbox(stack, 'user.registered', email);
    await db(
      `UPDATE email_tokens SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM users WHERE email = ?)`,
      [email],
    );
    expect(codes(await stack.gql(VERIFY, { t: token }))).toEqual(['INVALID_TOKEN']);
    const [u] = await db(`SELECT email_verified_at FROM users WHERE email = ?`, [email]);
    expect(u.email_verified_at).toBeNull();
  });

  test('resendVerificationEmail: true for unknown addresses; a new link supersedes the old one', async () => {
    expect((await stack.gql(`mutation { resendVerificationEmail(email: "nobody-here@example.com") }`)).data).toEqual({
      resendVerificationEmail: true,
    });
    const email = uniqueEmail('resend');
    await stack.gql(REGISTER, { input: { email, password: PASSWORD } });
    const first = await tokenFromOutbox(stack, 'user.registered', email);
    expect(
      (await stack.gql(`mutation($e: String!) { resendVerificationEmail(email: $e) }`, { e: email })).data,
    ).toEqual({ resendVerificationEmail: true });
    const second = await tokenFromOutbox(stack, 'user.verification_requested', email);
    expect(second).not.toBe(first);
    expect(codes(await stack.gql(VERIFY, { t: first }))).toEqual(['INVALID_TOKEN']);
    expect((await stack.gql(VERIFY, { t: second })).data).toEqual({ verifyEmail: true });
  });

  test('wrong password and unknown account both → INVALID_CREDENTIALS with the same message', async () => {
    const { email } = await signedInUser(stack);
    const wrong = await stack.gql(LOGIN, { email, password: 'not the password at all' });
    const unknown = await stack.gql(LOGIN, { email: uniqueEmail('ghost'), password: PASSWORD });
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(unknown)).toEqual(['INVALID_CREDENTIALS']);
    expect(wrong.errors![0].message).toBe(unknown.errors![0].message);
  });

  test('too many failed sign-ins for one email → RATE_LIMITED with retryAfter, even with the right password', async () => {
    const { email } = await signedInUser(stack);
    for (let i = 0; i < 3; i++)
      expect(codes(await stack.gql(LOGIN, { email, password: 'wrong password here' }))).toEqual([
        'INVALID_CREDENTIALS',
      ]);
    const limited = await stack.gql(LOGIN, { email, password: PASSWORD });
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    expect(limited.errors![0].extensions!.retryAfter).toBeGreaterThan(0);
    expect(limited.errors![0].extensions!.retryAfter).toBeLessThanOrEqual(900);
  });
});

describe('sessions', () => {
  test('me reflects the token; anonymous me is null; updateProfile changes only given fields', async () => {
    expect((await stack.gql(ME)).data).toEqual({ me: null });
    const s = await signedInUser(stack);
    const me = await stack.gql(ME, {}, s.accessToken);
    expect(me.data!.me).toMatchObject({ id: s.id, email: s.email, role: 'USER', emailVerified: true });
    const upd = await stack.gql(
      `mutation { updateProfile(input: { firstName: "Grace" }) { firstName lastName } }`,
      {},
      s.accessToken,
    );
    expect(upd.data!.updateProfile).toEqual({ firstName: 'Grace', lastName: null });
    const upd2 = await stack.gql(
      `mutation { updateProfile(input: { lastName: "Hopper" }) { firstName lastName } }`,
      {},
      s.accessToken,
    );
    expect(upd2.data!.updateProfile).toEqual({ firstName: 'Grace', lastName: 'Hopper' });
    expect(codes(await stack.gql(`mutation { updateProfile(input: { firstName: "x" }) { id } }`))).toEqual([
      'UNAUTHENTICATED',
    ]);
  });

  test('refresh rotates; a spent token is refused and revokes the whole family', async () => {
    const s = await signedInUser(stack);
    const r1 = await stack.gql(REFRESH, { t: s.refreshToken });
    expect(r1.errors).toBeUndefined();
    expect(r1.data!.refreshToken.refreshToken).not.toBe(s.refreshToken);
    const replay = await stack.gql(REFRESH, { t: s.refreshToken });
    expect(codes(replay)).toEqual(['INVALID_TOKEN']);
    // The successor issued before the replay is revoked too: the thief and the victim both must sign in again.
    expect(codes(await stack.gql(REFRESH, { t: r1.data!.refreshToken.refreshToken }))).toEqual(['INVALID_TOKEN']);
    const live = await db(`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ? AND revoked_at IS NULL`, [
      s.id,
    ]);
    expect(live[0].n).toBe(0);
  });

  test('the same refresh token used twice at the same moment → exactly one succeeds, one successor issued', async () => {
    const s = await signedInUser(stack);
    const results = await Promise.all([
      stack.gql(REFRESH, { t: s.refreshToken }),
      stack.gql(REFRESH, { t: s.refreshToken }),
    ]);
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    expect(results.filter((r) => codes(r)[0] === 'INVALID_TOKEN')).toHaveLength(1);
    const rows = await db(`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ?`, [s.id]);
    expect(rows[0].n).toBe(2); // the login's token and exactly one successor
  });

  test('logout ends that session only', async () => {
    const email = uniqueEmail('logout');
    const a = await signedInUser(stack, { email });
    const b = await stack.gql(LOGIN, { email, password: PASSWORD });
    expect((await stack.gql(`mutation($t: String!) { logout(refreshToken: $t) }`, { t: a.refreshToken })).data).toEqual(
      { logout: true },
    );
    expect(codes(await stack.gql(REFRESH, { t: a.refreshToken }))).toEqual(['INVALID_TOKEN']);
    expect((await stack.gql(REFRESH, { t: b.data!.login.refreshToken })).errors).toBeUndefined();
  });

  test('expired refresh token → INVALID_TOKEN', async () => {
    const s = await signedInUser(stack);
    await db(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = ?`, [s.id]);
    expect(codes(await stack.gql(REFRESH, { t: s.refreshToken }))).toEqual(['INVALID_TOKEN']);
  });
});

describe('passwords', () => {
  const RESET = `mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }`;
  const NEW_PASSWORD = 'a brand new passphrase';

  test('reset: always true; weak password keeps the link usable; reset revokes sessions; token single use', async () => {
    expect((await stack.gql(`mutation { requestPasswordReset(email: "nobody-at-all@example.com") }`)).data).toEqual({
      requestPasswordReset: true,
    });
    const s = await signedInUser(stack);
    expect((await stack.gql(`mutation($e: String!) { requestPasswordReset(email: $e) }`, { e: s.email })).data).toEqual(
      { requestPasswordReset: true },
    );
    const token = await tokenFromOutbox(stack, 'user.password_reset_requested', s.email);
    const weak = await stack.gql(RESET, { t: token, p: 'short' });
    expect(codes(weak)).toEqual(['BAD_USER_INPUT']);
    expect(weak.errors![0].extensions!.field).toBe('newPassword');
    expect((await stack.gql(RESET, { t: token, p: NEW_PASSWORD })).data).toEqual({ resetPassword: true });
    expect(codes(await stack.gql(RESET, { t: token, p: NEW_PASSWORD }))).toEqual(['INVALID_TOKEN']);
    expect(codes(await stack.gql(REFRESH, { t: s.refreshToken }))).toEqual(['INVALID_TOKEN']);
    expect(codes(await stack.gql(LOGIN, { email: s.email, password: PASSWORD }))).toEqual(['INVALID_CREDENTIALS']);
    expect((await stack.gql(LOGIN, { email: s.email, password: NEW_PASSWORD })).errors).toBeUndefined();
  });

  test('expired reset token → INVALID_TOKEN and the password is unchanged', async () => {
    const s = await signedInUser(stack);
    await stack.gql(`mutation($e: String!) { requestPasswordReset(email: $e) }`, { e: s.email });
    const token = await tokenFromOutbox(stack, 'user.password_reset_requested', s.email);
    await db(
      `UPDATE email_tokens SET expires_at = now() - interval '1 second' WHERE user_id = ? AND purpose = 'RESET_PASSWORD'`,
      [s.id],
    );
    expect(codes(await stack.gql(RESET, { t: token, p: NEW_PASSWORD }))).toEqual(['INVALID_TOKEN']);
    expect((await stack.gql(LOGIN, { email: s.email, password: PASSWORD })).errors).toBeUndefined();
  });

  test('changePassword needs the current password and signs out every session', async () => {
    const s = await signedInUser(stack);
    const CHANGE = `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`;
    const wrong = await stack.gql(CHANGE, { c: 'not my password!', n: NEW_PASSWORD }, s.accessToken);
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(await stack.gql(CHANGE, { c: PASSWORD, n: PASSWORD }, s.accessToken))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stack.gql(CHANGE, { c: PASSWORD, n: NEW_PASSWORD }))).toEqual(['UNAUTHENTICATED']);
    expect((await stack.gql(CHANGE, { c: PASSWORD, n: NEW_PASSWORD }, s.accessToken)).data).toEqual({
      changePassword: true,
    });
    expect(codes(await stack.gql(REFRESH, { t: s.refreshToken }))).toEqual(['INVALID_TOKEN']);
    expect((await stack.gql(LOGIN, { email: s.email, password: NEW_PASSWORD })).errors).toBeUndefined();
  });
});

describe('roles', () => {
  const SET_ROLE = `mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { id role } }`;

  test('a USER cannot set roles (FORBIDDEN), anonymous is UNAUTHENTICATED; an admin can', async () => {
    const user = await signedInUser(stack);
    const admin = await signedInUser(stack, { role: 'ADMIN' });
    expect(codes(await stack.gql(SET_ROLE, { u: user.id, r: 'ADMIN' }, user.accessToken))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(SET_ROLE, { u: user.id, r: 'ADMIN' }))).toEqual(['UNAUTHENTICATED']);
    const ok = await stack.gql(SET_ROLE, { u: user.id, r: 'ADMIN' }, admin.accessToken);
    expect(ok.data!.setUserRole).toEqual({ id: user.id, role: 'ADMIN' });
    // The new role is in the next access token.
    const refreshed = await stack.gql(REFRESH, { t: user.refreshToken });
    expect((await stack.gql(ME, {}, refreshed.data!.refreshToken.accessToken)).data!.me.role).toBe('ADMIN');
  });

  test('unknown user → NOT_FOUND; malformed id → BAD_USER_INPUT on userId', async () => {
    const admin = await signedInUser(stack, { role: 'ADMIN' });
    expect(
      codes(await stack.gql(SET_ROLE, { u: '00000000-0000-4000-8000-000000000000', r: 'ADMIN' }, admin.accessToken)),
    ).toEqual(['NOT_FOUND']);
    const bad = await stack.gql(SET_ROLE, { u: 'nope', r: 'ADMIN' }, admin.accessToken);
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors![0].extensions!.field).toBe('userId');
  });

  test('users: admin only, newest first, search treats % and _ as text, cursor pages cover everyone once', async () => {
    const admin = await signedInUser(stack, { role: 'ADMIN' });
    const user = await signedInUser(stack);
    const USERS = `query($first: Int, $after: String, $search: String) { users(first: $first, after: $after, search: $search) { totalCount edges { cursor node { id email } } pageInfo { hasNextPage endCursor } } }`;
    expect(codes(await stack.gql(USERS, {}, user.accessToken))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(USERS, {}))).toEqual(['UNAUTHENTICATED']);
    const [{ n }] = await db(`SELECT count(*)::int AS n FROM users`);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: any = await stack.gql(USERS, { first: 3, after }, admin.accessToken);
      expect(page.errors).toBeUndefined();
      expect(page.data.users.totalCount).toBe(n);
      seen.push(...page.data.users.edges.map((e: any) => e.node.id));
      after = page.data.users.pageInfo.hasNextPage ? page.data.users.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toHaveLength(n);
    expect(new Set(seen).size).toBe(n);
    const byEmail = await stack.gql(USERS, { search: user.email.toUpperCase() }, admin.accessToken);
    expect(byEmail.data!.users.edges.map((e: any) => e.node.id)).toEqual([user.id]);
    const wild = await stack.gql(USERS, { search: '%' }, admin.accessToken);
    expect(wild.data!.users.totalCount).toBe(0);
    expect(codes(await stack.gql(USERS, { first: 101 }, admin.accessToken))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stack.gql(USERS, { after: 'garbage' }, admin.accessToken))).toEqual(['BAD_USER_INPUT']);
    // Well-formed cursors with a forged position are refused on `after` too, not passed to the database.
    const forged = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
    for (const cursor of [forged(['yesterday', user.id]), forged([new Date().toISOString(), 'not-a-uuid'])]) {
      const res = await stack.gql(USERS, { after: cursor }, admin.accessToken);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0].extensions!.field).toBe('after');
    }
  });

  test('the last admin cannot be demoted, even by two concurrent requests', async () => {
    const svc = stack.services.user as StartedUser;
    await db(`UPDATE users SET role = 'USER'`);
    const a = await signedInUser(stack, { role: 'ADMIN' });
    const b = await signedInUser(stack, { role: 'ADMIN' });
    const res = await Promise.all([
      stack.gql(SET_ROLE, { u: a.id, r: 'USER' }, b.accessToken),
      stack.gql(SET_ROLE, { u: b.id, r: 'USER' }, a.accessToken),
    ]);
    expect(res.filter((r) => !r.errors)).toHaveLength(1);
    const [{ n }] = await db(`SELECT count(*)::int AS n FROM users WHERE role = 'ADMIN'`);
    expect(n).toBe(1);
    void svc;
  });

  test('an access token for a deleted account still cannot act; me is null', async () => {
    const token = signAccessToken(stack.env.keys, { sub: '00000000-0000-4000-8000-00000000abcd', role: 'USER' });
    expect((await stack.gql(ME, {}, token)).data).toEqual({ me: null });
    expect(codes(await stack.gql(`mutation { updateProfile(input: { firstName: "x" }) { id } }`, {}, token))).toEqual([
      'UNAUTHENTICATED',
    ]);
  });
});

describe('references', () => {
  const USERS = `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }`;

  test('a User reference or user.get whose id is not a UUID is simply unknown (it never reaches the uuid column)', async () => {
    const user = await signedInUser(stack);
    const svc = stack.services.user as StartedUser;
    // 36 characters of the UUID alphabet, but no UUID: PostgreSQL would refuse to compare them with a uuid column.
    for (const id of ['-'.repeat(36), 'a'.repeat(36), `${user.id.slice(0, 35)}-`]) {
      const res = await subgraphGql(
        stack,
        USERS,
        {
          r: [
            { __typename: 'User', id: user.id },
            { __typename: 'User', id },
          ],
        },
        { role: 'ADMIN' },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!._entities).toEqual([{ id: user.id, email: user.email }, null]);
      await expect(svc.bus.request('user.get', { id })).rejects.toMatchObject({ extensions: { code: 'NOT_FOUND' } });
    }
  });
});
