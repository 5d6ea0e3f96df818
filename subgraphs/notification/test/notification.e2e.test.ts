import { randomUUID } from 'node:crypto';
import { JSONCodec } from 'nats';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Bus, makeEvent, signAccessToken } from '@shop/kernel';
import { holdTableLock, Stack, startStack } from '@shop/kernel/testing';
import type { LinkEventType, UserEventPayloads } from '@shop/user/src/events/payloads';
import { startGateway } from '../../../gateway/src';
import notification, { StartedNotification } from '../src';
import { DURABLE } from '../src/events/consumers';
import { AUDIT_EVENTS, AuditNode, ConnectionOf, EMAILS, EmailNode, eventually, ok } from './helpers';

let stack: Stack;
let svc: StartedNotification;
let bus: Bus;
let adminToken: string;
let userToken: string;

beforeAll(async () => {
  stack = await startStack({ subgraphs: [notification], gateway: startGateway });
  svc = stack.services.notification as StartedNotification;
  bus = await Bus.connect(stack.env.config);
  adminToken = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  userToken = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'USER' });
});

afterAll(async () => {
  await bus?.close();
  await stack?.stop();
});

const address = (name: string) => `${name}.${randomUUID().slice(0, 8)}@example.test`;
const inHours = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();

const PURPOSE = {
  'user.registered': 'VERIFY_EMAIL',
  'user.verification_requested': 'VERIFY_EMAIL',
  'user.password_reset_requested': 'RESET_PASSWORD',
} as const;

/** The secret-bearing twin of a link event, as the user subgraph sends it on `secret.email_link`. */
function linkEvent(type: LinkEventType, over: Partial<UserEventPayloads['secret.email_link']> = {}) {
  const hours = type === 'user.password_reset_requested' ? 1 : 24;
  return makeEvent('secret.email_link', {
    eventId: randomUUID(),
    eventType: type,
    purpose: PURPOSE[type],
    userId: randomUUID(),
    email: address('someone'),
    firstName: 'Ann',
    token: `secret-${randomUUID()}`,
    expiresAt: inHours(hours),
    ...over,
  } as UserEventPayloads['secret.email_link']);
}

/** A public event that asks for an email (and is audited): the password-changed notice. */
const changedEvent = () =>
  makeEvent('user.password_changed', {
    userId: randomUUID(),
    email: address('changed'),
    firstName: 'Zoe',
    via: 'change' as const,
  });

async function emailsTo(to: string): Promise<ConnectionOf<EmailNode>> {
  return ok(await stack.gql<{ emails: ConnectionOf<EmailNode> }>(EMAILS, { to }, adminToken)).emails;
}

async function allAudit(
  type?: string,
  first = 100,
): Promise<{ nodes: AuditNode[]; totalCount: number; pages: number }> {
  const nodes: AuditNode[] = [];
  let after: string | null = null;
  let totalCount = 0;
  let pages = 0;
  for (;;) {
    const page: ConnectionOf<AuditNode> = ok(
      await stack.gql<{ auditEvents: ConnectionOf<AuditNode> }>(AUDIT_EVENTS, { first, after, type }, adminToken),
    ).auditEvents;
    pages++;
    totalCount = page.totalCount;
    nodes.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return { nodes, totalCount, pages };
    after = page.pageInfo.endCursor;
  }
}

/**
 * The email consumer of order events once it has taken every event published so far and is waiting for none to be
 * acknowledged (or has had to redeliver one: the caller checks `num_redelivered`). After it, every email an event
 * asked for is in the queue: the positive signal a late duplicate cannot slip past, unlike waiting a while.
 */
async function settledOrderEmailConsumer() {
  const stream = svc.bus.streamName('order');
  return eventually('the order email consumer to have handled every event', async () => {
    const [c] = (await svc.bus.jsm.consumers.list(stream).next()).filter((i) =>
      i.name.startsWith(`${DURABLE.events}-`),
    );
    return c && c.num_pending === 0 && (c.num_ack_pending === 0 || c.num_redelivered > 0) && c;
  });
}

/** Every queued email whose recipient matches (the store's rows, sent or not). */
async function queuedEmails(match: RegExp) {
  return (await svc.emails.list({ first: 1000 })).edges.map((e) => e.node).filter((e) => match.test(e.to));
}

