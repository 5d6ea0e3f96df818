import {
  AppError,
  Bus,
  createOrm,
  enqueueEvent,
  EventEnvelope,
  makeEvent,
  migrate,
  OutboxRelay,
  OutboxRow,
  outboxRow,
  processOnce,
} from '../src';
import { createTestEnv, TestEnv } from '../src/testing';
import type { MikroORM } from '@mikro-orm/postgresql';

let env: TestEnv;
let orm: MikroORM;
let bus: Bus;
beforeAll(async () => {
  env = await createTestEnv();
  orm = await createOrm({ config: env.config, service: 'user', entities: [], migrations: [] });
  await migrate(orm);
  bus = await Bus.connect(env.config);
});
afterAll(async () => {
  await bus?.close();
  await orm?.close();
  await env?.cleanup();
});

function collect(durable: string, subjects: string[]) {
  const seen: EventEnvelope[] = [];
  return { seen, ready: bus.consume({ durable, subjects, handler: async (e) => void seen.push(e) }) };
}

async function until(pred: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('an outbox row commits with its transaction and is relayed once, with Nats-Msg-Id = event id', async () => {
  const c = collect('t-relay', ['user.>']);
  await c.ready;
  const relay = new OutboxRelay(orm, bus);
  const event = await orm.em
    .fork()
    .transactional(async (em) => enqueueEvent(em, 'user.email_verified', { userId: 'u1', email: 'a@b.c' }));
  // A rolled-back transaction leaves no event behind.
  await expect(
    orm.em.fork().transactional(async (em) => {
      enqueueEvent(em, 'user.email_verified', { userId: 'rolled-back', email: 'x@y.z' });
      await em.flush();
      throw new Error('boom');
    }),
  ).rejects.toThrow('boom');
  expect(await relay.flush()).toBe(1);
  expect(await relay.flush()).toBe(0);
  await until(() => c.seen.length >= 1);
  expect(c.seen.map((e) => e.id)).toEqual([event.id]);
  expect(c.seen[0]).toMatchObject({ v: 1, type: 'user.email_verified', data: { userId: 'u1' } });
  // Publishing the same id again (a relay that crashed before marking the row) is dropped by the stream.
  expect(await bus.publish(c.seen[0])).toEqual({ duplicate: true });
  await new Promise((r) => setTimeout(r, 300));
  expect(c.seen).toHaveLength(1);
});

test('processOnce runs an effect once per consumer and event id, atomically with its marker', async () => {
  const id = makeEvent('x.y', {}).id;
  let runs = 0;
  expect(await processOnce(orm, 'c1', id, async () => void runs++)).toBe(true);
  expect(await processOnce(orm, 'c1', id, async () => void runs++)).toBe(false);
  expect(await processOnce(orm, 'c2', id, async () => void runs++)).toBe(true);
  // A failed effect does not leave the marker, so the redelivery runs it again.
  const other = makeEvent('x.y', {}).id;
  await expect(
    processOnce(orm, 'c1', other, async () => {
      throw new Error('fail');
    }),
  ).rejects.toThrow('fail');
  expect(await processOnce(orm, 'c1', other, async () => void runs++)).toBe(true);
  expect(runs).toBe(3);
});

test('a failing handler gets the event again until it succeeds', async () => {
  let attempts = 0;
  const done: string[] = [];
  await bus.consume({
    durable: 't-retry',
    subjects: ['user.role_changed'],
    handler: async (e) => {
      if (++attempts < 3) throw new Error('transient');
      done.push(e.id);
    },
  });
  const e = makeEvent('user.role_changed', { userId: 'u' });
  await bus.publish(e);
  await until(() => done.length === 1, 10000);
  expect(attempts).toBe(3);
});

test('commands: reply, coded error re-raised as the same AppError, timeout when nobody serves', async () => {
  bus.serve<{ n: number }, { doubled: number }>('test.double', async ({ n }) => {
    if (n < 0) throw new AppError('BAD_USER_INPUT', 'n must be positive', { field: 'n' });
    return { doubled: n * 2 };
  });
  await bus.nc.flush();
  expect(await bus.request('test.double', { n: 21 })).toEqual({ doubled: 42 });
  const err: any = await bus.request('test.double', { n: -1 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'n' });
  await expect(bus.request('test.nobody', {}, 300)).rejects.toThrow();
});

test('commands are handled concurrently (a slow request does not queue the others), up to the concurrency limit', async () => {
  // The first request waits until the second has been handled: one at a time, it would time out.
  let releaseFirst!: () => void;
  const secondDone = new Promise<void>((resolve) => (releaseFirst = resolve));
  bus.serve<{ n: number }, { n: number }>('test.gate', async ({ n }) => {
    if (n === 1) await secondDone;
    else releaseFirst();
    return { n };
  });
  await bus.nc.flush();
  const first = bus.request('test.gate', { n: 1 }, 2000);
  await new Promise((r) => setTimeout(r, 50));
  expect(await bus.request('test.gate', { n: 2 }, 2000)).toEqual({ n: 2 });
  expect(await first).toEqual({ n: 1 });

  let running = 0;
  let peak = 0;
  bus.serve<object, null>(
    'test.limited',
    async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 30));
      running--;
      return null;
    },
    { concurrency: 3 },
  );
  await bus.nc.flush();
  await Promise.all(Array.from({ length: 12 }, () => bus.request('test.limited', {}, 5000)));
  expect(peak).toBe(3);
});

