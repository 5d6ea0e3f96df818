import type { EntityManager } from '@mikro-orm/postgresql';
import { OutboxRow, pgArray } from '@shop/kernel';
import { Sql, sql } from './sql';

/** A product row locked for a stock decision. */
export interface LockedProduct {
  id: string;
  name: string;
  onHand: number;
  archived: boolean;
}

/** Unexpired held units of one product at the decision time: this cart's and everybody else's. */
export interface HeldUnits {
  own: number;
  others: number;
}

export interface StockLine {
  productId: string;
  quantity: number;
}

type Row = Record<string, unknown>;

/** What a stock decision is taken on (see StockStore.decisionState). */
export interface DecisionState {
  at: string;
  held: Map<string, HeldUnits>;
  since?: string;
  sinceMs?: string;
}

/** What `sellIfSellableSql` decided (see it). */
export interface SaleOutcome {
  committed: boolean;
  sold: boolean;
  lines: {
    productId: string;
    name: string | null;
    archived: boolean;
    /** The product's unit price as the decision read it (null: unknown product). */
    price: number | null;
    sellable: number;
    onHand: number | null;
  }[];
}

// One parameter per list whatever its length: the commit's statements are prepared (see StockHoldsService.commit).
const ids = (list: readonly string[]) => sql`${pgArray(list)}::uuid[]`;
const ints = (list: readonly number[]) => sql`${pgArray(list)}::int[]`;

/**
 * Units of product `p` held at time `at` by cart `cartId` (0 when it is null). The row is found by its whole primary
 * key and its deadline tested on the row: with `expires_at > at` in the WHERE, a plan kept from a near-empty table
 * read the row through stock_hold_product_idx, that is every live hold of the product (bench/README.md, sixteenth round).
 */
const ownHeld = (p: Sql, at: Sql, cartId: string | null) =>
  sql`coalesce((SELECT CASE WHEN o.expires_at > ${at} THEN o.quantity ELSE 0 END FROM stock_hold o WHERE o.cart_id = ${cartId}::text AND o.product_id = ${p}), 0)`;

/**
 * Units of product `p` held at time `at` by carts other than `cartId` (all carts when it is null): the product's
 * running total (`product_hold_total`, every hold live or expired) minus its expired holds not deleted yet (normally
 * none) minus this cart's live hold. Reads one total row and two index ranges, however many carts hold the product.
 */
const othersHeld = (p: Sql, at: Sql, cartId: string | null) => sql`(
  coalesce((SELECT t.units FROM product_hold_total t WHERE t.product_id = ${p}), 0)
  - coalesce((SELECT sum(e.quantity) FROM stock_hold e WHERE e.product_id = ${p} AND e.expires_at <= ${at}), 0)
  - ${ownHeld(p, at, cartId)})`;

/** Sets a cart's hold row to the inserted values, writing only when one differs (a retried command writes nothing). */
const UPSERT_HOLD = sql`ON CONFLICT (cart_id, product_id) DO UPDATE
  SET quantity = excluded.quantity, expires_at = excluded.expires_at, held_since = excluded.held_since, updated_at = now()
  WHERE (stock_hold.quantity, stock_hold.expires_at, stock_hold.held_since) IS DISTINCT FROM (excluded.quantity, excluded.expires_at, excluded.held_since)`;

/**
 * When the current run of holds of these carts began, in a statement with the decision time `t.at`: the earliest
 * `held_since` of their holds alive at `t.at`, or `t.at` when they hold nothing. Found by cart id alone, the deadline
 * tested on the rows: with `expires_at > t.at` in the WHERE, a kept plan read them through stock_hold_expires_idx,
 * every live hold of every product.
 */
const runStart = (cartIds: readonly string[]) =>
  sql`(SELECT coalesce(min(r.held_since) FILTER (WHERE r.expires_at > t.at), t.at) FROM stock_hold r
    WHERE ${cartIds.length === 1 ? sql`r.cart_id = ${cartIds[0]}::text` : sql`r.cart_id = ANY(${pgArray(cartIds)}::text[])`})`;

/**
 * The rows of the products `idList` (a uuid[] expression, computed once) and their hold totals, locked in id order
 * (see StockStore.lockProducts). The list is a condition of both tables: a plan kept for a list it cannot size (ten
 * ids, it assumes) otherwise joined the totals by a scan of all of them, one row per product of the catalog.
 */
