import { Bus, EventEnvelope, makeEvent } from '@shop/kernel';
import { createTestEnv, eventually, TestEnv } from '@shop/kernel/testing';

/**
 * Durable consumers on a real JetStream: handling in order per key with several messages at once (`orderKey`, and
 * messages without a key), and a consumer taking over the position of the consumers it replaces (`replaces`), on a
 * limits stream and on the work-queue stream of secrets.
 */
let env: TestEnv;
let bus: Bus;
const others: Bus[] = [];
beforeAll(async () => {
  env = await createTestEnv();
  bus = await connect();
});
afterAll(async () => {
  for (const b of others) await b.close().catch(() => undefined);
  await env?.cleanup();
});

async function connect(): Promise<Bus> {
  const b = await Bus.connect(env.config, env.logger.child({}, { level: 'silent' }), 'consume-test');
  others.push(b);
  return b;
}

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
};

test('orderKey: one key at a time in stream order, other keys alongside', async () => {
  const TYPE = 'product.order_key_probe';
  const log: string[] = [];
  const slow = gate();
  await bus.consume({
    durable: 'order-key',
    subjects: [TYPE],
    concurrency: 8,
    orderKey: (e) => (e.data as { key: string }).key,
    handler: async (event) => {
      const { key, n } = event.data as { key: string; n: number };
      log.push(`start ${key}${n}`);
      if (key === 'a' && n === 1) await slow.opened;
      log.push(`end ${key}${n}`);
    },
  });
  for (const [key, n] of [
    ['a', 1],
    ['b', 1],
    ['a', 2],
    ['b', 2],
    ['a', 3],
  ] as const)
    await bus.publish(makeEvent(TYPE, { key, n }));
  // While a1 is held, b's run to the end and a2 has not started.
  await eventually('b handled', async () => log.includes('end b2'));
  expect(log).toContain('start a1');
  expect(log).not.toContain('start a2');
  slow.open();
  await eventually('a handled', async () => log.includes('end a3'));
  const a = log.filter((l) => l.endsWith('a1') || l.endsWith('a2') || l.endsWith('a3'));
  expect(a).toEqual(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3']);

  // A message that is not JSON has no key: dead-lettered at once (not retried), and the line goes on.
  await bus.js.publish(bus.subject(TYPE), new TextEncoder().encode('not json'));
  await bus.publish(makeEvent(TYPE, { key: 'a', n: 4 }));
  await eventually('a4 handled', async () => log.includes('end a4'));
  const letters = await eventually('the undecodable message dead-lettered', async () => {
    const all = await bus.deadLetters().list(100);
    return all.some((l) => l.consumer === 'order-key-product_order_key_probe') && all;
  });
  const letter = letters.find((l) => l.consumer === 'order-key-product_order_key_probe')!;
  expect(letter).toMatchObject({ deliveryCount: 1, raw: 'not json' });
  expect(letter.error).toMatch(/undecodable message/);
});

test('orderKey undefined: a message ordered with none, not even with other unordered ones', async () => {
  const TYPE = 'product.no_key_probe';
  const log: string[] = [];
  const slow = gate();
  await bus.consume({
    durable: 'no-key',
    subjects: [TYPE],
    concurrency: 8,
    orderKey: (e) => (e.data as { key?: string }).key,
    handler: async (event) => {
      const { key, n } = event.data as { key?: string; n: number };
      const name = `${key ?? '-'}${n}`;
      log.push(`start ${name}`);
      if (n === 1) await slow.opened;
      log.push(`end ${name}`);
    },
  });
  for (const data of [{ n: 1 }, { key: 'a', n: 2 }, { n: 3 }, { key: 'a', n: 4 }])
    await bus.publish(makeEvent(TYPE, data));
  // While the first (no key) is held, the others all run to the end: the keyed ones in order.
  await eventually('the others handled', async () => ['end a2', 'end -3', 'end a4'].every((l) => log.includes(l)));
  expect(log).not.toContain('end -1');
  expect(log.indexOf('end a2')).toBeLessThan(log.indexOf('start a4'));
  slow.open();
  await eventually('the first handled', async () => log.includes('end -1'));
});

/** Consumes `subject` as `durable` on its own connection until `stop`; acks what `take` says yes to. */
async function oldConsumer(durable: string, subject: string, take: (e: EventEnvelope) => boolean) {
  const b = await connect();
  const seen: number[] = [];
  await b.consume({
    durable,
    subjects: [subject],
    handler: async (event) => {
      if (!take(event)) throw new Error('not this one');
      seen.push((event.data as { n: number }).n);
    },
    maxDeliver: 100,
  });
  return { seen, stop: () => b.close() };
}

/** Consumes `subject` as `durable` (taking over `replaces`) on `b`; the numbers of the events it got, in order. */
async function newConsumer(b: Bus, durable: string, replaces: string[], subject: string): Promise<number[]> {
  const got: number[] = [];
  await b.consume({
    durable,
    replaces,
    subjects: [subject],
    handler: async (event) => {
      got.push((event.data as { n: number }).n);
    },
  });
  return got;
}

test('replaces: the new consumer starts at the lowest ack floor of the ones it replaces, and they are deleted', async () => {
  const TYPE = 'product.takeover_probe';
  const stream = bus.streamName('product');
  const publish = async (from: number, to: number) => {
    for (let n = from; n <= to; n++) await bus.publish(makeEvent(TYPE, { n }));
  };
  // Two consumers of the same subject: one got to 3, the other to 2 (it refuses the rest).
  const a = await oldConsumer('takeover-a', TYPE, () => true);
  const b = await oldConsumer('takeover-b', TYPE, (e) => (e.data as { n: number }).n <= 2);
  await publish(1, 3);
  const floor = async (name: string) =>
    (await bus.jsm.consumers.info(stream, `${name}-product_takeover_probe`)).ack_floor.stream_seq;
  await eventually('acks recorded', async () => a.seen.length === 3 && b.seen.length === 2);
  await eventually('ack floors', async () => (await floor('takeover-a')) > (await floor('takeover-b')));
  await a.stop();
  await b.stop();
  await publish(4, 5);

  const got = await newConsumer(bus, 'takeover-new', ['takeover-a', 'takeover-b'], TYPE);
  // From b's floor on: 3 again (a had it, b not: handlers are idempotent), then 4 and 5; never 1 or 2.
  await eventually('the rest delivered', async () => got.length >= 3);
  await new Promise((r) => setTimeout(r, 300));
  expect(got).toEqual([3, 4, 5]);
  const names = (await bus.jsm.consumers.list(stream).next()).map((c) => c.name);
  expect(names).toContain('takeover-new-product_takeover_probe');
  expect(names.filter((n) => n.startsWith('takeover-a') || n.startsWith('takeover-b'))).toEqual([]);

  // A restart under the new name keeps its own position: nothing again.
  const twice = await newConsumer(await connect(), 'takeover-new', ['takeover-a', 'takeover-b'], TYPE);
  await publish(6, 6);
  await eventually('the new event delivered once', async () => got.length + twice.length === 4);
  expect([...got, ...twice].sort()).toEqual([3, 4, 5, 6]);
});

test('replaces on the work-queue stream: the old consumer goes first, the new one takes what is left', async () => {
  const TYPE = 'secret.takeover_probe';
  const old = await oldConsumer('wq-old', TYPE, () => true);
  await bus.publish(makeEvent(TYPE, { n: 1 }));
  await eventually('the first taken', async () => old.seen.length === 1);
  await old.stop();
  for (const n of [2, 3]) await bus.publish(makeEvent(TYPE, { n }));

  // Two consumers of one subject on a work-queue stream are refused by the server: this works only if the old one
  // was deleted first.
  const got = await newConsumer(bus, 'wq-new', ['wq-old'], TYPE);
  await eventually('the rest delivered', async () => got.length >= 2);
  expect(got).toEqual([2, 3]);
  const names = (await bus.jsm.consumers.list(bus.streamName('secret')).next()).map((c) => c.name);
  expect(names.filter((n) => n.startsWith('wq-'))).toEqual(['wq-new-secret_takeover_probe']);
});
