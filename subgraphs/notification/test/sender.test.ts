import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '@shop/kernel';
import { DevMailbox } from '@shop/kernel/devmail';
import { createTestEnv, freePort, TestEnv } from '@shop/kernel/testing';
import { EmailStatus, NewEmail, NotificationStores } from '../src/store';
import { openPostgresStores } from '../src/store/postgres';
import { createSmtpMailer, emailBatchSize, Mailer, OutgoingEmail } from '../src/service/mailer';
import { EmailSender } from '../src/service/sender';

let env: TestEnv;
let stores: NotificationStores;

beforeAll(async () => {
  env = await createTestEnv();
  stores = await openPostgresStores(env.config);
  await stores.migrate();
});
afterAll(async () => {
  await stores?.close();
  await env?.cleanup();
});

/** A clock the test moves by hand; starts after everything left by earlier tests is due. */
function manualClock() {
  let t = Date.now() + 3600_000 * 24 * 365;
  return { now: () => t, set: (ms: number) => (t = ms), add: (ms: number) => (t += ms) };
}

function newEmail(createdAt: Date, over: Partial<NewEmail> = {}): NewEmail {
  return {
    id: randomUUID(),
    eventId: randomUUID(),
    template: 'verify-email',
    to: `${randomUUID()}@example.test`,
    subject: 'Hello',
    html: '<p>hi</p>',
    text: 'hi',
    createdAt,
    ...over,
  };
}

/** Fails the first `failures` sends with "boom <n>", then succeeds; records what it was asked to send. */
function flakyMailer(failures: number, delayMs = 0): Mailer & { sent: OutgoingEmail[]; calls: number } {
  const m = {
    sent: [] as OutgoingEmail[],
    calls: 0,
    async send(email: OutgoingEmail) {
      m.calls++;
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (m.calls <= failures) throw new Error(`boom ${m.calls}`);
      m.sent.push(email);
    },
    close() {},
  };
  return m;
}

/** Marks everything due DEAD so each test sees only its own emails. */
async function retireAll(): Promise<void> {
  for (;;) {
    const batch = await stores.emails.claimDue(100, new Date('2999-01-01'), 1000);
    if (!batch.length) return;
    for (const e of batch) await stores.emails.markFailed(e.id, e.claimId, 'retired', null);
  }
}
beforeEach(retireAll);

it('retries with exponential backoff and jitter, then sends', async () => {
  const clock = manualClock();
  const mailer = flakyMailer(2);
  const sender = new EmailSender(stores.emails, mailer, undefined, {
    pollMs: 10,
    maxAttempts: 5,
    retryBaseMs: 1000,
    clock: clock.now,
  });
  const { email } = await stores.emails.enqueue(newEmail(new Date(clock.now())));

  expect(await sender.runOnce()).toBe(1);
  const first = (await stores.emails.get(email.id))!;
  expect(first).toMatchObject({ status: EmailStatus.FAILED, attempts: 1, lastError: 'boom 1' });
  const delay1 = first.nextAttemptAt.getTime() - clock.now();
  expect(delay1).toBeGreaterThanOrEqual(1000);
  expect(delay1).toBeLessThanOrEqual(1250);

  clock.set(first.nextAttemptAt.getTime() - 1);
  expect(await sender.runOnce()).toBe(0);
  clock.set(first.nextAttemptAt.getTime());
  expect(await sender.runOnce()).toBe(1);
  const second = (await stores.emails.get(email.id))!;
  expect(second).toMatchObject({ status: EmailStatus.FAILED, attempts: 2, lastError: 'boom 2' });
  const delay2 = second.nextAttemptAt.getTime() - clock.now();
  expect(delay2).toBeGreaterThanOrEqual(2000);
  expect(delay2).toBeLessThanOrEqual(2500);

  clock.set(second.nextAttemptAt.getTime());
  expect(await sender.runOnce()).toBe(1);
  expect(await stores.emails.get(email.id)).toMatchObject({
    status: EmailStatus.SENT,
    attempts: 3,
    sentAt: new Date(clock.now()),
  });
  expect(mailer.sent).toEqual([{ id: email.id, to: email.to, subject: 'Hello', html: '<p>hi</p>', text: 'hi' }]);
  clock.add(3600_000);
  expect(await sender.runOnce()).toBe(0);
});