const lockRows = (idList: Sql, condition = sql``) => sql`WITH k AS MATERIALIZED (SELECT ${idList} AS ids)
  SELECT p.id, p.name, p.on_hand, p.archived_at IS NOT NULL AS archived
  FROM products p JOIN product_hold_total t ON t.product_id = p.id
  WHERE p.id = ANY((SELECT ids FROM k)::uuid[]) AND t.product_id = ANY((SELECT ids FROM k)::uuid[]) ${condition}
  ORDER BY p.id FOR UPDATE`;

/**
 * SQL of stock holds (carts) and sold stock (orders). Every method runs inside the caller's transaction; the
 * service takes the product row locks (`lockProducts`) before it reads or writes holds of those products.
 * Held units are read from the per-product running totals (see the hold-totals migration), never summed.
 */
export class StockStore {
  private async run<T = Row>(em: EntityManager, q: Sql): Promise<T[]> {
    return em.execute(q.text, q.params) as Promise<T[]>;
  }

  /** Unexpired holds right now, and the units they hold (the holds metric). */
  async holdTotals(em: EntityManager): Promise<{ holds: number; units: number }> {
    const [row] = await this.run<{ holds: number; units: number }>(
      em,
      sql`SELECT count(*)::int AS holds, coalesce(sum(quantity), 0)::int AS units FROM stock_hold_live(now())`,
    );
    return { holds: Number(row?.holds ?? 0), units: Number(row?.units ?? 0) };
  }

  /** Products this cart holds (live or expired), so that a change can lock them too. */
  async cartProductIds(em: EntityManager, cartId: string): Promise<string[]> {
    const rows = await this.run<{ product_id: string }>(
      em,
      sql`SELECT product_id FROM stock_hold WHERE cart_id = ${cartId}`,
    );
    return rows.map((r) => r.product_id);
  }

  /**
   * Locks the products' rows and their hold-total rows in id order (one statement: LockRows sits above the sort, so
   * the locks are taken in that order and two transactions can never wait for each other in a cycle). Holding the
   * totals before any hold row is written keeps the triggers that update them from waiting out of order (a release
   * locks only totals, in the same order). Unknown ids are simply absent.
   */
  async lockProducts(em: EntityManager, productIds: readonly string[]): Promise<LockedProduct[]> {
    if (!productIds.length) return [];
    return this.parseLocked(await this.run(em, lockRows(ids(productIds))));
  }

  /**
   * `lockProducts` of the given products and of every product the cart holds (live or expired: its deadline moves
   * on all of them), in one statement.
   */
  lockCartSql(cartId: string, productIds: readonly string[]): Sql {
    return lockRows(
      sql`${ids(productIds)} || ARRAY(SELECT h.product_id FROM stock_hold h WHERE h.cart_id = ${cartId}::text)`,
    );
  }

  parseLocked(rows: Row[]): LockedProduct[] {
    return rows.map((r) => ({
      id: r.id as string,
      name: r.name as string,
      onHand: Number(r.on_hand),
      archived: !!r.archived,
    }));
  }

  /**
   * One product's level WITHOUT locking it (one statement, one consistent snapshot, holds counted at `now()`), for
   * refusing early what is certainly refused: see StockHoldsService.hold. Null when the product does not exist.
   */
  snapshotSql(productId: string, cartId: string): Sql {
    return sql`SELECT p.id, p.name, p.on_hand, p.archived_at IS NOT NULL AS archived, ${othersHeld(sql`p.id`, sql`now()`, cartId)} AS others
      FROM products p WHERE p.id = ${productId}::uuid`;
  }

  parseSnapshot([r]: Row[]): (LockedProduct & { others: number }) | null {
    return r
      ? {
          id: r.id as string,
          name: r.name as string,
          onHand: Number(r.on_hand),
          archived: !!r.archived,
          others: Number(r.others),
        }
      : null;
  }

