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
