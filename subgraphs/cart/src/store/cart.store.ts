import { randomUUID } from 'node:crypto';
import type { Redis } from '@shop/kernel';

export type CartStatus = 'ACTIVE' | 'EXPIRED' | 'CHECKED_OUT';

export interface CartLineRecord {
  productId: string;
  quantity: number;
  addedAt: string;
}

/** A line mergeCart could not move in full (stock ran short). */
export interface CartAdjustmentRecord {
  productId: string;
  requested: number;
  quantity: number;
}

/** One cart as stored in Redis (one JSON value; every write happens under the cart's lock). */
export interface CartRecord {
  id: string;
  /** null = a guest cart (its unguessable id is the capability). */
  userId: string | null;
  status: CartStatus;
  /** Currency of its lines; null while it never had one. */
  currency: string | null;
  lines: CartLineRecord[];
  /** Epoch ms when the holds lapse; null while empty or ended. */
  expiresAt: number | null;
  /**
   * Epoch ms of the first hold since the cart was last empty: its holds' absolute lifetime counts from here. Null
   * while empty (absent on carts written before it existed).
   */
  heldSince?: number | null;
  /** Guest carts holding units: the client address key (kernel clientAddressKey) whose budget they count against. */
  chargedTo?: string | null;
  createdAt: string;
  updatedAt: string;
  /** Bumped on every change: subscribers and `cart.updated` ids use it. */
  version: number;
  /** Set by mergeCart for its answer; cleared by the next change. */
  adjustments?: CartAdjustmentRecord[];
  orderId?: string;
}

/** How long ended carts stay readable (status EXPIRED / CHECKED_OUT), and idle empty carts live. */
const ENDED_TTL_S = 7 * 24 * 3600;
const IDLE_TTL_S = 30 * 24 * 3600;

const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/**
 * Claims a due deadline for one sweeper: only if its score is still due, the score becomes now + lease, so a
 * crashed sweeper's claim is retried after the lease while a live one's is never taken twice.
 */
const CLAIM_DUE = `local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) <= tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) return s end
return false`;
/**
 * Charges `units` held until `deadline` (ms) to one cart in its address's tally (a hash cartId → "units:deadline"),
 * only if the address's other carts with a deadline after `now` plus these units stay within `max`. Entries past
 * their deadline count for nothing (their holds lapsed, swept or not) and are dropped on the way. Returns
 * {1, others} when charged, {0, others} when refused.
 */
const CHARGE = `local others = 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  if entries[i] ~= ARGV[1] then
    local u, d = string.match(entries[i + 1], '^(%d+):(%d+)$')
    if u and tonumber(d) > tonumber(ARGV[4]) then others = others + tonumber(u) else redis.call('HDEL', KEYS[1], entries[i]) end
  end
end
if others + tonumber(ARGV[2]) > tonumber(ARGV[5]) then return {0, others} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {1, others}`;

/** Carts, the user → cart index, the deadline index (sorted set) and per-cart locks, in Redis. */
export class CartStore {
  constructor(private readonly redis: Redis) {}

  private key = (id: string) => `cart:${id}`;
  private userKey = (userId: string) => `cart:user:${userId}`;
  private lockKey = (id: string) => `cart:lock:${id}`;
  readonly deadlinesKey = 'cart:deadlines';
  private tallyKey = (address: string) => `cart:units:${address}`;

  async get(id: string): Promise<CartRecord | null> {
    const raw = await this.redis.get(this.key(id));
    return raw ? (JSON.parse(raw) as CartRecord) : null;
  }

  async userCartId(userId: string): Promise<string | null> {
    return this.redis.get(this.userKey(userId));
  }

  /**
   * Writes the cart, its deadline entry and the user's index in one MULTI; with `unlockToken`, the cart's lock taken
   * with that token is released in it too (the save is the change's last write: one round trip instead of two).
   */
  async save(cart: CartRecord, unlockToken?: string): Promise<void> {
    const ttl =
      cart.status !== 'ACTIVE'
        ? ENDED_TTL_S
        : cart.expiresAt
          ? Math.ceil((cart.expiresAt - Date.now()) / 1000) + ENDED_TTL_S
          : IDLE_TTL_S;
    const m = this.redis.multi().set(this.key(cart.id), JSON.stringify(cart), 'EX', Math.max(ttl, 60));
    if (cart.status === 'ACTIVE' && cart.expiresAt) m.zadd(this.deadlinesKey, cart.expiresAt, cart.id);
    else m.zrem(this.deadlinesKey, cart.id);
    if (cart.userId) m.set(this.userKey(cart.userId), cart.id, 'EX', Math.max(ttl, 60));
    if (unlockToken) m.eval(RELEASE_LOCK, 1, this.lockKey(cart.id), unlockToken);
    await m.exec();
  }