  /**
   * What a stock command decides on, read in ONE statement right after `lockProducts` (the fewer round trips while
   * the row locks are held, the more holds per second one contended product takes):
   *   - `at`, the decision time: the clock read AFTER the product locks were granted, as microsecond ISO text (a JS
   *     Date would drop the microseconds). Not `now()`: that is the transaction's start, possibly before a long lock
   *     wait, and a hold another transaction has already treated as expired (and re-sold) in the meantime must not
   *     look alive to us, or we would extend it and oversell.
   *   - per product, the units held at `at` (`stock_hold_live`) by this cart and by the others (`cartId` null: all
   *     count as others).
   *   - with `runOf` (hold decisions): when the current run of holds of these carts began — the earliest `held_since`
   *     of their holds alive at `at`, or `at` when they hold nothing — as microsecond text (`since`, stored) and as
   *     millisecond text truncated (`sinceMs`, for the lifetime cap, which it can only make earlier).
   */
  async decisionState(
    em: EntityManager,
    productIds: readonly string[],
    cartId: string | null,
    runOf?: readonly string[],
  ): Promise<DecisionState> {
    return this.parseDecisionState(await this.run(em, this.decisionStateSql(productIds, cartId, runOf)), productIds);
  }

  /** `decisionState`'s statement, for a caller that sends it with others in one round trip. */
  decisionStateSql(productIds: readonly string[], cartId: string | null, runOf?: readonly string[]): Sql {
    const run = runOf?.length ? runStart(runOf) : sql`NULL::timestamptz`;
    return sql`WITH t AS MATERIALIZED (SELECT clock_timestamp() AS at),
        s AS MATERIALIZED (SELECT ${run} AS since FROM t)
      SELECT to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at,
        to_char(s.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS since,
        to_char(s.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS since_ms,
        h.product_id, h.own, h.others
      FROM t CROSS JOIN s LEFT JOIN LATERAL (
        SELECT x.id AS product_id,
          ${ownHeld(sql`x.id`, sql`t.at`, cartId)} AS own,
          ${othersHeld(sql`x.id`, sql`t.at`, cartId)} AS others
        FROM unnest(${ids(productIds)}) AS x(id)
      ) h ON true`;
  }

  parseDecisionState(rows: Row[], productIds: readonly string[]): DecisionState {
    const held = new Map<string, HeldUnits>(productIds.map((id) => [id, { own: 0, others: 0 }]));
    for (const r of rows)
      if (held.has(r.product_id as string))
        held.set(r.product_id as string, { own: Number(r.own), others: Number(r.others) });
    return {
      at: rows[0].at as string,
      held,
      since: (rows[0].since as string | null) ?? undefined,
      sinceMs: (rows[0].since_ms as string | null) ?? undefined,
    };
  }

  /**
   * `product.hold`'s decision and writes in one statement, sent after `lockCartSql` in the same batch (its snapshot is
   * taken after those locks): the decision time `at`, the start of the cart's run of holds (`decisionStateSql`'s
   * `since`), the deadline (the requested one, or the lifetime cap `since` + `holdMaxSeconds` if earlier), and the
   * rule — the product exists, is not archived unless the hold is released, and `quantity` is at most on hand minus
   * the other carts' unexpired holds. Only when it holds: this product's hold set (upserted, or deleted for 0) and the
   * cart's other holds moved to the deadline (the live ones) or deleted (the lapsed ones), as `writeCartSql` does. One
   * row: whether it held, the product (null name: unknown), what the cart could hold, the deadline and what anyone can
   * still buy afterwards.
   */
  holdIfHoldableSql(
    cartId: string,
    productId: string,
    quantity: number,
    requested: string,
    holdMaxSeconds: number,
  ): Sql {
    return sql`WITH t AS MATERIALIZED (SELECT clock_timestamp() AS at),
        -- Its own step: inlined into x, which uses it twice, the lookup ran twice.
        s AS MATERIALIZED (SELECT ${runStart([cartId])} AS since FROM t),
        x AS MATERIALIZED (
          SELECT s.since, least(${requested}::timestamptz,
            date_trunc('milliseconds', s.since) + ${holdMaxSeconds}::float8 * interval '1 second') AS expires_at
          FROM s
        ),
        p AS MATERIALIZED (
          SELECT p.name, p.archived_at IS NOT NULL AS archived,
            greatest(p.on_hand - ${othersHeld(sql`p.id`, sql`t.at`, cartId)}, 0) AS can_hold
          FROM products p CROSS JOIN t WHERE p.id = ${productId}::uuid
        ),
        ok AS MATERIALIZED (
          SELECT coalesce((SELECT (NOT p.archived OR ${quantity}::int = 0) AND ${quantity}::int <= p.can_hold FROM p), false) AS go
        ),
        set AS (
          INSERT INTO stock_hold (cart_id, product_id, quantity, expires_at, held_since)
          SELECT ${cartId}::text, ${productId}::uuid, ${quantity}::int, x.expires_at, x.since FROM x, ok
          WHERE ok.go AND ${quantity}::int > 0
          ${UPSERT_HOLD}
        ), dropped AS (
          DELETE FROM stock_hold h USING ok
          WHERE ok.go AND ${quantity}::int = 0 AND h.cart_id = ${cartId}::text AND h.product_id = ${productId}::uuid
        ), moved AS (
          UPDATE stock_hold h SET expires_at = x.expires_at, held_since = x.since, updated_at = now() FROM x, ok, t
          WHERE ok.go AND h.cart_id = ${cartId}::text AND h.product_id <> ${productId}::uuid AND h.expires_at > t.at
            AND (h.expires_at, h.held_since) IS DISTINCT FROM (x.expires_at, x.since)
        ), lapsed AS (
          DELETE FROM stock_hold h USING ok, t
          WHERE ok.go AND h.cart_id = ${cartId}::text AND h.product_id <> ${productId}::uuid AND h.expires_at <= t.at
        )
      SELECT (SELECT go FROM ok) AS go, p.name, p.archived, p.can_hold,
        to_char(x.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS expires_at,
        greatest(p.can_hold - CASE WHEN x.expires_at > t.at THEN ${quantity}::int ELSE 0 END, 0) AS available
      FROM x CROSS JOIN t LEFT JOIN p ON true`;
  }

