import Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { coalesceRedisWrites } from './coalesce';
import type { Config } from './config';
import { rateLimited } from './errors';

export { Redis };

/**
 * An ioredis client whose every key is prefixed with REDIS_PREFIX (tests use one per file). The commands of one turn
 * leave in one write (`coalesceRedisWrites`).
 */
export function createRedis(config: Pick<Config, 'redisUrl' | 'redisPrefix'>, opts: { prefix?: boolean } = {}): Redis {
  const redis = new Redis(config.redisUrl, {
    keyPrefix: opts.prefix === false ? undefined : config.redisPrefix,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    lazyConnect: false,
  });
  coalesceRedisWrites(redis);
  return redis;
}

const limiters = new WeakMap<Redis, Map<string, RateLimiterRedis>>();

/**
 * The rate-limiter-flexible limiter for `limit` units per `windowSeconds` (fixed window from the first unit) on this
 * client, one per budget shape. Its keys are the caller's keys under the client's REDIS_PREFIX (no extra prefix).
 */
export function rateLimiter(redis: Redis, limit: number, windowSeconds: number): RateLimiterRedis {
  let byShape = limiters.get(redis);
  if (!byShape) limiters.set(redis, (byShape = new Map()));
  const shape = `${limit}/${windowSeconds}`;
  let limiter = byShape.get(shape);
  if (!limiter)
    byShape.set(
      shape,
      (limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix: '', points: limit, duration: windowSeconds })),
    );
  return limiter;
}

/** Seconds until the window of a refused `consume` resets (at least 1). */
export function retryAfterSeconds(refusal: RateLimiterRes): number {
  return Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
}

/**
 * Counts `points` units against `key` (one atomic script); the call that goes over `limit` within the window throws
 * RATE_LIMITED with the seconds until the window resets (the units stay counted). Redis errors are thrown as they are.
 */
export async function hitRateLimit(
  redis: Redis,
  key: string,
  limit: number,
  windowSeconds: number,
  points = 1,
): Promise<void> {
  try {
    await rateLimiter(redis, limit, windowSeconds).consume(key, points);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw rateLimited(retryAfterSeconds(err));
    throw err;
  }
}

/** Like hitRateLimit but answers instead of throwing (for endpoints that must not reveal anything). */
export async function underRateLimit(
  redis: Redis,
  key: string,
  limit: number,
  windowSeconds: number,
): Promise<boolean> {
  try {
    await hitRateLimit(redis, key, limit, windowSeconds);
    return true;
  } catch {
    return false;
  }
}

// Gives one unit back to counters that still exist. rate-limiter-flexible's `reward` would recreate a window that
// ended meanwhile at -1, i.e. one free attempt in the next window.
const REFUND_SCRIPT = `
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0`;

async function refundUnits(redis: Redis, keys: string[]): Promise<void> {
  if (keys.length) await redis.eval(REFUND_SCRIPT, keys.length, ...keys);
}

/** A reservation taken by `reserveRateLimits`; `refund()` gives it back (e.g. when the attempt turned out to succeed). */
export interface RateReservation {
  refund(): Promise<void>;
}

/**
 * Counts one attempt against every `[key, limit]` budget BEFORE the attempt is made. Each budget's `consume` is
 * atomic, and a unit is kept only if the counter was within its limit after it was added, so of N concurrent callers
 * at most `limit` get through, however they interleave. Over any budget → RATE_LIMITED (with the seconds until that
 * window resets) and every unit this call added is given back: nothing stays counted. (While a refused call gives
 * its units back, a concurrent one may be refused too: the error is on the side of fewer attempts, never more.)
 * Redis errors are thrown as they are (after giving back what was taken): the caller decides whether to fail closed.
 */
export async function reserveRateLimits(
  redis: Redis,
  budgets: [key: string, limit: number][],
  windowSeconds: number,
): Promise<RateReservation> {
  const taken: string[] = [];
  for (const [key, limit] of budgets) {
    try {
      await rateLimiter(redis, limit, windowSeconds).consume(key);
      taken.push(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        await refundUnits(redis, [...taken, key]);
        throw rateLimited(retryAfterSeconds(err));
      }
      await refundUnits(redis, taken).catch(() => undefined);
      throw err;
    }
  }
  return { refund: () => refundUnits(redis, taken) };
}

/** Deletes every key under the client's prefix (tests). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  const raw = new Redis(
    redis.options.host ? { host: redis.options.host, port: redis.options.port, db: redis.options.db } : {},
  );
  try {
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await raw.del(...keys);
    } while (cursor !== '0');
  } finally {
    raw.disconnect();
  }
}
