import { randomUUID } from 'node:crypto';
import { makeEvent, registry, signAccessToken } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import notification, { StartedNotification } from '../src';
import { ConnectionOf, eventually, ok } from './helpers';

/**
 * The dead-letter stream end to end through the gateway (README "Dead letters"), with the notification subgraph's
 * real consumers. A consumer is made to fail on one message by the database itself: a trigger refuses that one row
 * (dropping the trigger is the fix). NATS_MAX_DELIVER=3 with a short back-off.
 */
let stack: Stack;
let svc: StartedNotification;
let admin: string;
let user: string;

beforeAll(async () => {
  stack = await startStack({
    subgraphs: [notification],
    gateway: startGateway,
    env: { NATS_MAX_DELIVER: '3', NATS_RETRY_BACKOFF_MS: '50,100' },
  });
  svc = stack.services.notification as StartedNotification;
  admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  user = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'USER' });
});
afterAll(async () => {
  await stack?.stop();
});
// Each test starts with an empty DLQ (one stream for the file).
beforeEach(async () => {
  for (const l of await svc.bus.deadLetters().list(100)) await svc.bus.deadLetters().discard(Number(l.id));
});

const db = (sql: string) =>
  (
    svc.stores as unknown as {
      orm: { em: { fork(): { getConnection(): { execute(sql: string): Promise<unknown> } } } };
    }
  ).orm.em
    .fork()
    .getConnection()
    .execute(sql);

/** A trigger refusing the rows of `table` where `condition` holds: a handler that fails on exactly those messages. */
async function refuse(name: string, table: string, condition: string): Promise<() => Promise<void>> {
  await db(`CREATE FUNCTION ${name}() RETURNS trigger AS $$
    BEGIN
      IF ${condition} THEN RAISE EXCEPTION '${name}: row refused'; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql`);
  await db(`CREATE TRIGGER ${name} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`);
  return async () => {
    await db(`DROP TRIGGER ${name} ON ${table}`);
    await db(`DROP FUNCTION ${name}()`);
  };
}

interface LetterNode {
  id: string;
  subject: string;
  consumer: string;
  error: string;
  deliveryCount: number;
  stream: string;
  streamSequence: string;
  messageId: string | null;
  eventId: string | null;
  eventType: string | null;
  payload: any;
  raw: string | null;
  redacted: boolean;
  replayable: boolean;
  deadAt: string;
}
const DEAD_LETTERS = `query($first: Int, $after: String) {
  deadLetters(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id subject consumer error deliveryCount stream streamSequence messageId eventId eventType payload raw redacted replayable deadAt } }
  }
}`;
const REPLAY = 'mutation($id: ID!) { replayDeadLetter(id: $id) }';
const DISCARD = 'mutation($id: ID!) { discardDeadLetter(id: $id) }';

async function deadLetters(variables: Record<string, unknown> = { first: 100 }): Promise<ConnectionOf<LetterNode>> {
  return ok(await stack.gql<{ deadLetters: ConnectionOf<LetterNode> }>(DEAD_LETTERS, variables, admin)).deadLetters;
}
const audited = async (id: string) => (await svc.stores.audit.list({ limit: 100 })).rows.some((r) => r.id === id);