  /**
   * The statements that write a cart's change of holds, in order: `lines` set (quantity > 0: upserted with the
   * deadline and the start of the cart's run of holds; 0: deleted), then the deadline moved on the cart's other
   * (locked) products `others` — on the holds still alive at `at`; the lapsed ones are deleted, never revived (their
   * units may have been sold to someone else already). A row that already has exactly these values is not written, so
   * a retried command leaves the table untouched. Empty parts send nothing.
   */
  writeCartSql(
    cartId: string,
    lines: readonly StockLine[],
    expiresAt: string,
    heldSince: string,
    at: string,
    others: readonly string[],
  ): Sql[] {
    const set = lines.filter((l) => l.quantity > 0);
    const dropped = lines.filter((l) => l.quantity === 0).map((l) => l.productId);
    const statements: Sql[] = [];
    if (set.length)
      statements.push(sql`INSERT INTO stock_hold (cart_id, product_id, quantity, expires_at, held_since)
      SELECT ${cartId}::text, l.product_id, l.quantity, ${expiresAt}::timestamptz, ${heldSince}::timestamptz
      FROM unnest(${ids(set.map((l) => l.productId))}, ${ints(set.map((l) => l.quantity))}) AS l(product_id, quantity)
      ${UPSERT_HOLD}`);
    if (dropped.length)
      statements.push(sql`DELETE FROM stock_hold WHERE cart_id = ${cartId} AND product_id = ANY(${ids(dropped)})`);
    if (others.length)
      statements.push(
        sql`UPDATE stock_hold SET expires_at = ${expiresAt}::timestamptz, held_since = ${heldSince}::timestamptz, updated_at = now()
        WHERE cart_id = ${cartId} AND product_id = ANY(${ids(others)}) AND expires_at > ${at}::timestamptz
          AND (expires_at, held_since) IS DISTINCT FROM (${expiresAt}::timestamptz, ${heldSince}::timestamptz)`,
        sql`DELETE FROM stock_hold
        WHERE cart_id = ${cartId} AND product_id = ANY(${ids(others)}) AND expires_at <= ${at}::timestamptz`,
      );
    return statements;
  }

  /** `writeCartSql`'s statements, one after the other in the caller's transaction. */
  async writeCart(em: EntityManager, ...args: Parameters<StockStore['writeCartSql']>): Promise<void> {
    for (const q of this.writeCartSql(...args)) await this.run(em, q);
  }

  /** A cart's units per product that count at `at` (its unexpired holds). */
  async liveHolds(em: EntityManager, cartId: string, at: string): Promise<Map<string, number>> {
    const rows = await this.run<{ product_id: string; quantity: number }>(
      em,
      sql`SELECT product_id, quantity FROM stock_hold_live(${at}::timestamptz) WHERE cart_id = ${cartId}`,
    );
    return new Map(rows.map((r) => [r.product_id, Number(r.quantity)]));
  }

