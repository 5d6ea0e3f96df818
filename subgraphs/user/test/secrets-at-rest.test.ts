import type { MikroORM } from '@mikro-orm/postgresql';
import { Bus, createLogger } from '@shop/kernel';
import { eventually, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import notificationSubgraph, { StartedNotification } from '../../notification/src';
import userSubgraph, { StartedUser } from '../src';
import { LOGIN, REGISTER, streamMessages } from './helpers';

/**
 * A raw email-link token exists only until it is delivered: after a registration, a resent verification link and a
 * password reset went out by email, no outbox row, no JetStream stream, no email row and no log line holds any of
 * them — and the links in the emails still work.
 */
const lines: string[] = [];
let stack: Stack;
let bus: Bus;
beforeAll(async () => {
  // Everything every service logs, at the most verbose level.
  const logger = createLogger('test', 'trace', { write: (line: string) => void lines.push(line) });
  stack = await startStack({ subgraphs: [userSubgraph, notificationSubgraph], gateway: startGateway, logger });
  bus = await Bus.connect(stack.env.config);
});
afterAll(async () => {
  await bus?.close();
  await stack?.stop();
});

function linkToken(text: string, path: string): string {
  const m = new RegExp(`http://shop\\.test${path}\\?token=([A-Za-z0-9_-]+)`).exec(text);
  if (!m) throw new Error(`no ${path} link in: ${text}`);
  return m[1];
}

test('after registration, resend and reset emails are delivered, no token is left in the outbox, any stream, the email rows or the logs', async () => {
  const email = 'grace.hopper@example.com';
  const password = 'compiler pioneer 1952';
  const tokens: string[] = [];

  expect((await stack.gql(REGISTER, { input: { email, password, firstName: 'Grace' } })).errors).toBeUndefined();
  tokens.push(
    linkToken(
      (await stack.env.mail.waitFor((m) => m.to.includes(email) && /verify/i.test(m.subject))).text,
      '/verify-email',
    ),
  );
  expect((await stack.gql(`mutation($e: String!) { resendVerificationEmail(email: $e) }`, { e: email })).data).toEqual({
    resendVerificationEmail: true,
  });
  const second = await stack.env.mail.waitFor(
    (m) => m.to.includes(email) && /verify/i.test(m.subject) && !m.text.includes(tokens[0]),
  );
  tokens.push(linkToken(second.text, '/verify-email'));
  const verified = await stack.gql(`mutation($t: String!) { verifyEmail(token: $t) }`, { t: tokens[1] });
  expect(verified.errors).toBeUndefined();
  expect(verified.data).toEqual({ verifyEmail: true });

  expect((await stack.gql(`mutation($e: String!) { requestPasswordReset(email: $e) }`, { e: email })).data).toEqual({
    requestPasswordReset: true,
  });
  tokens.push(
    linkToken(
      (await stack.env.mail.waitFor((m) => m.to.includes(email) && /reset/i.test(m.subject))).text,
      '/reset-password',
    ),
  );
  const newPassword = 'nanosecond wire 1985';
  expect(
    (
      await stack.gql(`mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }`, {
        t: tokens[2],
        p: newPassword,
      })
    ).data,
  ).toEqual({ resetPassword: true });
  expect((await stack.gql(LOGIN, { email, password: newPassword })).errors).toBeUndefined();
  expect(new Set(tokens).size).toBe(3);
  const leaks = (text: string) => tokens.filter((t) => text.includes(t));

  // (1) The outbox: every row published, none holding a token (the public events never had one).
  const userDb = (stack.services.user as StartedUser).orm.em.fork().getConnection();
  const outbox = await eventually('every outbox row published', async () => {
    const rows = await userDb.execute<{ subject: string; payload: unknown; published_at: Date | null }[]>(
      `SELECT subject, payload, published_at FROM outbox`,
    );
    return rows.every((r) => r.published_at) && rows;
  });
  expect(leaks(JSON.stringify(outbox))).toEqual([]);
  expect(outbox.map((r) => r.subject)).toEqual(
    expect.arrayContaining([
      'user.registered',
      'user.verification_requested',
      'user.password_reset_requested',
      'secret.email_link',
    ]),
  );

  // (2) Every stream of this deployment, every stored message (the secrets' work queue empties as they are acked).
  const streams: string[] = [];
  for await (const name of bus.jsm.streams.names())
    if (name.startsWith(`${stack.env.config.natsPrefix}_`)) streams.push(name);
  expect(streams).toEqual(expect.arrayContaining([bus.streamName('user'), bus.streamName('secret')]));
  await eventually('no stream message holding a token', async () => {
    for (const name of streams) for (const m of await streamMessages(bus, name)) if (leaks(m.text).length) return false;
    return true;
  });
  const userEvents = await streamMessages(bus, bus.streamName('user'));
  expect(userEvents.filter((m) => m.subject.endsWith('user.registered'))).toHaveLength(1);

  // The notification subgraph's email rows: sent, bodies dropped.
  const notificationDb = (
    (stack.services.notification as StartedNotification).stores as unknown as { orm: MikroORM }
  ).orm.em
    .fork()
    .getConnection();
  const emailRows = await eventually('the link emails SENT', async () => {
    const rows = await notificationDb.execute<{ status: string }[]>(`SELECT * FROM emails WHERE to_address = ?`, [
      email,
    ]);
    return rows.length >= 4 && rows.every((r) => r.status === 'SENT') && rows;
  });
  expect(leaks(JSON.stringify(emailRows))).toEqual([]);

  // (3) No log line of any service.
  expect(lines.length).toBeGreaterThan(0);
  expect(leaks(lines.join('\n'))).toEqual([]);
});
