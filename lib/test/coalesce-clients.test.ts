import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { connect, NatsConnection, StringCodec } from 'nats';
import { Bus } from '../src/bus';
import { coalesceNatsWrites, coalesceRedisWrites } from '../src/coalesce';
import { createRedis, Redis } from '../src/redis';
import { createTestEnv, TestEnv } from '../src/testing';
import { countWrites } from './socket-writes';

/**
 * The NATS and Redis clients' sockets, gathered per turn: what many I/O callbacks of one turn send leaves in one
 * system call, complete and in order — also on the socket a reconnect dials.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env?.cleanup());
const sc = StringCodec();

/** Runs `send(i)` for i < n, each in a callback of its own within one turn (as replies to different I/O would be). */
function inSeparateCallbacks<T>(n: number, send: (i: number) => Promise<T> | T): Promise<T[]> {
  return Promise.all(
    Array.from(
      { length: n },
      (_, i) => new Promise<T>((resolve, reject) => setImmediate(() => Promise.resolve(send(i)).then(resolve, reject))),
    ),
  );
}

describe('NATS', () => {
  const conns: NatsConnection[] = [];
  afterAll(async () => {
    for (const c of conns) await c.close();
  });
  const open = async () => {
    const nc = await connect({ servers: env.config.natsUrl });
    conns.push(nc);
    return nc;
  };
  const natsSocket = (nc: NatsConnection) =>
    (nc as unknown as { protocol: { transport: { socket: Socket } } }).protocol.transport.socket;

  /** Publishes `n` messages from separate callbacks on `pub`; answers the writes they took and what arrived. */
  async function burst(pub: NatsConnection, sub: NatsConnection, n: number) {
    const subject = `coalesce.${randomBytes(4).toString('hex')}`;
    const got: string[] = [];
    const all = new Promise<void>((resolve) => {
      const s = sub.subscribe(subject, {
        callback: (_e, m) => {
          got.push(sc.decode(m.data));
          if (got.length === n) resolve(s.unsubscribe());
        },
      });
    });
    await sub.flush();
    await pub.flush();
    const writes = countWrites(natsSocket(pub));
    await inSeparateCallbacks(n, (i) => pub.publish(subject, sc.encode(`m${i}`)));
    await all;
    return { writes: writes(), got };
  }

  test('messages published from 50 callbacks of one turn leave in one write, in order; again after a reconnect', async () => {
    const [sub, plain, gathered] = [await open(), await open(), await open()];
    coalesceNatsWrites(gathered);
    const expected = Array.from({ length: 50 }, (_, i) => `m${i}`);

    const before = await burst(plain, sub, 50);
    expect(before.got).toEqual(expected);
    expect(before.writes).toBe(50);

    const after = await burst(gathered, sub, 50);
    expect(after.got).toEqual(expected);
    expect(after.writes).toBe(1);

    const old = natsSocket(gathered);
    const reconnected = (async () => {
      for await (const s of gathered.status()) if (s.type === 'reconnect') return;
    })();
    await gathered.reconnect();
    await reconnected;
    expect(natsSocket(gathered)).not.toBe(old);
    await new Promise((r) => setImmediate(r));
    const again = await burst(gathered, sub, 50);
    expect(again.got).toEqual(expected);
    expect(again.writes).toBe(1);
  });

  test("the kernel's Bus connection is gathered", async () => {
    const sub = await open();
    const bus = await Bus.connect(env.config, env.logger, 'coalesce-test');
    try {
      const { writes, got } = await burst(bus.nc, sub, 20);
      expect(got).toHaveLength(20);
      expect(writes).toBe(1);
    } finally {
      await bus.close();
    }
  });
});

describe('Redis', () => {
  const clients: Redis[] = [];
  afterAll(() => clients.forEach((c) => c.disconnect()));
  const plainClient = () => {
    const r = new Redis(env.config.redisUrl, { keyPrefix: env.config.redisPrefix });
    clients.push(r);
    return r;
  };
  const ready = (r: Redis) => (r.status === 'ready' ? Promise.resolve() : new Promise((res) => r.once('ready', res)));

  async function burst(redis: Redis, n: number) {
    await ready(redis);
    const writes = countWrites((redis as unknown as { stream: Socket }).stream);
    const key = `k${randomBytes(4).toString('hex')}`;
    const answers = await inSeparateCallbacks(n, (i) => redis.rpush(key, `v${i}`));
    return { writes: writes(), answers, list: await redis.lrange(key, 0, -1) };
  }

  test('commands sent from 40 callbacks of one turn leave in one write, each answered; again after a reconnect', async () => {
    const [plain, gathered] = [plainClient(), plainClient()];
    coalesceRedisWrites(gathered);
    const expected = Array.from({ length: 40 }, (_, i) => `v${i}`);
    const counts = Array.from({ length: 40 }, (_, i) => i + 1);

    const before = await burst(plain, 40);
    expect(before.writes).toBe(40);
    expect(before.answers).toEqual(counts);
    expect(before.list).toEqual(expected);

    const after = await burst(gathered, 40);
    expect(after.writes).toBe(1);
    expect(after.answers).toEqual(counts);
    expect(after.list).toEqual(expected);

    const old = (gathered as unknown as { stream: Socket }).stream;
    const reconnected = new Promise((r) => gathered.once('ready', r));
    gathered.disconnect(true);
    await reconnected;
    expect((gathered as unknown as { stream: Socket }).stream).not.toBe(old);
    const again = await burst(gathered, 40);
    expect(again.writes).toBe(1);
    expect(again.list).toEqual(expected);
  });

  test("the kernel's clients (createRedis) are gathered", async () => {
    const redis = createRedis(env.config);
    clients.push(redis);
    const { writes, list } = await burst(redis, 30);
    expect(writes).toBe(1);
    expect(list).toHaveLength(30);
  });
});