it('gives up as DEAD after maxAttempts', async () => {
  const clock = manualClock();
  const mailer = flakyMailer(Number.MAX_SAFE_INTEGER);
  const sender = new EmailSender(stores.emails, mailer, undefined, {
    pollMs: 10,
    maxAttempts: 3,
    retryBaseMs: 10,
    clock: clock.now,
  });
  const { email } = await stores.emails.enqueue(newEmail(new Date(clock.now())));
  for (let i = 0; i < 3; i++) {
    expect(await sender.runOnce()).toBe(1);
    clock.add(3600_000);
  }
  expect(await stores.emails.get(email.id)).toMatchObject({
    status: EmailStatus.DEAD,
    attempts: 3,
    lastError: 'boom 3',
    sentAt: null,
  });
  expect(await sender.runOnce()).toBe(0);
  expect(mailer.calls).toBe(3);
});

it('a link email whose link expired while it waited is given up unsent (DEAD, body dropped), not retried', async () => {
  const clock = manualClock();
  const mailer = flakyMailer(1);
  const sender = new EmailSender(stores.emails, mailer, undefined, {
    pollMs: 10,
    maxAttempts: 8,
    retryBaseMs: 3600_000,
    clock: clock.now,
  });
  const { email } = await stores.emails.enqueue(
    newEmail(new Date(clock.now()), {
      template: 'password-reset',
      html: '<a href="x?token=SECRET">',
      text: 'x?token=SECRET',
    }),
  );
  expect(await sender.runOnce()).toBe(1); // fails; the next try would be an hour or more later
  clock.add(3600_000 * 3);
  expect(await sender.runOnce()).toBe(1);
  expect(mailer.calls).toBe(1);
  expect(await stores.emails.get(email.id)).toMatchObject({
    status: EmailStatus.DEAD,
    sentAt: null,
    lastError: 'The link expired before the email could be sent',
  });
  expect(await stores.emails.claimDue(10, new Date('2999-01-01'), 1000)).toEqual([]);
  // The body (with the token) is gone from the row.
  const [row] = await (
    stores as unknown as {
      orm: { em: { getConnection(): { execute(sql: string, p: unknown[]): Promise<Record<string, unknown>[]> } } };
    }
  ).orm.em
    .getConnection()
    .execute('SELECT body_html, body_text FROM emails WHERE id = ?', [email.id]);
  expect(row).toEqual({ body_html: null, body_text: null });
});

it('two instances running at once send every email exactly once', async () => {
  const createdAt = new Date();
  const queued = await Promise.all(Array.from({ length: 30 }, () => stores.emails.enqueue(newEmail(createdAt))));
  const mailers = [flakyMailer(0, 5), flakyMailer(0, 5)];
  const senders = mailers.map(
    (m) => new EmailSender(stores.emails, m, undefined, { pollMs: 10, maxAttempts: 3, retryBaseMs: 10, batchSize: 4 }),
  );
  await Promise.all(
    senders.map(async (s) => {
      while ((await s.runOnce()) > 0) {
        /* until the queue is empty */
      }
    }),
  );
  const sentTo = mailers.flatMap((m) => m.sent.map((e) => e.to));
  expect(sentTo.sort()).toEqual(queued.map((q) => q.email.to).sort());
  expect(mailers.every((m) => m.sent.length > 0)).toBe(true);
  for (const q of queued) expect((await stores.emails.get(q.email.id))!.status).toBe(EmailStatus.SENT);
});