test('secret.* messages: delivered with their secret, then gone from the broker (work queue) and from the outbox row', async () => {
  const c = collect('t-secret', ['secret.>']);
  await c.ready;
  const relay = new OutboxRelay(orm, bus);
  const event = await orm.em
    .fork()
    .transactional(async (em) => enqueueEvent(em, 'secret.email_link', { email: 'a@b.c', token: 'raw-secret-123' }));
  expect(await relay.flush()).toBe(1);
  await until(() => c.seen.length >= 1);
  expect(c.seen[0]).toMatchObject({ id: event.id, data: { email: 'a@b.c', token: 'raw-secret-123' } });
  const [row] = await orm.em
    .fork()
    .getConnection()
    .execute(`SELECT payload, published_at FROM outbox WHERE id = ?`, [event.id]);
  expect(row.published_at).not.toBeNull();
  expect(row.payload.data).toEqual({ email: 'a@b.c' });
  const stream = await bus.jsm.streams.info(bus.streamName('secret'));
  expect(stream.config.retention).toBe('workqueue');
  expect(stream.config.max_age).toBe(3600 * 1e9);
  const deadline = Date.now() + 5000;
  while ((await bus.jsm.streams.info(bus.streamName('secret'))).state.messages !== 0) {
    if (Date.now() > deadline) throw new Error('acked secret message still stored');
    await new Promise((r) => setTimeout(r, 25));
  }
});

/** An outbox row committed by a writer of its own (plain SQL, as the checkout's writers do), as it wrote it. */
async function committedRow(type: string, data: object): Promise<OutboxRow> {
  const row = outboxRow(type, data);
  await orm.em
    .fork()
    .getConnection()
    .execute(`INSERT INTO outbox SELECT * FROM jsonb_populate_record(NULL::outbox, ?::jsonb)`, [JSON.stringify(row)]);
  return row;
}

async function published(ids: string[]): Promise<boolean[]> {
  const rows = await orm.em
    .fork()
    .getConnection()
    .execute<{ id: string; published_at: Date | null }[]>(
      `SELECT id, published_at FROM outbox WHERE id IN (${ids.map(() => '?').join(', ')})`,
      ids,
    );
  return ids.map((id) => !!rows.find((r) => r.id === id)?.published_at);
}

