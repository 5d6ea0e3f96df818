import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AppError, ErrorCode, executePrepared } from '@shop/kernel';

/** How long a key row is kept: a retry within it gets the same order; after it the key may be used again. */
const KEY_TTL = "interval '24 hours'";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Claim = { kind: 'owner'; along: unknown } | { kind: 'completed'; orderId: string } | { kind: 'wait' };

/** A scalar SQL expression (with its parameters) the claim reads in its own round trip, for the owner's attempt. */
export interface ReadAlong {
  sql: string;
  params: unknown[];
}

/**
 * placeOrder's idempotency keys (`idempotency_keys`, one row per user and key):
 *
 *  - INSERT (user, key, request hash, the pre-generated order id) as IN_PROGRESS: the inserting request owns the key
 *    and places the order;
 *  - an existing row with another hash → IDEMPOTENCY_CONFLICT (field `idempotencyKey`);
 *  - COMPLETED with the same hash → the same order;
 *  - IN_PROGRESS (a concurrent identical request) → poll until it completes (same order) or is released (its
 *    attempt failed: we try ourselves); past `waitMs` → IDEMPOTENCY_CONFLICT with `inProgress: true`;
 *  - past its 24 h the row is deleted and the key may be reused.
 *
 * The owner's row becomes COMPLETED in the same statement as the order (`completeSql`), or is deleted when the
 * attempt fails (`release`), so a key never points at an order that does not exist.
 */
export class IdempotencyKeys {
  constructor(
    private readonly orm: MikroORM,
    private readonly waitMs: number,
  ) {}

  /**
   * Runs `place(orderId)` at most once per (user, key) at a time: the owner of the key runs it (and releases the key
   * if it throws); other requests with the same input get `completed(orderId)` once the owner has finished.
   * `along`: an expression the claiming statement also reads (one round trip instead of two); the owner's `place`
   * gets its value.
   */
  async once<T>(
    userId: string,
    key: string,
    hash: string,
    handlers: {
      place: (orderId: string, along: unknown) => Promise<T>;
      completed: (orderId: string) => Promise<T>;
      onReleaseError: (err: unknown, orderId: string) => void;
    },
    along?: ReadAlong,
  ): Promise<T> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      // The order id is chosen before anything happens and recorded on the key row: the charge and the stock
      // commit are keyed by it, so an interrupted attempt can be traced (and compensated) from the key row.
      const orderId = randomUUID();
      const claim = await this.claim(userId, key, hash, orderId, along);
      if (claim.kind === 'owner') {
        try {
          return await handlers.place(orderId, claim.along);
        } catch (err) {
          await this.release(userId, key, orderId).catch((e) => handlers.onReleaseError(e, orderId));
          throw err;
        }
      }
      if (claim.kind === 'completed') return handlers.completed(claim.orderId);
      // Someone else is placing this very order: wait for their outcome.
      if (Date.now() > deadline) {
        throw new AppError(
          ErrorCode.IDEMPOTENCY_CONFLICT,
          'A request with this idempotency key is still in progress; retry later',
          { field: 'idempotencyKey', inProgress: true },
        );
      }
      await sleep(50);
    }
  }

  /**
   * The statement marking the owner's row COMPLETED, for the order's writing statement to run as its CTE `k` (it
   * returns one row when the key was still the owner's; the order must not stand when it returns none).
   */
  completeSql(userId: string, key: string, orderId: string): { sql: string; params: unknown[] } {
    return {
      sql: `UPDATE idempotency_keys SET status = 'COMPLETED'
        WHERE user_id = ? AND key = ? AND order_id = ? AND status = 'IN_PROGRESS' RETURNING 1`,
      params: [userId, key, orderId],
    };
  }

  private async claim(userId: string, key: string, hash: string, orderId: string, along?: ReadAlong): Promise<Claim> {
    const conn = this.orm.em.getConnection();
    // Every checkout runs it: prepared (planned once per connection; it was planned every time).
    const inserted = await executePrepared<{ along: unknown }>(this.orm, {
      text: `INSERT INTO idempotency_keys (user_id, key, request_hash, order_id, status, created_at, expires_at)
       VALUES (?, ?, ?, ?, 'IN_PROGRESS', now(), now() + ${KEY_TTL}) ON CONFLICT (user_id, key) DO NOTHING
       RETURNING ${along ? along.sql : 'NULL'} AS along`,
      params: [userId, key, hash, orderId, ...(along?.params ?? [])],
    });
    if (inserted.length) return { kind: 'owner', along: inserted[0].along };
    const rows: { request_hash: string; status: string; order_id: string | null; expired: boolean }[] =
      await conn.execute(
        `SELECT request_hash, status, order_id, expires_at < now() AS expired FROM idempotency_keys WHERE user_id = ? AND key = ?`,
        [userId, key],
      );
    if (!rows.length) return { kind: 'wait' }; // released between our INSERT and SELECT: try again
    const row = rows[0];
    if (row.expired) {
      // Past its 24 h: the key may be reused for a new request.
      await conn.execute(`DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND expires_at < now()`, [
        userId,
        key,
      ]);
      return { kind: 'wait' };
    }
    if (row.request_hash !== hash) {
      throw new AppError(ErrorCode.IDEMPOTENCY_CONFLICT, 'This idempotency key was used for a different request', {
        field: 'idempotencyKey',
      });
    }
    if (row.status === 'COMPLETED' && row.order_id) return { kind: 'completed', orderId: row.order_id };
    return { kind: 'wait' };
  }

  /** Deletes the owner's IN_PROGRESS row after a failed attempt: the same key can be used again. */
  private async release(userId: string, key: string, orderId: string): Promise<void> {
    await this.orm.em
      .getConnection()
      .execute(
        `DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND order_id = ? AND status = 'IN_PROGRESS'`,
        [userId, key, orderId],
      );
  }
}