it('the loop picks up queued emails by itself and stops cleanly', async () => {
  const mailer = flakyMailer(0);
  const sender = new EmailSender(stores.emails, mailer, undefined, { pollMs: 20, maxAttempts: 3, retryBaseMs: 10 });
  sender.start();
  try {
    const { email } = await stores.emails.enqueue(newEmail(new Date()));
    const deadline = Date.now() + 5000;
    while ((await stores.emails.get(email.id))!.status !== EmailStatus.SENT) {
      if (Date.now() > deadline) throw new Error('email not sent by the loop');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await sender.stop();
  }
  const calls = mailer.calls;
  await stores.emails.enqueue(newEmail(new Date()));
  sender.kick();
  expect(mailer.calls).toBe(calls);
});

/** An SMTP server that takes `holdMs` to accept each message, and counts the messages it is receiving at once. */
async function slowSmtpServer(holdMs: number) {
  const state = { receiving: 0, peak: 0, received: [] as string[] };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 200,
    onData(stream, session, callback) {
      state.receiving++;
      state.peak = Math.max(state.peak, state.receiving);
      stream.resume();
      stream.on('end', () =>
        setTimeout(() => {
          state.receiving--;
          state.received.push(session.envelope.rcptTo[0].address);
          callback();
        }, holdMs),
      );
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { state, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('SMTP_MAX_CONNECTIONS: a backlog of emails drains over every connection at once', () => {
  it('defaults to 10 connections and refuses 0', () => {
    expect(loadConfig({}).smtp.maxConnections).toBe(10);
    expect(() => loadConfig({ SMTP_MAX_CONNECTIONS: '0' })).toThrow(/SMTP_MAX_CONNECTIONS/);
  });

  it.each([2, 6])('with %i connections, one pass sends its whole batch, that many at a time', async (connections) => {
    const smtp = await slowSmtpServer(150);
    const mailer = createSmtpMailer({
      ...loadConfig({}).smtp,
      host: '127.0.0.1',
      port: smtp.port,
      maxConnections: connections,
    });
    const batchSize = emailBatchSize(connections);
    const sender = new EmailSender(stores.emails, mailer, undefined, {
      pollMs: 10,
      maxAttempts: 3,
      retryBaseMs: 1000,
      batchSize,
    });
    try {
      const queued = [];
      for (let i = 0; i < batchSize; i++) queued.push((await stores.emails.enqueue(newEmail(new Date()))).email);
      expect(await sender.runOnce()).toBe(batchSize);
      // Every email of the pass was received, and the server saw exactly `connections` of them at once: the pool's
      // size is the setting's (before, a fixed 3), and the sender's batch keeps every connection busy.
      expect(smtp.state.received.sort()).toEqual(queued.map((e) => e.to).sort());
      expect(smtp.state.peak).toBe(connections);
      for (const e of queued) expect((await stores.emails.get(e.id))?.status).toBe(EmailStatus.SENT);
    } finally {
      mailer.close();
      await smtp.close();
    }
  });

  it('keeps two emails per connection in flight, and never fewer than 10', () => {
    expect(emailBatchSize(1)).toBe(10);
    expect(emailBatchSize(10)).toBe(20);
    expect(emailBatchSize(40)).toBe(80);
  });
});

describe('the SMTP connection', () => {
  /** Counts the socket flushes (each one system call) towards `port`, while `run` runs. */
  async function countWrites(port: number, run: () => Promise<void>): Promise<number> {
    let n = 0;
    const proto = net.Socket.prototype as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>;
    const original = { _write: proto._write, _writev: proto._writev };
    for (const name of ['_write', '_writev'] as const)
      proto[name] = function (this: net.Socket, ...args: unknown[]) {
        if (this.remotePort === port) n++;
        return original[name].apply(this, args);
      };
    try {
      await run();
    } finally {
      Object.assign(proto, original);
    }
    return n;
  }

  const outgoing = (i: number): OutgoingEmail => ({
    id: randomUUID(),
    to: `reader${i}@example.test`,
    subject: `Order ${i}`,
    html: `<p>Thank you for order ${i}</p>`,
    text: `Thank you for order ${i}`,
  });

  it('sends each email in two writes (the envelope, then the message with its closing dot), delivered whole', async () => {
    const mailbox = new DevMailbox();
    const port = await mailbox.start(0);
    const mailer = createSmtpMailer({ ...loadConfig({}).smtp, host: '127.0.0.1', port, maxConnections: 1 });
    try {
      await mailer.send(outgoing(0)); // the connection, its greeting and EHLO
      const writes = await countWrites(port, async () => {
        for (let i = 1; i <= 3; i++) await mailer.send(outgoing(i));
      });
      expect(writes).toBe(6);
      expect(mailbox.messages.map((m) => [m.to, m.subject, m.text.trim(), m.html]).reverse()).toEqual(
        [0, 1, 2, 3].map((i) => [
          [`reader${i}@example.test`],
          `Order ${i}`,
          `Thank you for order ${i}`,
          `<p>Thank you for order ${i}</p>`,
        ]),
      );
    } finally {
      mailer.close();
      await mailbox.stop();
    }
  });

  it('a server that cannot be reached fails the send (the sender retries it)', async () => {
    const port = await freePort();
    const mailer = createSmtpMailer({ ...loadConfig({}).smtp, host: '127.0.0.1', port, maxConnections: 1 });
    try {
      await expect(mailer.send(outgoing(0))).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      mailer.close();
    }
  });
});
