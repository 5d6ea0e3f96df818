import { randomUUID } from 'node:crypto';
import { createRedis, Redis } from '@shop/kernel';
import { CartRecord, CartStore } from '../src/store/cart.store';

// The cart store against the real Redis, under a key prefix of its own: the lock taken and the cart read in one round
// trip.

const prefix = `test-cart-store-${randomUUID()}:`;
const config = { redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', redisPrefix: prefix };
let redis: Redis;
let store: CartStore;

beforeAll(() => {
  redis = createRedis(config);
  store = new CartStore(redis);
});

afterAll(async () => {
  const raw = createRedis(config, { prefix: false });
  const keys = await raw.keys(`${prefix}*`);
  if (keys.length) await raw.del(...keys);
  raw.disconnect();
  redis.disconnect();
});

const cart = (version: number): CartRecord => ({
  id: cartId,
  userId: null,
  status: 'ACTIVE',
  currency: 'EUR',
  lines: [{ productId: randomUUID(), quantity: version, addedAt: new Date().toISOString() }],
  expiresAt: Date.now() + 600_000,
  heldSince: Date.now(),
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
  version,
});
const cartId = randomUUID();

/** Counts the client's socket writes while `fn` runs. */
async function writesDuring<T>(fn: () => Promise<T>): Promise<{ writes: number; result: T }> {
  await redis.ping(); // connected, nothing queued
  const stream = (redis as unknown as { stream: { write: (...a: unknown[]) => boolean } }).stream;
  const write = stream.write;
  let writes = 0;
  stream.write = function (this: unknown, ...args: unknown[]) {
    writes++;
    return write.apply(this, args);
  };
  try {
    return { result: await fn(), writes };
  } finally {
    stream.write = write;
  }
}

test('the lock and the read go in one write; the lock keeps others out until released', async () => {
  await store.save(cart(1));
  const { writes, result: first } = await writesDuring(() => store.lockAndGet(cartId, 0));
  expect(writes).toBe(1);
  expect(first!.cart).toMatchObject({ id: cartId, version: 1 });
  // Held: a second taker without waiting gets nothing.
  expect(await store.lockAndGet(cartId, 0)).toBeNull();
  await first!.release();
  const second = await store.lockAndGet(cartId, 0);
  expect(second!.cart!.version).toBe(1);
  await second!.release();
});

test('a waiting taker reads what the holder wrote before releasing, never the state before it', async () => {
  await store.save(cart(1));
  const holder = await store.lockAndGet(cartId, 0);
  // Asks while the lock is held: its failed attempts' reads are dropped.
  const waiting = store.lockAndGet(cartId, 2_000);
  await new Promise((r) => setTimeout(r, 30));
  await store.save(cart(2));
  await holder!.release();
  const got = await waiting;
  expect(got!.cart!.version).toBe(2);
  await got!.release();
});

test('an unknown cart: the lock is taken and the read is null', async () => {
  const id = randomUUID();
  const got = await store.lockAndGet(id, 0);
  expect(got).not.toBeNull();
  expect(got!.cart).toBeNull();
  expect(await store.lockAndGet(id, 0)).toBeNull();
  await got!.release();
});

test("a change's last save releases the lock in its own write; another taker's token does not release it", async () => {
  await store.save(cart(1));
  const holder = await store.lockAndGet(cartId, 0);
  // A save carrying someone else's token (a lease that expired and was taken over): the lock stays.
  await store.save(cart(2), randomUUID());
  expect(await store.lockAndGet(cartId, 0)).toBeNull();
  // The holder's own last save: written and released in one write (before: the save, then the release's EVAL).
  const { writes } = await writesDuring(() => store.save(cart(3), holder!.token));
  expect(writes).toBe(1);
  const next = await store.lockAndGet(cartId, 0);
  expect(next!.cart!.version).toBe(3);
  await next!.release();
});
