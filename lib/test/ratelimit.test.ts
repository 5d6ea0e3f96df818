import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config';
import { AppError, ErrorCode } from '../src/errors';
import { createRedis, deletePrefix, hitRateLimit, Redis, reserveRateLimits } from '../src/redis';

/** The kernel's rate-limit counters (rate-limiter-flexible on the real Redis), under a prefix of their own. */
const config = loadConfig({
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  REDIS_PREFIX: `t${randomBytes(5).toString('hex')}:`,
});
let redis: Redis;
beforeAll(() => {
  redis = createRedis(config);
});
afterAll(async () => {
  await deletePrefix(redis, config.redisPrefix);
  redis.disconnect();
});

const code = (err: unknown) => (err instanceof AppError ? err.code : String(err));
const count = async (key: string) => Number(await redis.get(key));

test('hitRateLimit: `limit` calls per window pass, the next is RATE_LIMITED with the seconds until the window resets', async () => {
  for (let i = 0; i < 3; i++) await hitRateLimit(redis, 'hit', 3, 60);
  const err = await hitRateLimit(redis, 'hit', 3, 60).catch((e: AppError) => e);
  expect(code(err)).toBe(ErrorCode.RATE_LIMITED);
  expect((err as AppError).extensions.retryAfter).toBeGreaterThan(55);
  expect((err as AppError).extensions.retryAfter).toBeLessThanOrEqual(60);
  expect(await redis.ttl('hit')).toBeGreaterThan(55);
});

test('reserveRateLimits: of 40 parallel attempts against budgets of 5 and 8, exactly 5 get through and the refused leave nothing counted', async () => {
  const results = await Promise.allSettled(
    Array.from({ length: 40 }, () =>
      reserveRateLimits(
        redis,
        [
          ['par:a', 5],
          ['par:b', 8],
        ],
        60,
      ),
    ),
  );
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
  expect(results.filter((r) => r.status === 'rejected').map((r) => code((r as PromiseRejectedResult).reason))).toEqual(
    Array(35).fill(ErrorCode.RATE_LIMITED),
  );
  expect([await count('par:a'), await count('par:b')]).toEqual([5, 5]);
});

test('a refusal by the second budget gives the first its unit back; refund() gives a reservation back', async () => {
  await reserveRateLimits(redis, [['two:b', 1]], 60);
  await expect(
    reserveRateLimits(
      redis,
      [
        ['two:a', 10],
        ['two:b', 1],
      ],
      60,
    ),
  ).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
  expect([await count('two:a'), await count('two:b')]).toEqual([0, 1]);

  const r = await reserveRateLimits(redis, [['two:a', 10]], 60);
  expect(await count('two:a')).toBe(1);
  await r.refund();
  expect(await count('two:a')).toBe(0);
});

test('a refund after the window ended does not open the next window at -1', async () => {
  const r = await reserveRateLimits(redis, [['late', 2]], 60);
  await redis.del('late'); // the window ends
  await r.refund();
  expect(await redis.exists('late')).toBe(0);
});