describe('rows published by their writer right after the commit (publishCommitted)', () => {
  test('published once, in order per stream, and marked; no poll takes them again', async () => {
    const c = collect('t-direct', ['media.>']);
    await c.ready;
    await new OutboxRelay(orm, bus).flush(); // nothing of earlier tests left
    const relay = new OutboxRelay(orm, bus, undefined, 20, 60_000);
    const publish = jest.spyOn(bus, 'publish');
    try {
      relay.start();
      const rows = [
        await committedRow('media.direct_probe', { n: 1 }),
        await committedRow('media.direct_probe', { n: 2 }),
        await committedRow('media.direct_probe', { n: 3 }),
      ];
      relay.publishCommitted(rows);
      await until(() => c.seen.length >= 3);
      expect(c.seen.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3]);
      await new Promise((r) => setTimeout(r, 200)); // ten polls
      expect(await published(rows.map((r) => r.id))).toEqual([true, true, true]);
      // One publish per row: the polls (every 20 ms) never claimed them.
      expect(publish.mock.calls.map(([e]) => e.id)).toEqual(rows.map((r) => r.id));
    } finally {
      publish.mockRestore();
      await relay.stop();
    }
  });

  test('a row its writer never published (it died) is claimed by a poll, but only after the grace', async () => {
    const relay = new OutboxRelay(orm, bus, undefined, 20, 400);
    const c = collect('t-orphan', ['media.>']);
    await c.ready;
    const row = await committedRow('media.orphan_probe', { n: 1 });
    relay.start();
    try {
      await new Promise((r) => setTimeout(r, 150));
      expect(await published([row.id])).toEqual([false]);
      await until(() => c.seen.some((e) => e.id === row.id), 5000);
      expect(await published([row.id])).toEqual([true]);
    } finally {
      await relay.stop();
    }
  });

  test('an idle relay looks for such rows every grace / 4, not at every poll', async () => {
    await new OutboxRelay(orm, bus).flush(); // nothing of earlier tests left
    const relay = new OutboxRelay(orm, bus, undefined, 20, 400);
    const execute = jest.spyOn(orm.em.getConnection(), 'execute');
    try {
      relay.start();
      await new Promise((r) => setTimeout(r, 1000)); // fifty polls
      const reads = execute.mock.calls.filter(([sql]) => String(sql).includes('SELECT EXISTS')).length;
      // One at the first poll, then one per 100 ms.
      expect(reads).toBeGreaterThanOrEqual(5);
      expect(reads).toBeLessThanOrEqual(11);
    } finally {
      execute.mockRestore();
      await relay.stop();
    }
  });

  test('a failed publish leaves the rows in the table; the next pass claims them without waiting for the grace', async () => {
    const relay = new OutboxRelay(orm, bus, undefined, 20, 60_000);
    const c = collect('t-failed', ['media.>']);
    await c.ready;
    const publish = jest.spyOn(bus, 'publish').mockRejectedValueOnce(new Error('NATS is down'));
    try {
      relay.start();
      const row = await committedRow('media.failed_probe', { n: 1 });
      relay.publishCommitted([row]);
      await until(() => c.seen.some((e) => e.id === row.id), 3000);
      expect(await published([row.id])).toEqual([true]);
      expect(publish.mock.calls.filter(([e]) => e.id === row.id)).toHaveLength(2);
    } finally {
      publish.mockRestore();
      await relay.stop();
    }
  });

  test('a stopped relay takes nothing: the rows wait for a claiming pass', async () => {
    const relay = new OutboxRelay(orm, bus, undefined, 20, 60_000);
    relay.start();
    await relay.stop();
    const row = await committedRow('media.stopped_probe', { n: 1 });
    relay.publishCommitted([row]);
    await new Promise((r) => setTimeout(r, 100));
    expect(await published([row.id])).toEqual([false]);
    expect(await relay.flush()).toBe(1);
    expect(await published([row.id])).toEqual([true]);
  });
});
