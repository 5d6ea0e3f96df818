import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import userSubgraph from '../../subgraphs/user/src';
import notificationSubgraph from '../../subgraphs/notification/src';

/**
 * The whole account life cycle through the gateway, with the real user and notification subgraphs, NATS and
 * the SMTP mailbox: every token is taken from the email a person would receive.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ subgraphs: [userSubgraph, notificationSubgraph], gateway: startGateway });
});
afterAll(() => stack?.stop());

const code = (r: { errors?: { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.code;

function linkToken(text: string, path: string): string {
  const m = new RegExp(`http://shop\\.test${path}\\?token=([A-Za-z0-9_-]+)`).exec(text);
  if (!m) throw new Error(`no ${path} link in: ${text}`);
  return m[1];
}

test('register → verify from the email → sign in → profile → rotate → reuse revokes → reset password from the email', async () => {
  const email = 'ada.lovelace@example.com';
  const password = 'analytical engine 1843';

  const reg = await stack.gql(`mutation($i: RegisterInput!) { register(input: $i) { id email emailVerified } }`, {
    i: { email, password, firstName: 'Ada', lastName: 'Lovelace' },
  });
  expect(reg.errors).toBeUndefined();
  expect(reg.data!.register).toMatchObject({ email, emailVerified: false });

  const LOGIN = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken expiresIn user { id email } } }`;
  expect(code(await stack.gql(LOGIN, { e: email, p: password }))).toBe('EMAIL_NOT_VERIFIED');

  const verification = await stack.env.mail.waitFor((m) => m.to.includes(email) && /verify/i.test(m.subject));
  expect(verification.text).toContain('Ada');
  expect(verification.html).toContain('/verify-email?token=');
  const verifyToken = linkToken(verification.text, '/verify-email');
  expect((await stack.gql(`mutation($t: String!) { verifyEmail(token: $t) }`, { t: verifyToken })).data).toEqual({
    verifyEmail: true,
  });

  const login = await stack.gql(LOGIN, { e: email, p: password });
  expect(login.errors).toBeUndefined();
  const session = login.data!.login;
  expect(session.expiresIn).toBe(900);

  const me = await stack.gql(`{ me { id email firstName lastName role emailVerified } }`, {}, session.accessToken);
  expect(me.data!.me).toEqual({
    id: reg.data!.register.id,
    email,
    firstName: 'Ada',
    lastName: 'Lovelace',
    role: 'USER',
    emailVerified: true,
  });

  const upd = await stack.gql(
    `mutation { updateProfile(input: { firstName: "Augusta Ada" }) { firstName lastName } }`,
    {},
    session.accessToken,
  );
  expect(upd.data!.updateProfile).toEqual({ firstName: 'Augusta Ada', lastName: 'Lovelace' });

  const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }`;
  const rotated = await stack.gql(REFRESH, { t: session.refreshToken });
  expect(rotated.errors).toBeUndefined();
  expect(rotated.data!.refreshToken.refreshToken).not.toBe(session.refreshToken);
  expect(code(await stack.gql(REFRESH, { t: session.refreshToken }))).toBe('INVALID_TOKEN');
  expect(code(await stack.gql(REFRESH, { t: rotated.data!.refreshToken.refreshToken }))).toBe('INVALID_TOKEN');

  // A fresh session, then a reset from the emailed link signs it out.
  const second = (await stack.gql(LOGIN, { e: email, p: password })).data!.login;
  expect((await stack.gql(`mutation($e: String!) { requestPasswordReset(email: $e) }`, { e: email })).data).toEqual({
    requestPasswordReset: true,
  });
  const resetMail = await stack.env.mail.waitFor((m) => m.to.includes(email) && /reset/i.test(m.subject));
  const resetToken = linkToken(resetMail.text, '/reset-password');
  const newPassword = 'difference engine 1822';
  expect(
    (
      await stack.gql(`mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }`, {
        t: resetToken,
        p: newPassword,
      })
    ).data,
  ).toEqual({ resetPassword: true });
  expect(code(await stack.gql(REFRESH, { t: second.refreshToken }))).toBe('INVALID_TOKEN');
  expect(code(await stack.gql(LOGIN, { e: email, p: password }))).toBe('INVALID_CREDENTIALS');
  expect((await stack.gql(LOGIN, { e: email, p: newPassword })).errors).toBeUndefined();

  // The security notice for the changed password arrives too.
  await stack.env.mail.waitFor((m) => m.to.includes(email) && /password/i.test(m.subject) && !/reset/i.test(m.subject));
});

test('requesting a reset for an unknown address sends nothing and answers true', async () => {
  const before = stack.env.mail.messages.length;
  expect((await stack.gql(`mutation { requestPasswordReset(email: "nobody@example.com") }`)).data).toEqual({
    requestPasswordReset: true,
  });
  await new Promise((r) => setTimeout(r, 500));
  expect(stack.env.mail.messages.filter((m) => m.to.includes('nobody@example.com'))).toHaveLength(0);
  expect(stack.env.mail.messages.length).toBe(before);
});

test('the development mailbox is served', async () => {
  const origin = new URL(stack.gatewayUrl).origin;
  const mailPage = await fetch(`${origin}/dev/mail`);
  expect(mailPage.status).toBe(200);
  expect(await mailPage.text()).toContain('ada.lovelace@example.com');
});