test('a refused audit row fails only its own write, not the others written in the same statement', async () => {
  const type = `audit.batch_${randomUUID().slice(0, 8)}`;
  const rows = [0, 1, 2].map((n) => ({
    id: randomUUID(),
    type,
    subject: '',
    payload: JSON.stringify({ n }),
    occurredAt: new Date(),
    recordedAt: new Date(),
  }));
  const fix = await refuse('dlq_refuse_one_row', 'audit_events', `NEW.id = '${rows[1].id}'`);
  try {
    // The first goes alone; the other two, submitted while it runs, share the next statement, which the refused row
    // fails: written again row by row, only the refused one fails.
    const outcomes = await Promise.allSettled(rows.map((r) => svc.stores.audit.record(r)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/dlq_refuse_one_row: row refused/);
    expect((await svc.stores.audit.list({ limit: 10, type })).rows.map((r) => r.id).sort()).toEqual(
      [rows[0].id, rows[2].id].sort(),
    );
  } finally {
    await fix();
  }
});

test('a consumer failing on one message moves it to dlq.* after NATS_MAX_DELIVER attempts while later ones flow; replay delivers it once fixed', async () => {
  const TYPE = 'order.dlq_probe';
  const poison = makeEvent(TYPE, { n: 0 });
  const fix = await refuse('dlq_refuse_audit', 'audit_events', `NEW.id = '${poison.id}'`);
  const later = [1, 2, 3].map((n) => makeEvent(TYPE, { n }));
  await svc.bus.publish(poison);
  for (const e of later) await svc.bus.publish(e);

  const letter = await eventually(
    'the refused event dead-lettered',
    async () => (await deadLetters()).edges.map((e) => e.node).find((l) => l.messageId === poison.id),
    20_000,
  );
  // Later events of the same consumer were not held up by it.
  for (const e of later) expect(await audited(e.id)).toBe(true);
  expect(await audited(poison.id)).toBe(false);
  expect(letter).toMatchObject({
    subject: TYPE,
    consumer: 'notification-events-order_all',
    deliveryCount: 3,
    stream: svc.bus.streamName('order'),
    messageId: poison.id,
    eventId: poison.id,
    eventType: TYPE,
    redacted: false,
    replayable: true,
    raw: null,
    payload: { id: poison.id, type: TYPE, data: { n: 0 } },
  });
  expect(letter.error).toMatch(/dlq_refuse_audit: row refused/);
  // One letter: one consumer per stream hands each event to the audit and the email queue.
  expect((await deadLetters()).totalCount).toBe(1);
  // The DLQ size is exported.
  expect(await registry.metrics()).toMatch(/^shop_dlq_messages 1$/m);

  // Not for anyone but admins.
  for (const [doc, variables] of [
    [DEAD_LETTERS, { first: 5 }],
    [REPLAY, { id: letter.id }],
    [DISCARD, { id: letter.id }],
  ] as const) {
    expect((await stack.gql(doc, variables, user)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await stack.gql(doc, variables)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  }
  expect((await deadLetters()).totalCount).toBe(1);

  // Still failing: replayed, it is dead-lettered again (a new letter).
  expect(ok(await stack.gql<{ replayDeadLetter: boolean }>(REPLAY, { id: letter.id }, admin)).replayDeadLetter).toBe(
    true,
  );
  const again = await eventually('dead-lettered again', async () =>
    (await deadLetters()).edges.map((e) => e.node).find((l) => l.eventId === poison.id && l.id !== letter.id),
  );
  expect(again).toMatchObject({ deliveryCount: 3, messageId: `replay:${svc.bus.deadLetterNames.stream}:${letter.id}` });

  // Fixed: the replay is recorded, and the letter is gone.
  await fix();
  expect(ok(await stack.gql<{ replayDeadLetter: boolean }>(REPLAY, { id: again.id }, admin)).replayDeadLetter).toBe(
    true,
  );
  await eventually('the replayed event audited', () => audited(poison.id));
  expect((await deadLetters()).totalCount).toBe(0);
  // Replayed already: nothing to replay or discard.
  expect(ok(await stack.gql(REPLAY, { id: again.id }, admin)).replayDeadLetter).toBe(false);
  expect(ok(await stack.gql(DISCARD, { id: again.id }, admin)).discardDeadLetter).toBe(false);
  expect((await stack.gql(REPLAY, { id: 'nope' }, admin)).errors?.[0]?.extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    field: 'id',
  });
}, 90_000);

test('a dead-lettered link email: the token is redacted in the letter and in deadLetters; it can be discarded, not replayed', async () => {
  const to = `dlq.${randomUUID().slice(0, 8)}@example.test`;
  const token = `tok-${randomUUID()}`;
  const fix = await refuse('dlq_refuse_email', 'emails', `NEW.to_address = '${to}'`);
  try {
    const event = makeEvent('secret.email_link', {
      eventId: randomUUID(),
      eventType: 'user.password_reset_requested',
      purpose: 'RESET_PASSWORD',
      userId: randomUUID(),
      email: to,
      firstName: null,
      token,
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    await svc.bus.publish(event);
    const letter = await eventually(
      'the link message dead-lettered',
      async () => (await deadLetters()).edges.map((e) => e.node).find((l) => l.messageId === event.id),
      20_000,
    );
    expect(letter).toMatchObject({
      subject: 'secret.email_link',
      consumer: 'notification-events-secret_all',
      deliveryCount: 3,
      redacted: true,
      replayable: false,
      payload: { data: { token: '[redacted]', email: to } },
    });
    const res = await stack.gql(DEAD_LETTERS, { first: 100 }, admin);
    // Nowhere in the answer: not in the payload, not in the error (the email's insert is a prepared statement: its
    // error names the statement's failure, never its values).
    expect(letter.error).toMatch(/dlq_refuse_email: row refused/);
    expect(JSON.stringify(res)).not.toContain(token);
    const stored = await svc.bus.jsm.streams.getMessage(svc.bus.deadLetterNames.stream, { seq: Number(letter.id) });
    expect(Buffer.from(stored.data).toString()).not.toContain(token);

    expect((await stack.gql(REPLAY, { id: letter.id }, admin)).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'id',
    });
    expect(ok(await stack.gql(DISCARD, { id: letter.id }, admin)).discardDeadLetter).toBe(true);
    expect((await deadLetters()).edges.some((e) => e.node.id === letter.id)).toBe(false);
  } finally {
    await fix();
  }
}, 60_000);

test('pages: oldest first, first/after, a bad cursor is BAD_USER_INPUT', async () => {
  // Three letters straight into the stream's own format through a consumer refusing them for good.
  const fix = await refuse('dlq_refuse_page', 'audit_events', `NEW.type = 'media.dlq_page'`);
  try {
    const events = [0, 1, 2].map((n) => makeEvent('media.dlq_page', { n }));
    for (const e of events) await svc.bus.publish(e);
    const all = await eventually('three letters', async () => {
      const page = await deadLetters();
      const mine = page.edges.map((e) => e.node).filter((l) => l.subject === 'media.dlq_page');
      return mine.length === 3 && page;
    });
    // Oldest first = in the order they were dead-lettered (the stream's sequence). The events consumer handles up to
    // 32 messages at once, so that is not necessarily the order they were published in.
    const ids = all.edges.map((e) => Number(e.node.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(all.edges.map((e) => e.node.eventId).sort()).toEqual(events.map((e) => e.id).sort());
    const first = await deadLetters({ first: 2 });
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(first.totalCount).toBe(3);
    expect(first.edges.map((e) => e.node.eventId)).toEqual(all.edges.slice(0, 2).map((e) => e.node.eventId));
    const second = await deadLetters({ first: 2, after: first.pageInfo.endCursor });
    expect(second.edges.map((e) => e.node.eventId)).toEqual([all.edges[2].node.eventId]);
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect((await stack.gql(DEAD_LETTERS, { after: 'garbage' }, admin)).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'after',
    });
    for (const e of all.edges)
      expect(ok(await stack.gql(DISCARD, { id: e.node.id }, admin)).discardDeadLetter).toBe(true);
    expect((await deadLetters()).totalCount).toBe(0);
  } finally {
    await fix();
  }
}, 60_000);

test('the log consumer dead-letters a batch its store refuses; replayed once fixed, its lines are stored', async () => {
  const marker = `dlq-log-${randomUUID()}`;
  const fix = await refuse('dlq_refuse_logs', 'log_entry', `NEW.message = '${marker}'`);
  let fixed = false;
  try {
    const batch =
      [marker, `${marker} (second line)`]
        .map((msg) => JSON.stringify({ level: 30, time: Date.now(), service: 'probe', msg }))
        .join('\n') + '\n';
    await svc.bus.js.publish(svc.bus.subject('logs.probe'), new TextEncoder().encode(batch), { msgID: randomUUID() });
    const letter = await eventually(
      'the batch dead-lettered',
      async () => (await deadLetters()).edges.map((e) => e.node).find((l) => l.subject === 'logs.probe'),
      20_000,
    );
    // NDJSON is not one JSON value: kept as text, replayable.
    expect(letter).toMatchObject({
      consumer: 'notification-logs',
      deliveryCount: 3,
      payload: null,
      raw: batch,
      replayable: true,
    });
    await fix();
    fixed = true;
    expect(ok(await stack.gql(REPLAY, { id: letter.id }, admin)).replayDeadLetter).toBe(true);
    const stored = await eventually('the replayed batch stored', async () => {
      const page = await svc.logs.list({ first: 10, filter: { search: marker } });
      return page.edges.length === 2 && page.edges.map((e) => e.node.message);
    });
    expect(stored.sort()).toEqual([marker, `${marker} (second line)`]);
  } finally {
    if (!fixed) await fix();
  }
}, 60_000);
