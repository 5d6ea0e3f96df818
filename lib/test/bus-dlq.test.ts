import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, nanos } from 'nats';
import {
  AppError,
  Bus,
  DeadLetters,
  makeEvent,
  NonRetryableError,
  registry,
  reportDeadLetters,
  retryDelay,
} from '@shop/kernel';
import { createTestEnv, eventually, TestEnv } from '@shop/kernel/testing';

/**
 * The dead-letter stream on a real JetStream (README "Dead letters"): NATS_MAX_DELIVER=3 with a short back-off, so a
 * message that fails every delivery is given up after its third one, copied to `dlq.<subject>` and acked.
 */
let env: TestEnv;
let bus: Bus;
let dlq: DeadLetters;
beforeAll(async () => {
  env = await createTestEnv({ NATS_MAX_DELIVER: '3', NATS_RETRY_BACKOFF_MS: '50,100' });
  bus = await Bus.connect(env.config, env.logger.child({}, { level: 'silent' }), 'dlq-test');
  dlq = bus.deadLetters();
});
afterAll(async () => {
  await bus?.close();
  await env?.cleanup();
});

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
    .reduce((sum, v) => sum + v.value, 0);
}

async function letters() {
  return dlq.list(100);
}

test('the back-off list: the n-th retry waits the n-th delay, the last one repeats', () => {
  const policy = { maxDeliver: 6, backoffMs: [10, 20, 30] };
  expect([1, 2, 3, 4, 5].map((n) => retryDelay(policy, n))).toEqual([10, 20, 30, 30, 30]);
});

test('a message failing every delivery goes to dlq.* after NATS_MAX_DELIVER attempts; later ones keep flowing; replay delivers it again once fixed', async () => {
  const TYPE = 'product.dlq_probe';
  let broken = true;
  const attempts = new Map<string, number>();
  const handled: number[] = [];
  const consumer = 'dlq-probe-product_dlq_probe';
  await bus.consume({
    durable: 'dlq-probe',
    subjects: [TYPE],
    handler: async (event) => {
      attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1);
      const { i } = event.data as { i: number };
      if (i === 0 && broken) throw new Error('the projection table is missing');
      handled.push(i);
    },
  });
  // JetStream's own bound leaves one spare delivery (a last one cut off by a crash is still dead-lettered).
  expect((await bus.jsm.consumers.info(bus.streamName('product'), consumer)).config.max_deliver).toBe(4);

  const poison = makeEvent(TYPE, { i: 0 });
  await bus.publish(poison);
  for (let i = 1; i <= 5; i++) await bus.publish(makeEvent(TYPE, { i }));

  const [letter] = await eventually(
    'the poison message dead-lettered',
    async () => {
      const all = await letters();
      return all.length === 1 && handled.length === 5 && all;
    },
    20_000,
  );
  expect(handled.sort()).toEqual([1, 2, 3, 4, 5]);
  expect(attempts.get(poison.id)).toBe(3);
  expect(letter).toMatchObject({
    subject: TYPE,
    consumer,
    deliveryCount: 3,
    stream: bus.streamName('product'),
    msgId: poison.id,
    redacted: false,
    raw: null,
    payload: { id: poison.id, type: TYPE, data: { i: 0 } },
  });
  expect(letter.error).toMatch(/the projection table is missing/);
  expect(letter.deadAt).toBeInstanceOf(Date);
  // Stored under dlq.<original subject> in the DLQ stream.
  const stored = await bus.jsm.streams.getMessage(dlq.names.stream, { seq: Number(letter.id) });
  expect(stored.subject).toBe(bus.subject(`dlq.${TYPE}`));

  // Acked: nothing of the consumer waits or is redelivered.
  const info = await bus.jsm.consumers.info(bus.streamName('product'), consumer);
  expect(info.num_ack_pending).toBe(0);
  expect(info.num_pending).toBe(0);
  expect(await metric('shop_nats_consumed_total', { service: 'dlq-test', consumer, outcome: 'dead_letter' })).toBe(1);
  expect(await metric('shop_nats_consumed_total', { service: 'dlq-test', consumer, outcome: 'retry' })).toBe(2);

  // The DLQ size metric, read at scrape time.
  const stop = reportDeadLetters(() => dlq.count());
  try {
    await registry.metrics();
    expect(await metric('shop_dlq_messages')).toBe(1);
  } finally {
    stop();
  }

  // Fixed: the replay is delivered (same event id), the letter is gone, and a second replay finds nothing.
  broken = false;
  expect(await dlq.replay(Number(letter.id))).toBe(true);
  await eventually('the replayed message handled', async () => handled.includes(0), 10_000);
  expect(attempts.get(poison.id)).toBe(4);
  expect(await dlq.count()).toBe(0);
  expect(await dlq.replay(Number(letter.id))).toBe(false);
  expect(await dlq.discard(Number(letter.id))).toBe(false);
  // Past the stream's last sequence: nothing there either.
  expect(await dlq.discard(999_999_999)).toBe(false);
  expect(await dlq.replay(999_999_999)).toBe(false);
}, 60_000);