  /**
   * Deletes every hold of the cart; returns how many rows went. No product lock: a release only frees stock. It locks
   * the hold totals of the cart's products in id order first, so that it holds no hold row while it waits for one (a
   * command holds totals before hold rows: see lockProducts). A hold of a new product committed meanwhile is left:
   * as if it came after the release.
   */
  async releaseCart(em: EntityManager, cartId: string): Promise<number> {
    const locked = await this.run<{ product_id: string }>(
      em,
      sql`SELECT t.product_id FROM product_hold_total t
      WHERE t.product_id IN (SELECT product_id FROM stock_hold WHERE cart_id = ${cartId}) ORDER BY t.product_id FOR UPDATE`,
    );
    if (!locked.length) return 0;
    const rows = await this.run(
      em,
      sql`DELETE FROM stock_hold WHERE cart_id = ${cartId} AND product_id = ANY(${ids(locked.map((r) => r.product_id))})
      RETURNING product_id`,
    );
    return rows.length;
  }

  /**
   * Serializes every commit and uncommit of one order (transaction-scoped advisory lock), also when two requests for
   * the same order name different products. Always taken before any product lock, so it cannot join a lock cycle.
   */
  async lockOrder(em: EntityManager, orderId: string): Promise<void> {
    await this.run(em, this.lockOrderSql(orderId));
  }

  lockOrderSql(orderId: string): Sql {
    return sql`SELECT pg_advisory_xact_lock(hashtextextended(${`stock_commit:${orderId}`}, 0))`;
  }

  /**
   * `lockProducts` unless the order was already sold (or sold and returned) — in one statement, for a commit that holds
   * the order's advisory lock: the statement's snapshot is taken after that lock was granted, so any earlier commit of
   * the order is visible to it. The commit sends `sellIfSellableSql` after it, which reads the outcome.
   */
  committedOrLockSql(orderId: string, productIds: readonly string[]): Sql {
    return sql`WITH done AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM stock_commit WHERE order_id = ${orderId}) AS committed),
        locked AS MATERIALIZED (${lockRows(ids(productIds), sql`AND NOT (SELECT committed FROM done)`)})
      SELECT count(*) AS locked FROM locked`;
  }

