import { randomUUID } from 'node:crypto';
import { makeEvent } from '@shop/kernel';
import { createTestEnv, freePort, TestEnv } from '@shop/kernel/testing';
import notification, { StartedNotification } from '../src';
import { eventually } from './helpers';

let env: TestEnv;
let svc: StartedNotification;

beforeAll(async () => {
  // Nothing listens on this port: every SMTP attempt is refused.
  const closedPort = await freePort();
  env = await createTestEnv({ EMAIL_MAX_ATTEMPTS: '3', SMTP_PORT: String(closedPort) });
  svc = await notification.start({
    config: env.config,
    keys: env.keys,
    logger: env.logger.child({}, { level: 'silent' }),
    port: 0,
  });
});
afterAll(async () => {
  await svc?.stop();
  await env?.cleanup();
});

it('marks an email DEAD after EMAIL_MAX_ATTEMPTS failed attempts and stops trying', async () => {
  const to = `dead.${randomUUID().slice(0, 8)}@example.test`;
  await svc.bus.publish(
    makeEvent('secret.email_link', {
      eventId: randomUUID(),
      eventType: 'user.password_reset_requested',
      purpose: 'RESET_PASSWORD',
      userId: randomUUID(),
      email: to,
      firstName: null,
      token: randomUUID(),
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    }),
  );

  const seen = new Set<string>();
  const dead = await eventually(
    'the email to be DEAD',
    async () => {
      const node = (await svc.emails.list({ first: 5, to })).edges[0]?.node;
      if (node) seen.add(`${node.status}:${node.attempts}`);
      return node?.status === 'DEAD' && node;
    },
    20_000,
  );
  expect(dead).toMatchObject({ attempts: 3, sentAt: null, template: 'password-reset' });
  expect(dead.lastError).toMatch(/ECONNREFUSED/);
  expect(seen).toContain('FAILED:1');
  expect(seen).toContain('FAILED:2');

  // Nothing is due any more, however long we wait.
  const later = new Date(Date.now() + 365 * 24 * 3600_000);
  expect(await svc.stores.emails.claimDue(10, later, 1000)).toEqual([]);
  expect((await svc.stores.emails.get(dead.id))!.attempts).toBe(3);
  expect(env.mail.messages).toHaveLength(0);
});
