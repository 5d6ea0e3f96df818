import type { MikroORM } from '@mikro-orm/postgresql';
import type { EventEnvelope, Logger } from '@shop/kernel';
import type { BuyerInfo, UserPort } from '../ports';

/** The user subgraph's events that carry a user's whole contact. */
export const CONTACT_EVENTS = new Set(['user.registered', 'user.profile_updated']);

/** A buyer's row in the directory, as `rowSql` reads it. */
export interface BuyerRow {
  email: string;
  firstName: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Each buyer's contact (email, first name), snapshotted on every order and put in its events, kept here as the user
 * subgraph's events give it (`user.registered`, `user.profile_updated`; events/consumers.ts) — so a checkout reads
 * one local row instead of asking that subgraph (`user.get`) and waiting for it. A copy, never the authority:
 *
 * - A user missing here (registered before this directory existed, or whose event is still on its way) is asked for
 *   with `user.get` once, and written.
 * - Each row carries the time its value was true as of (`updated_at`): an event's `occurredAt`, or the moment before
 *   `user.get` was asked. A row is only replaced by a newer one, so a late or replayed event never brings an old name
 *   back, and a change made while `user.get` was answering is applied when its event arrives.
 * - A name changed a moment before checkout may reach the order a moment late (the event's trip, milliseconds); the
 *   email never changes (there is no way to change it).
 */
export class BuyerDirectory {
  constructor(
    private readonly orm: MikroORM,
    private readonly users: UserPort,
    private readonly logger?: Logger,
  ) {}

  /**
   * The directory's row of a buyer as one JSON value (`{ email, firstName }`, or NULL when it has none), for a
   * statement that reads it along with its own work (the idempotency claim): no round trip of its own.
   * `userIdColumn`: the SQL column (or expression) holding the buyer's id in that statement.
   */
  rowSql(userIdColumn: string): string {
    return `(SELECT json_build_object('email', b.email, 'firstName', b.first_name) FROM buyers b WHERE b.user_id = ${userIdColumn})`;
  }

  /**
   * The buyer's contact: `row`, the directory's row as `rowSql` read it, or (null: the directory has none)
   * `user.get`'s answer, written for the next time.
   */
  async contact(userId: string, row: BuyerRow | null): Promise<BuyerInfo> {
    if (row) return { id: userId, email: row.email, firstName: row.firstName };
    const asked = new Date();
    const buyer = await this.users.get({ id: userId });
    await this.write(userId, buyer.email, buyer.firstName ?? null, asked).catch((err) =>
      // The order does not need the copy: the next checkout asks again.
      this.logger?.warn({ err, userId }, 'buyer contact not written to the directory'),
    );
    return { id: userId, email: buyer.email, firstName: buyer.firstName ?? null };
  }

  /**
   * A user event: a contact event is written (when newer than the row); any other type, or one without a usable
   * contact (logged), changes nothing. Idempotent: a redelivered event finds its value already there.
   */
  async apply(event: EventEnvelope): Promise<void> {
    if (!CONTACT_EVENTS.has(event.type)) return;
    const data = (event.data ?? {}) as { userId?: unknown; email?: unknown; firstName?: unknown };
    const at = new Date(event.occurredAt);
    if (
      typeof data.userId !== 'string' ||
      !UUID.test(data.userId) ||
      typeof data.email !== 'string' ||
      !data.email ||
      (data.firstName != null && typeof data.firstName !== 'string') ||
      Number.isNaN(at.getTime())
    ) {
      this.logger?.error({ eventId: event.id, type: event.type }, 'user event without a usable contact; skipped');
      return;
    }
    await this.write(data.userId, data.email, (data.firstName as string | null | undefined) ?? null, at);
  }

  /** Inserts the contact, or replaces the row's when this one is at least as recent. */
  private async write(userId: string, email: string, firstName: string | null, at: Date): Promise<void> {
    await this.orm.em.getConnection().execute(
      `INSERT INTO buyers (user_id, email, first_name, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, first_name = EXCLUDED.first_name,
         updated_at = EXCLUDED.updated_at
       WHERE buyers.updated_at <= EXCLUDED.updated_at`,
      [userId, email, firstName, at],
    );
  }
}
