import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AppError, ErrorCode, executePrepared, GroupCommit } from '@shop/kernel';

/** How long a key row is kept: a retry within it gets the same order; after it the key may be used again. */
const KEY_TTL = "interval '24 hours'";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Claim = { kind: 'owner'; along: unknown } | { kind: 'completed'; orderId: string } | { kind: 'wait' };

/**
 * A scalar SQL expression the claim reads in its own round trip, for the owner's attempt, given the column that holds
 * the claiming user's id.
 */
export type ReadAlong = (userIdColumn: string) => string;

interface ClaimRequest {
  userId: string;
  key: string;
  hash: string;
  orderId: string;
}

/** A claim's insert: whether it made the row (and owns the key), and what it read along. */
type Inserted = { owner: true; along: unknown } | { owner: false };

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
  /**
   * The claims' inserts, group-committed (the kernel's GroupCommit): the claims that arrive while one inserting
   * statement runs are inserted together by the next — one round trip, one transaction for all of them, where each
   * checkout used to make its own. A lone claim goes at once.
   */
  private readonly inserts = new GroupCommit<ClaimRequest, Inserted>((batch) => this.insert(batch));

  /** `along`: what every claim also reads (see `once`). */
  constructor(
    private readonly orm: MikroORM,
    private readonly waitMs: number,
    private readonly along?: ReadAlong,
  ) {}

  /**
   * Runs `place(orderId)` at most once per (user, key) at a time: the owner of the key runs it (and releases the key
   * if it throws); other requests with the same input get `completed(orderId)` once the owner has finished.
   * The owner's `place` gets the value of the constructor's `along` for this user, read by the claiming statement
   * (one round trip instead of two).
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
  ): Promise<T> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      // The order id is chosen before anything happens and recorded on the key row: the charge and the stock
      // commit are keyed by it, so an interrupted attempt can be traced (and compensated) from the key row.
      const orderId = randomUUID();
      const claim = await this.claim(userId, key, hash, orderId);
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

  private async claim(userId: string, key: string, hash: string, orderId: string): Promise<Claim> {
    const conn = this.orm.em.getConnection();
    const inserted = await this.inserts.submit({ userId, key, hash, orderId });
    if (inserted.owner) return { kind: 'owner', along: inserted.along };
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

  /**
   * Inserts the batch's rows as IN_PROGRESS in one statement; a claim owns its key when its row went in. Two claims of
   * one key in a batch: the first in the batch's order wins, the other finds its row as any later claim would. Rows
   * go in key order, so that two instances' batches cannot deadlock on each other's keys. A failed batch is tried
   * again claim by claim: one claim's bad input must not fail the others'.
   */
  private async insert(batch: ClaimRequest[]): Promise<Inserted[]> {
    try {
      // Every checkout runs it: prepared (planned once per connection), the claims one JSON parameter.
      const rows = await executePrepared<{ order_id: string; along: unknown }>(this.orm, {
        text: `INSERT INTO idempotency_keys (user_id, key, request_hash, order_id, status, created_at, expires_at)
         SELECT r.user_id, r.key, r.request_hash, r.order_id, 'IN_PROGRESS', now(), now() + ${KEY_TTL}
         FROM jsonb_to_recordset(?::jsonb) AS r(user_id uuid, key text, request_hash text, order_id uuid, ord int)
         ORDER BY r.user_id, r.key, r.ord
         ON CONFLICT (user_id, key) DO NOTHING
         RETURNING order_id, ${this.along ? this.along('idempotency_keys.user_id') : 'NULL'} AS along`,
        params: [
          JSON.stringify(
            batch.map((c, ord) => ({
              user_id: c.userId,
              key: c.key,
              request_hash: c.hash,
              order_id: c.orderId,
              ord,
            })),
          ),
        ],
      });
      const made = new Map(rows.map((r) => [r.order_id, r.along]));
      return batch.map((c) => (made.has(c.orderId) ? { owner: true, along: made.get(c.orderId) } : { owner: false }));
    } catch (err) {
      if (batch.length === 1) throw err;
      return Promise.all(batch.map(async (c) => (await this.insert([c]))[0]));
    }
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