  /**
   * Decides and sells an order's lines in one statement, sent after `committedOrLockSql` in the same batch: its
   * snapshot is taken after that statement's product locks were granted, so it reads the rows as locked. The decision
   * is the service's rule (a line sells when it is at most on hand minus the other carts' unexpired holds) taken here,
   * so that the contended product's lock is held for one round trip's execution only, not across a round trip to the
   * service and back. When every line sells and the order was not committed before: on hand down, a SALE movement per
   * line in line order, the cart's hold of each reduced by the sold units or removed (a lapsed one too), the
   * `stock_commit` rows, and the sale's outbox rows (`events`, one per line with its `productId`) with the resulting on
   * hand put into their `data.onHand`. Otherwise it writes nothing. One row per line, in line order: whether the order
   * was committed before, whether this statement sold, and the line's product (null name: unknown), archived flag,
   * sellable units and resulting on hand. Priced lines (`unitPrice` on every line) sell only when each product's price
   * is the one charged and `dealsOk` (the caller checked the deals, which are not in this database); the rows then
   * carry each product's price so the caller can name the one that changed.
   */
  sellIfSellableSql(
    orderId: string,
    cartId: string,
    lines: readonly (StockLine & { movementId: string; unitPrice?: number })[],
    reason: string,
    events: readonly OutboxRow[],
    dealsOk = true,
  ): Sql {
    // Priced (every line names the unit price it was charged at): a line whose product's price differs does not sell.
    const priced = lines.every((l) => l.unitPrice !== undefined);
    return sql`WITH t AS MATERIALIZED (SELECT clock_timestamp() AS at),
        done AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM stock_commit WHERE order_id = ${orderId}) AS committed),
        d AS MATERIALIZED (
          SELECT l.product_id, l.quantity, l.movement_id, l.ord, p.name, p.archived_at IS NOT NULL AS archived,
            p.price_amount AS price,
            ${ownHeld(sql`l.product_id`, sql`t.at`, cartId)} AS own,
            greatest(p.on_hand - ${othersHeld(sql`l.product_id`, sql`t.at`, cartId)}, 0) AS sellable
            ${priced ? sql`, l.charged` : sql``}
          FROM unnest(${ids(lines.map((l) => l.productId))}, ${ints(lines.map((l) => l.quantity))},
            ${ids(lines.map((l) => l.movementId))}${priced ? sql`, ${ints(lines.map((l) => l.unitPrice!))}` : sql``})
            WITH ORDINALITY AS l(product_id, quantity, movement_id, ${priced ? sql`charged, ` : sql``}ord)
          CROSS JOIN t LEFT JOIN products p ON p.id = l.product_id
        ),
        ok AS MATERIALIZED (
          SELECT NOT (SELECT committed FROM done)
            AND bool_and(d.name IS NOT NULL AND NOT d.archived AND d.quantity <= d.sellable
              ${priced ? sql`AND d.price = d.charged AND ${dealsOk}::boolean` : sql``}) AS go FROM d
        ), p AS (
          UPDATE products SET on_hand = products.on_hand - d.quantity FROM d, ok
          WHERE ok.go AND products.id = d.product_id
          RETURNING products.id, products.on_hand
        ), m AS (
          INSERT INTO stock_movements (id, product_id, delta, reason, resulting_on_hand, actor_id, order_id)
          SELECT d.movement_id, d.product_id, -d.quantity, ${reason}::text, p.on_hand, NULL, ${orderId}::text
          FROM d JOIN p ON p.id = d.product_id ORDER BY d.ord
        ), kept AS (
          UPDATE stock_hold h SET quantity = d.own - d.quantity, updated_at = now() FROM d, ok
          WHERE ok.go AND h.cart_id = ${cartId} AND h.product_id = d.product_id AND d.own - d.quantity > 0
        ), gone AS (
          DELETE FROM stock_hold h USING d, ok
          WHERE ok.go AND h.cart_id = ${cartId} AND h.product_id = d.product_id AND d.own - d.quantity <= 0
        ), c AS (
          INSERT INTO stock_commit (order_id, product_id, quantity, cart_id)
          SELECT ${orderId}::text, d.product_id, d.quantity, ${cartId}::text FROM d, ok WHERE ok.go ORDER BY d.ord
        ), e AS (
          INSERT INTO outbox (id, subject, payload, created_at, traceparent, tracestate, request_id)
          SELECT r.id, r.subject, jsonb_set(r.payload, '{data,onHand}', to_jsonb(p.on_hand)), r.created_at,
            r.traceparent, r.tracestate, r.request_id
          FROM jsonb_populate_recordset(NULL::outbox, ${JSON.stringify(events)}::jsonb) r
          JOIN p ON p.id = (r.payload->'data'->>'productId')::uuid
        )
      SELECT (SELECT committed FROM done) AS committed, (SELECT go FROM ok) AS sold, d.product_id, d.name, d.archived,
        d.price, d.sellable, p.on_hand
      FROM d LEFT JOIN p ON p.id = d.product_id ORDER BY d.ord`;
  }

  /** `sellIfSellableSql`'s rows: the outcome, and per line (in line order) what the decision read. */
  parseSale(rows: Row[]): SaleOutcome {
    return {
      committed: !!rows[0]?.committed,
      sold: !!rows[0]?.sold,
      lines: rows.map((r) => ({
        productId: r.product_id as string,
        name: (r.name as string | null) ?? null,
        archived: !!r.archived,
        price: r.price === null || r.price === undefined ? null : Number(r.price),
        sellable: Number(r.sellable ?? 0),
        onHand: r.on_hand === null || r.on_hand === undefined ? null : Number(r.on_hand),
      })),
    };
  }

  /** The order's sold lines not returned yet, in product-id order. */
  async openCommits(em: EntityManager, orderId: string): Promise<StockLine[]> {
    const rows = await this.run(
      em,
      sql`SELECT product_id, quantity FROM stock_commit
      WHERE order_id = ${orderId} AND returned_at IS NULL ORDER BY product_id`,
    );
    return rows.map((r) => ({ productId: r.product_id as string, quantity: Number(r.quantity) }));
  }

  async markReturned(em: EntityManager, orderId: string): Promise<void> {
    await this.run(
      em,
      sql`UPDATE stock_commit SET returned_at = now() WHERE order_id = ${orderId} AND returned_at IS NULL`,
    );
  }
}