  /** Removes a cart entirely (a merged guest cart). */
  async delete(cart: CartRecord): Promise<void> {
    await this.redis.multi().del(this.key(cart.id)).zrem(this.deadlinesKey, cart.id).exec();
  }

  /** Takes the cart's lock, waiting up to `waitMs`; returns the release function, or null if it stayed busy. */
  async lock(id: string, waitMs: number, leaseMs = 15_000): Promise<(() => Promise<void>) | null> {
    return (await this.lockAndGet(id, waitMs, leaseMs, false))?.release ?? null;
  }

  /**
   * Takes the cart's lock and reads the cart in ONE round trip (`SET … NX` then `GET`, pipelined: Redis runs them in
   * order, so when the lock is ours the read comes after the last holder's writes). The read of an attempt that did
   * not get the lock is dropped. Null when the lock stayed busy for `waitMs`.
   */
  async lockAndGet(
    id: string,
    waitMs: number,
    leaseMs = 15_000,
    read = true,
  ): Promise<{ release: () => Promise<void>; token: string; cart: CartRecord | null } | null> {
    const token = randomUUID();
    const release = async () => {
      await this.redis.eval(RELEASE_LOCK, 1, this.lockKey(id), token);
    };
    const until = Date.now() + waitMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 50)) {
      const p = this.redis.pipeline().set(this.lockKey(id), token, 'PX', leaseMs, 'NX');
      if (read) p.get(this.key(id));
      const [[lockErr, locked], got] = (await p.exec())!;
      if (lockErr) throw lockErr;
      if (locked) {
        if (got?.[0]) {
          await release();
          throw got[0];
        }
        const raw = got?.[1] as string | null | undefined;
        return { release, token, cart: raw ? (JSON.parse(raw) as CartRecord) : null };
      }
      if (Date.now() + delay > until) return null;
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Deadlines due at `now` (oldest first). */
  async due(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.deadlinesKey, '-inf', now, 'LIMIT', 0, limit);
  }

  /** Atomically claims a due cart for this sweeper (see CLAIM_DUE); false when another took it or it moved. */
  async claim(id: string, now: number, leaseMs: number): Promise<boolean> {
    return (await this.redis.eval(CLAIM_DUE, 1, this.deadlinesKey, id, now, now + leaseMs)) !== null;
  }

  /** Puts a cart's deadline entry back at `at` (retry later). */
  async reschedule(id: string, at: number): Promise<void> {
    await this.redis.zadd(this.deadlinesKey, at, id);
  }

  async unschedule(id: string): Promise<void> {
    await this.redis.zrem(this.deadlinesKey, id);
  }

  // ---- per-address tally of the units guest carts hold (see CHARGE) ----

  /**
   * Charges a guest cart's `units` (held until `deadline`) to `address`, atomically refused when the address's
   * other live carts plus these exceed `max`. `ttlSeconds` keeps the hash no longer than any deadline in it.
   */
  async charge(
    address: string,
    cartId: string,
    units: number,
    deadline: number,
    max: number,
    ttlSeconds: number,
  ): Promise<{ ok: boolean; others: number }> {
    const [ok, others] = (await this.redis.eval(
      CHARGE,
      1,
      this.tallyKey(address),
      cartId,
      units,
      deadline,
      Date.now(),
      max,
      ttlSeconds,
    )) as [number, number];
    return { ok: ok === 1, others };
  }

  /** Sets a cart's entry unconditionally (units going down, the deadline moving, an undo). */
  async setCharge(address: string, cartId: string, units: number, deadline: number, ttlSeconds: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.tallyKey(address), cartId, `${units}:${deadline}`)
      .expire(this.tallyKey(address), ttlSeconds)
      .exec();
  }

  /** Removes a cart's entry (emptied, expired, merged, checked out). */
  async dropCharge(address: string, cartId: string): Promise<void> {
    await this.redis.hdel(this.tallyKey(address), cartId);
  }
}