test('a NonRetryableError dead-letters at the first delivery; link tokens are redacted, so the letter cannot be replayed', async () => {
  const token = `tok-${randomUUID()}`;
  const seen: string[] = [];
  await bus.consume({
    durable: 'dlq-secret',
    subjects: ['secret.email_link'],
    handler: async (event) => {
      seen.push(event.id);
      throw new NonRetryableError('unknown purpose');
    },
  });
  const event = makeEvent('secret.email_link', { userId: randomUUID(), email: 'a@example.test', token });
  await bus.publish(event);
  const letter = await eventually('the secret message dead-lettered', async () =>
    (await letters()).find((l) => l.msgId === event.id),
  );
  expect(seen).toEqual([event.id]);
  expect(letter).toMatchObject({ deliveryCount: 1, redacted: true, subject: 'secret.email_link' });
  expect(letter.error).toBe('NonRetryableError: unknown purpose');
  expect((letter.payload as { data: Record<string, unknown> }).data).toMatchObject({
    token: '[redacted]',
    email: 'a@example.test',
  });
  // The token is nowhere in the stored copy.
  const stored = await bus.jsm.streams.getMessage(dlq.names.stream, { seq: Number(letter.id) });
  expect(Buffer.from(stored.data).toString()).not.toContain(token);

  const refused = await dlq.replay(Number(letter.id)).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(AppError);
  expect((refused as AppError).code).toBe('BAD_USER_INPUT');
  expect(await dlq.get(Number(letter.id))).not.toBeNull();
  expect(await dlq.discard(Number(letter.id))).toBe(true);
  expect(await dlq.get(Number(letter.id))).toBeNull();
}, 30_000);

test('an undecodable message is dead-lettered at once with its text; pages skip discarded letters; two replays at once publish once', async () => {
  const TYPE = 'media.dlq_probe';
  await bus.consume({
    durable: 'dlq-raw',
    subjects: [TYPE],
    handler: async () => {
      throw new NonRetryableError('refused');
    },
  });
  await bus.js.publish(bus.subject(TYPE), new TextEncoder().encode('not json {'));
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const e = makeEvent(TYPE, { i });
    ids.push(e.id);
    await bus.publish(e);
  }
  const all = await eventually('four letters', async () => {
    const l = (await letters()).filter((x) => x.subject === TYPE);
    return l.length === 4 && l;
  });
  expect(all[0]).toMatchObject({ raw: 'not json {', payload: null, redacted: false, deliveryCount: 1 });
  expect(all[0].error).toMatch(/^NonRetryableError: undecodable message/);
  expect(all.slice(1).map((l) => l.msgId)).toEqual(ids);

  // Paging (oldest first) over a gap left by a discarded letter.
  expect(await dlq.discard(Number(all[2].id))).toBe(true);
  const page1 = await dlq.list(2, Number(all[0].id) - 1);
  expect(page1.map((l) => l.id)).toEqual([all[0].id, all[1].id]);
  const page2 = await dlq.list(2, Number(page1[1].id));
  expect(page2.map((l) => l.id)).toEqual([all[3].id]);

  // Two replays of one letter at once: one publish (the replay's message id is the letter's), one true.
  const stream = bus.streamName('media');
  const before = (await bus.jsm.streams.info(stream)).state.messages;
  const results = await Promise.all([dlq.replay(Number(all[1].id)), dlq.replay(Number(all[1].id))]);
  expect(results.filter(Boolean)).toHaveLength(1);
  expect((await bus.jsm.streams.info(stream)).state.messages).toBe(before + 1);
}, 30_000);

test('a durable consumer made with another max_deliver (an earlier version) gets the bounded one', async () => {
  const stream = bus.streamName('user');
  const durable = 'dlq-upgrade-user_dlq_probe';
  await bus.jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(30_000),
    max_deliver: -1,
    filter_subject: bus.subject('user.dlq_probe'),
  });
  await bus.consume({ durable: 'dlq-upgrade', subjects: ['user.dlq_probe'], handler: async () => undefined });
  expect((await bus.jsm.consumers.info(stream, durable)).config.max_deliver).toBe(4);
});

test('a non-JSON payload over 256 KiB keeps its start only, and such a letter is not replayed', async () => {
  const TYPE = 'cart.dlq_big';
  await bus.consume({
    durable: 'dlq-big',
    subjects: [TYPE],
    handler: async () => undefined,
  });
  const big = 'x'.repeat(300 * 1024);
  await bus.js.publish(bus.subject(TYPE), new TextEncoder().encode(big));
  const letter = await eventually('the big letter', async () => (await letters()).find((l) => l.subject === TYPE));
  expect(letter).toMatchObject({ truncated: true, redacted: false, payload: null });
  expect(letter.raw).toHaveLength(256 * 1024);
  const refused = await dlq.replay(Number(letter.id)).catch((e: unknown) => e);
  expect((refused as AppError).code).toBe('BAD_USER_INPUT');
  expect(await dlq.discard(Number(letter.id))).toBe(true);
}, 30_000);