const audited = (id: string, type: string) => async () => (await allAudit(type)).nodes.find((n) => n.id === id);

// First: the kernel's /ready leaves a 2 s timer per check behind; the other tests outlast it.
describe('health', () => {
  it('is ready when its database and NATS answer', async () => {
    const res = await fetch(new URL('/ready', svc.url));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['postgres', true],
      ['nats', true],
    ]);
  });

  it('refuses GraphQL requests that do not come through the gateway', async () => {
    const res = await fetch(svc.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ emails { totalCount } }' }),
    });
    expect(res.status).toBe(401);
  });
});

describe('emails from user events', () => {
  it('sends a verification email for user.registered and lists it as SENT after one attempt', async () => {
    const event = linkEvent('user.registered', { firstName: 'Ann' });
    await bus.publish(event);

    const mail = await stack.env.mail.waitFor((m) => m.to.includes(event.data.email));
    const link = `http://shop.test/verify-email?token=${event.data.token}`;
    expect(mail.subject).toBe('Verify your email address');
    expect(mail.from.replace(/"/g, '')).toBe(stack.env.config.smtp.from); // mailparser quotes the display name
    expect(mail.to).toEqual([event.data.email]);
    expect(mail.text).toContain(link);
    expect(mail.html).toContain(`href="${link}"`);
    expect(mail.text).toContain('Hi Ann,');
    expect(mail.text).toContain('valid for 24 hours');

    const sent = await eventually('the email to be SENT', async () => {
      const page = await emailsTo(event.data.email);
      return page.edges[0]?.node.status === 'SENT' && page;
    });
    expect(sent.totalCount).toBe(1);
    expect(sent.edges[0].node).toMatchObject({
      to: event.data.email,
      subject: 'Verify your email address',
      template: 'verify-email',
      status: 'SENT',
      attempts: 1,
      lastError: null,
    });
    expect(Date.parse(sent.edges[0].node.sentAt!)).toBeGreaterThanOrEqual(Date.parse(sent.edges[0].node.createdAt));
  });

  it('sends the reset link, a new verification link and the password-changed notice, escaping names', async () => {
    const reset = linkEvent('user.password_reset_requested', { firstName: null });
    const again = linkEvent('user.verification_requested', { firstName: '<b>Eve</b> & co' });
    const changed = makeEvent('user.password_changed', {
      userId: randomUUID(),
      email: address('changed'),
      firstName: 'Zoe',
      via: 'reset' as const,
    });
    for (const e of [reset, again, changed]) await bus.publish(e);

    const resetMail = await stack.env.mail.waitFor((m) => m.to.includes(reset.data.email));
    expect(resetMail.subject).toBe('Reset your password');
    expect(resetMail.text).toContain(`http://shop.test/reset-password?token=${reset.data.token}`);
    expect(resetMail.text).toContain('Hello,');
    expect(resetMail.text).toContain('valid for 1 hour');

    const againMail = await stack.env.mail.waitFor((m) => m.to.includes(again.data.email));
    expect(againMail.text).toContain(`http://shop.test/verify-email?token=${again.data.token}`);
    // Not a plain name: not printed at all (neither as markup nor as text).
    expect(againMail.text).toContain('Hello,');
    expect(againMail.html).not.toContain('Eve');
    expect(againMail.html).not.toContain('<b>');

    const changedMail = await stack.env.mail.waitFor((m) => m.to.includes(changed.data.email));
    expect(changedMail.subject).toBe('Your password was changed');
    expect(changedMail.text).toContain('Hi Zoe,');
    expect(changedMail.text).not.toMatch(/token=/);

    const templates = await eventually('all three emails SENT', async () => {
      const nodes = (await Promise.all([reset, again, changed].map((e) => emailsTo(e.data.email)))).map(
        (p) => p.edges[0]?.node,
      );
      return nodes.every((n) => n?.status === 'SENT') && nodes.map((n) => n!.template);
    });
    expect(templates).toEqual(['password-reset', 'verify-email', 'password-changed']);
  });

  it('creates one email and one audit row for an event delivered several times', async () => {
    const event = changedEvent();
    await bus.publish(event);
    expect((await bus.publish(event)).duplicate).toBe(true);
    // JetStream dropped that copy by its Nats-Msg-Id; this one gets through and must hit the consumers' unique keys.
    await bus.js.publish(bus.subject(event.type), JSONCodec().encode(event), { msgID: randomUUID() });
    // Each consumer handles a stream in order: once the later sentinel is processed, so were both copies.
    const sentinel = changedEvent();
    await bus.publish(sentinel);
    await eventually('the sentinel email', async () => (await emailsTo(sentinel.data.email)).totalCount === 1);
    await eventually('the sentinel audit row', audited(sentinel.id, 'user.password_changed'));

    expect((await emailsTo(event.data.email)).totalCount).toBe(1);
    expect((await allAudit('user.password_changed')).nodes.filter((n) => n.id === event.id)).toHaveLength(1);

    // Calling the handlers directly again is a no-op too.
    expect((await svc.emails.handleEvent(event)).created).toBe(false);
    expect(await svc.audit.record(event)).toBe(false);
    expect((await emailsTo(event.data.email)).totalCount).toBe(1);

    await eventually('the single email to arrive', async () =>
      stack.env.mail.messages.some((m) => m.to.includes(event.data.email)),
    );
    await eventually('the sentinel to arrive', async () =>
      stack.env.mail.messages.some((m) => m.to.includes(sentinel.data.email)),
    );
    expect(stack.env.mail.messages.filter((m) => m.to.includes(event.data.email))).toHaveLength(1);
  });

  it('a secret link message delivered twice makes one email, and leaves the SECRETS stream once the email is queued', async () => {
    const link = linkEvent('user.registered');
    await bus.publish(link);
    await bus.js.publish(bus.subject(link.type), JSONCodec().encode(link), { msgID: randomUUID() });
    const sentinel = linkEvent('user.registered');
    await bus.publish(sentinel);
    await stack.env.mail.waitFor((m) => m.to.includes(sentinel.data.email));
    await stack.env.mail.waitFor((m) => m.to.includes(link.data.email));
    expect((await emailsTo(link.data.email)).totalCount).toBe(1);
    // Work-queue retention: acked messages are deleted by the server.
    await eventually(
      'the SECRETS stream to be empty',
      async () => (await bus.jsm.streams.info(bus.streamName('secret'))).state.messages === 0,
    );
    // The secret never reaches the audit log.
    expect(
      (await allAudit()).nodes.some((n) => n.payload.includes(link.data.token) || n.type.startsWith('secret')),
    ).toBe(false);
  });

  it('the public link events (no token) ask for no email', async () => {
    const registered = makeEvent('user.registered', {
      userId: randomUUID(),
      email: address('public'),
      firstName: 'Ann',
      expiresAt: inHours(24),
    });
    const sentinel = changedEvent();
    await bus.publish(registered);
    await bus.publish(sentinel);
    await stack.env.mail.waitFor((m) => m.to.includes(sentinel.data.email));
    await eventually('the public event audited', audited(registered.id, 'user.registered'));
    expect((await emailsTo(registered.data.email)).totalCount).toBe(0);
  });

  it('retries while the mail server is down and sends once it is back', async () => {
    const port = stack.env.config.smtp.port;
    const event = linkEvent('user.registered');
    await stack.env.mail.stop();
    let failed: EmailNode;
    try {
      await bus.publish(event);
      failed = await eventually('failed attempts', async () => {
        const node = (await emailsTo(event.data.email)).edges[0]?.node;
        return node && node.status === 'FAILED' && node.attempts >= 2 && node;
      });
    } finally {
      await stack.env.mail.start(port);
    }
    expect(failed.lastError).toMatch(/ECONNREFUSED|connect/i);
    expect(failed.sentAt).toBeNull();

    const mail = await stack.env.mail.waitFor((m) => m.to.includes(event.data.email));
    expect(mail.text).toContain(event.data.token);
    const sent = await eventually('SENT after the outage', async () => {
      const node = (await emailsTo(event.data.email)).edges[0]?.node;
      return node?.status === 'SENT' && node;
    });
    expect(sent.attempts).toBeGreaterThan(failed.attempts);
    expect(sent.sentAt).not.toBeNull();
    expect(stack.env.mail.messages.filter((m) => m.to.includes(event.data.email))).toHaveLength(1);
    // Its Message-ID is the queued email's own (every attempt carries the same one), at the sender's domain.
    const domain = /@([^\s>]+)/.exec(stack.env.config.smtp.from)![1];
    expect(mail.messageId).toBe(`<${sent.id}@${domain}>`);
  });

  it('filters emails by status', async () => {
    const page = ok(
      await stack.gql<{ emails: ConnectionOf<EmailNode> }>(EMAILS, { status: 'SENT', first: 100 }, adminToken),
    ).emails;
    expect(page.totalCount).toBeGreaterThanOrEqual(5);
    expect(page.edges.every((e) => e.node.status === 'SENT')).toBe(true);
    const queued = ok(
      await stack.gql<{ emails: ConnectionOf<EmailNode> }>(EMAILS, { status: 'DEAD' }, adminToken),
    ).emails;
    expect(queued.totalCount).toBe(0);
  });
});

describe('audit log', () => {
  it('records events of every domain once, with secrets redacted, filterable by type and paged without gaps or repeats', async () => {
    // Public events never carry a token; should one arrive with a stray secret field anyway, the audit log redacts it.
    const stray = (type: LinkEventType) =>
      makeEvent(type, {
        userId: randomUUID(),
        email: address('stray'),
        firstName: 'Ann',
        expiresAt: inHours(1),
        token: `secret-${randomUUID()}`,
      });
    const registered = stray('user.registered');
    const reset = stray('user.password_reset_requested');
    const orderId = randomUUID();
    const events = [
      registered,
      reset,
      makeEvent('order.placed', { orderId, userId: randomUUID(), total: { amount: 1999, currency: 'EUR' } }),
      makeEvent('order.status_changed', { orderId, from: 'PENDING', to: 'PAID' }),
      makeEvent('cart.updated', { cartId: randomUUID(), itemCount: 2 }),
      makeEvent('product.created', { productId: randomUUID(), sku: 'SKU-1' }),
      makeEvent('media.image_attached', { imageId: randomUUID(), productId: randomUUID() }),
    ];
    for (const e of events) await bus.publish(e);
    for (const e of events) await eventually(`audit row of ${e.type}`, audited(e.id, e.type));

    const all = await allAudit(undefined, 100);
    for (const e of events) {
      const row = all.nodes.find((n) => n.id === e.id)!;
      expect(row.type).toBe(e.type);
      expect(row.occurredAt).toBe(e.occurredAt);
    }
    const byId = (id: string) => all.nodes.find((n) => n.id === id)!;
    expect(byId(registered.id).subject).toBe(registered.data.userId);
    expect(byId(events[2].id).subject).toBe(orderId);
    expect(byId(events[4].id).subject).toBe((events[4].data as { cartId: string }).cartId);
    expect(byId(events[5].id).subject).toBe((events[5].data as { productId: string }).productId);
    expect(byId(events[6].id).subject).toBe((events[6].data as { imageId: string }).imageId);

    const payload = JSON.parse(byId(registered.id).payload);
    expect(payload).toEqual({ ...registered.data, token: '[redacted]' });
    for (const node of all.nodes) {
      expect(node.payload).not.toContain(registered.data.token);
      expect(node.payload).not.toContain(reset.data.token);
    }

    const orders = await allAudit('order.placed');
    expect(orders.nodes.map((n) => n.id)).toEqual([events[2].id]);
    expect(orders.totalCount).toBe(1);

    // Small pages over everything: each event exactly once, newest first, and as many as totalCount says.
    const paged = await allAudit(undefined, 2);
    expect(paged.pages).toBeGreaterThan(3);
    expect(paged.nodes).toHaveLength(paged.totalCount);
    expect(new Set(paged.nodes.map((n) => n.id)).size).toBe(paged.totalCount);
    expect(paged.nodes.map((n) => n.id)).toEqual(all.nodes.map((n) => n.id));
    const times = paged.nodes.map((n) => Date.parse(n.occurredAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });
});

describe('audit log under a sale', () => {
  it("one product's stock events are not held behind each other's audit writes: those that wait go in one statement", async () => {
    // A sale: every checkout adjusts the stock of the same product. Such events ask for no email, so nothing needs
    // them in order; held in order, each waited for the previous one's audit write (one statement per event).
    const productId = randomUUID();
    const events = Array.from({ length: 6 }, (_, n) =>
      makeEvent('product.stock_adjusted', {
        productId,
        delta: -1,
        reason: 'SALE',
        onHand: 100 - n,
        orderId: randomUUID(),
      }),
    );
    const { orm } = svc.stores as StartedNotification['stores'] & { orm: MikroORM };
    // Another transaction holds the table, so that the first event's write waits while the others arrive.
    const lock = await holdTableLock(orm, 'audit_events');
    const execute = jest.spyOn(
      orm.em.getConnection() as unknown as { executeQuery(sql: string): Promise<unknown> },
      'executeQuery',
    );
    /** The audit statements that carried these events: how many of them each. */
    const writes = () =>
      execute.mock.calls.map(([sql]) => events.filter((e) => String(sql).includes(e.id)).length).filter((n) => n > 0);
    try {
      await bus.publish(events[0]);
      await eventually('the first write waiting on the lock', async () => writes().length === 1);
      for (const e of events.slice(1)) await bus.publish(e);
      // Each event is on its way once its record waits in the group commit: give them time to get there.
      await new Promise((r) => setTimeout(r, 500));
      await lock.release();
      for (const e of events) await eventually(`audit row of event ${e.data.onHand}`, audited(e.id, e.type));
      // The first alone, the five that arrived while it waited in the next (held in order: six statements).
      expect(writes()).toEqual([1, 5]);
    } finally {
      execute.mockRestore();
      await lock.release();
    }
    const rows = (await allAudit('product.stock_adjusted')).nodes.filter((n) => n.subject === productId);
    expect(rows.map((r) => r.id).sort()).toEqual(events.map((e) => e.id).sort());
  });
});

describe('access and validation', () => {
  const queries = { emails: EMAILS, auditEvents: AUDIT_EVENTS };

  it.each(Object.keys(queries) as (keyof typeof queries)[])(
    '%s: anonymous is UNAUTHENTICATED, USER is FORBIDDEN',
    async (field) => {
      const anon = await stack.gql(queries[field], {});
      expect(anon.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      expect(anon.data?.[field] ?? null).toBeNull();
      const asUser = await stack.gql(queries[field], {}, userToken);
      expect(asUser.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      expect(asUser.data?.[field] ?? null).toBeNull();
    },
  );

  it.each([
    ['emails', 101],
    ['emails', -1],
    ['auditEvents', 101],
    ['auditEvents', -1],
  ] as const)('%s(first: %d) is BAD_USER_INPUT on first', async (field, first) => {
    const res = await stack.gql(queries[field], { first }, adminToken);
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it.each(['emails', 'auditEvents'] as const)(
    '%s rejects a forged cursor as BAD_USER_INPUT on after',
    async (field) => {
      for (const after of ['not-a-cursor', Buffer.from(JSON.stringify(['yesterday', 'x'])).toString('base64url')]) {
        const res = await stack.gql(queries[field], { after }, adminToken);
        expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
      }
    },
  );

  it('pages emails with first/after and defaults first to 20', async () => {
    const first = ok(await stack.gql<{ emails: ConnectionOf<EmailNode> }>(EMAILS, { first: 2 }, adminToken)).emails;
    expect(first.edges).toHaveLength(2);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const next = ok(
      await stack.gql<{ emails: ConnectionOf<EmailNode> }>(
        EMAILS,
        { first: 2, after: first.pageInfo.endCursor },
        adminToken,
      ),
    ).emails;
    const ids = [...first.edges, ...next.edges].map((e) => e.node.id);
    expect(new Set(ids).size).toBe(4);
    const all = ok(await stack.gql<{ emails: ConnectionOf<EmailNode> }>(EMAILS, {}, adminToken)).emails;
    expect(all.edges.length).toBe(Math.min(20, all.totalCount));
    expect(all.edges.slice(0, 4).map((e) => e.node.id)).toEqual(ids);
  });
});

describe('emails from order events', () => {
  const orderEvent = (
    type: 'order.placed' | 'order.status_changed' | 'order.cancelled',
    over: Record<string, unknown> = {},
  ) =>
    makeEvent(type, {
      orderId: randomUUID(),
      number: `SH-2026-${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`,
      userId: randomUUID(),
      email: address('buyer'),
      firstName: 'Ann',
      status: 'PAID',
      items: [
        {
          productId: randomUUID(),
          productName: 'Deal Headphones',
          quantity: 2,
          unitPrice: 1999,
          discountPercent: 20,
          lineTotal: 3198,
        },
        {
          productId: randomUUID(),
          productName: 'Plain <Cable>',
          quantity: 3,
          unitPrice: 500,
          discountPercent: 0,
          lineTotal: 1500,
        },
      ],
      subtotal: 5498,
      discountTotal: 800,
      total: 4698,
      currency: 'USD',
      placedAt: new Date().toISOString(),
      ...over,
    });

  it('order.placed → a confirmation listing every item (name, quantity, unit price, discount) and the total; once per event', async () => {
    const event = orderEvent('order.placed');
    await bus.publish(event);
    await bus.publish(event); // a redelivery: deduplicated by the stream and by (event id, template)
    const mail = await stack.env.mail.waitFor((m) => m.to.includes(event.data.email));
    expect(mail.subject).toBe(`Your order ${event.data.number} is confirmed`);
    expect(mail.text).toContain('Hi Ann,');
    expect(mail.text).toContain('2 × Deal Headphones — $19.99 each, 20% off — $31.98');
    expect(mail.text).toContain('3 × Plain <Cable> — $5.00 each — $15.00');
    expect(mail.text).toContain('Subtotal: $54.98');
    expect(mail.text).toContain('Discounts: -$8.00');
    expect(mail.text).toContain('Total: $46.98');
    expect(mail.html).toContain('Plain &lt;Cable&gt;');
    const page = await eventually('the order email to be SENT', async () => {
      const p = await emailsTo(event.data.email);
      return p.edges[0]?.node.status === 'SENT' && p;
    });
    expect(page.totalCount).toBe(1);
    expect(page.edges[0].node.template).toBe('order-placed');
    // Once the consumer has handled everything published (the repeat included), still one email queued and one sent.
    expect(await settledOrderEmailConsumer()).toMatchObject({ num_ack_pending: 0, num_redelivered: 0 });
    expect((await emailsTo(event.data.email)).totalCount).toBe(1);
    expect(stack.env.mail.messages.filter((m) => m.to.includes(event.data.email))).toHaveLength(1);
  });

  it('one consumer per stream takes each event for the audit and the emails, several at once', async () => {
    const base = { orderId: randomUUID(), email: address('sequence') };
    const events = [
      orderEvent('order.placed', base),
      orderEvent('order.status_changed', { ...base, status: 'SHIPPED', previousStatus: 'PAID' }),
      orderEvent('order.status_changed', { ...base, status: 'DELIVERED', previousStatus: 'SHIPPED' }),
    ];
    // Published back to back: the consumer holds them at once (up to 32), the order's one after another (kernel
    // test bus-consume: orderKey).
    await Promise.all(events.map((e) => bus.publish(e)));
    await eventually('three emails queued', async () => (await emailsTo(base.email)).totalCount === 3);
    const queued = (await emailsTo(base.email)).edges.map((e) => e.node);
    expect(queued.map((e) => e.template).sort()).toEqual([
      'order-placed',
      'order-status-changed',
      'order-status-changed',
    ]);
    expect(queued.map((e) => e.subject).sort()).toEqual(
      [
        `Your order ${events[0].data.number} is confirmed`,
        `Your order ${events[1].data.number} is on its way`,
        `Your order ${events[2].data.number} was delivered`,
      ].sort(),
    );
    for (const e of events)
      await eventually(`${e.type} audited`, async () => (await allAudit(e.type)).nodes.some((n) => n.id === e.id));
    // The order stream has one notification consumer (not one for the audit and one for the emails).
    const names = (await svc.bus.jsm.consumers.list(svc.bus.streamName('order')).next()).map((c) => c.name);
    expect(names.filter((n) => n.startsWith('notification-'))).toEqual([`${DURABLE.events}-order_all`]);
  });

  it('order.status_changed → a status email; order.cancelled → a cancellation email (the CANCELLED status change sends none)', async () => {
    const shipped = orderEvent('order.status_changed', { status: 'SHIPPED', previousStatus: 'PAID' });
    await bus.publish(shipped);
    const shippedMail = await stack.env.mail.waitFor((m) => m.to.includes(shipped.data.email));
    expect(shippedMail.subject).toBe(`Your order ${shipped.data.number} is on its way`);
    expect(shippedMail.text).toContain('has shipped');
    expect(shippedMail.text).toContain('Total: $46.98');

    const base = {
      orderId: randomUUID(),
      email: address('cancel'),
      number: 'SH-2026-999999',
      status: 'CANCELLED',
      previousStatus: 'PAID',
    };
    const statusChange = orderEvent('order.status_changed', base);
    const cancelled = orderEvent('order.cancelled', base);
    await bus.publish(statusChange);
    await bus.publish(cancelled);
    const cancelMail = await stack.env.mail.waitFor((m) => m.to.includes(base.email));
    expect(cancelMail.subject).toBe('Your order SH-2026-999999 was cancelled');
    expect(cancelMail.text).toContain('A refund of $46.98');
    expect(cancelMail.text).toContain('2 × Deal Headphones');
    await eventually(
      'both order events audited',
      async () =>
        (await allAudit('order.cancelled')).nodes.some((n) => n.id === cancelled.id) &&
        (await allAudit('order.status_changed')).nodes.some((n) => n.id === statusChange.id),
    );
    // Both events handled by the email consumer: the status change queued nothing, the cancellation one email.
    expect(await settledOrderEmailConsumer()).toMatchObject({ num_ack_pending: 0, num_redelivered: 0 });
    expect((await emailsTo(base.email)).edges.map((e) => e.node.template)).toEqual(['order-cancelled']);
    expect(stack.env.mail.messages.filter((m) => m.to.includes(base.email))).toHaveLength(1);
  });

  it('a name that is not a plain name never reaches the email; a recipient list is never mailed', async () => {
    const phishing = orderEvent('order.placed', { firstName: 'Click http://evil.example to claim your prize' });
    const list = orderEvent('order.placed', {
      email: `victim.${randomUUID().slice(0, 8)}@example.test,attacker@evil.example`,
    });
    const quoted = orderEvent('order.placed', {
      email: `"attacker@evil.example" <victim.${randomUUID().slice(0, 8)}@example.test>`,
    });
    const sentinel = orderEvent('order.placed', { firstName: 'Zoë-Anne' });
    for (const e of [phishing, list, quoted, sentinel]) await bus.publish(e);
    const mail = await stack.env.mail.waitFor((m) => m.to.includes(phishing.data.email));
    expect(mail.text).toContain('Hello,');
    expect(mail.text).not.toContain('evil.example');
    expect(mail.html).not.toContain('evil.example');
    expect((await stack.env.mail.waitFor((m) => m.to.includes(sentinel.data.email))).text).toContain('Hi Zoë-Anne,');
    // Every event handled (the sentinel came last): nothing for the list or the quoted address was even queued.
    expect(await settledOrderEmailConsumer()).toMatchObject({ num_ack_pending: 0, num_redelivered: 0 });
    expect(await queuedEmails(/evil\.example|victim\./)).toEqual([]);
    expect(stack.env.mail.messages.filter((m) => m.to.some((to) => /evil\.example/.test(to)))).toHaveLength(0);
    expect(stack.env.mail.messages.filter((m) => m.to.some((to) => /^victim\./.test(to)))).toHaveLength(0);
  });

  it('skips order events without a usable payload (no email, no endless retries)', async () => {
    const bad = orderEvent('order.placed', { currency: 'usd' });
    const sentinel = orderEvent('order.placed');
    await bus.publish(bad);
    await bus.publish(sentinel);
    await stack.env.mail.waitFor((m) => m.to.includes(sentinel.data.email));
    // Taken once and acknowledged: an event that can never make an email is not handed back for redelivery (a
    // handler that threw would nak it, and JetStream would redeliver it forever: this consumer has no max_deliver).
    const consumer = await settledOrderEmailConsumer();
    expect({ ackPending: consumer.num_ack_pending, redelivered: consumer.num_redelivered }).toEqual({
      ackPending: 0,
      redelivered: 0,
    });
    expect(consumer.ack_floor.stream_seq).toBe(consumer.delivered.stream_seq);
    expect((await emailsTo(bad.data.email)).totalCount).toBe(0);
    expect(stack.env.mail.messages.filter((m) => m.to.includes(bad.data.email))).toHaveLength(0);
  });
});
