import Redis from 'ioredis';
import type { Config } from './config';
import { rateLimited } from './errors';

export { Redis };

/** An ioredis client whose every key is prefixed with REDIS_PREFIX (tests use one per file). */
export function createRedis(config: Pick<Config, 'redisUrl' | 'redisPrefix'>, opts: { prefix?: boolean } = {}): Redis {
  return new Redis(config.redisUrl, {
    keyPrefix: opts.prefix === false ? undefined : config.redisPrefix,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    lazyConnect: false,
  });
}

/**
 * Fixed-window counter: the call that goes over `limit` within `windowSeconds` throws RATE_LIMITED with the
 * seconds until the window resets. One round trip (MULTI).
 */
export async function hitRateLimit(redis: Redis, key: string, limit: number, windowSeconds: number): Promise<void> {
  const res = await redis.multi().incr(key).expire(key, windowSeconds, 'NX').ttl(key).exec();
  const count = Number(res?.[0]?.[1] ?? 0);
  const ttl = Number(res?.[2]?.[1] ?? windowSeconds);
  if (count > limit) throw rateLimited(ttl > 0 ? ttl : windowSeconds);
}

/** Like hitRateLimit but answers instead of throwing (for endpoints that must not reveal anything). */
export async function underRateLimit(redis: Redis, key: string, limit: number, windowSeconds: number): Promise<boolean> {
  try {
    await hitRateLimit(redis, key, limit, windowSeconds);
    return true;
  } catch {
    return false;
  }
}

// All-or-nothing across several fixed-window counters: refused when any counter is at its limit (nothing counted),
// else every counter is incremented (a new window gets its expiry). Answers [0] or [1, seconds until it resets].
const RESERVE_SCRIPT = `
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then
    return {1, redis.call('TTL', key)}
  end
end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[1]) end
end
return {0}`;
// Gives one unit back to counters that still exist (a window that ended meanwhile is not recreated at -1).
const REFUND_SCRIPT = `
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0`;

/** A reservation taken by `reserveRateLimits`; `refund()` gives it back (e.g. when the attempt turned out to succeed). */
export interface RateReservation {
  refund(): Promise<void>;
}

/**
 * Counts one attempt against every `[key, limit]` budget BEFORE the attempt is made, in one atomic script: of N
 * concurrent callers at most `limit` get through, however they interleave. Over any budget → RATE_LIMITED (with the
 * seconds until that window resets) and nothing is counted. Redis errors are thrown as they are: the caller decides
 * whether to fail closed.
 */
export async function reserveRateLimits(redis: Redis, budgets: [key: string, limit: number][], windowSeconds: number): Promise<RateReservation> {
  const keys = budgets.map(([k]) => k);
  const res = (await redis.eval(RESERVE_SCRIPT, keys.length, ...keys, windowSeconds, ...budgets.map(([, l]) => l))) as number[];
  if (res[0] === 1) throw rateLimited(res[1] > 0 ? res[1] : windowSeconds);
  return {
    refund: async () => {
      await redis.eval(REFUND_SCRIPT, keys.length, ...keys);
    },
  };
}

/** Deletes every key under the client's prefix (tests). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  const raw = new Redis(redis.options.host ? { host: redis.options.host, port: redis.options.port, db: redis.options.db } : {});
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
