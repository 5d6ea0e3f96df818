import type { EntityManager } from '@mikro-orm/postgresql';
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

const ids = (list: readonly string[]) => sql`ARRAY[${[...list]}]::uuid[]`;

/**
 * SQL of stock holds (carts) and sold stock (orders). Every method runs inside the caller's transaction; the
 * service takes the product row locks (`lockProducts`) before it reads or writes holds of those products.
 */
export class StockStore {
  private async run<T = Row>(em: EntityManager, q: Sql): Promise<T[]> {
    return em.execute(q.text, q.params) as Promise<T[]>;
  }

  /** Products this cart holds (live or expired), so that a change can lock them too. */
  async cartProductIds(em: EntityManager, cartId: string): Promise<string[]> {
    const rows = await this.run<{ product_id: string }>(em, sql`SELECT product_id FROM stock_hold WHERE cart_id = ${cartId}`);
    return rows.map((r) => r.product_id);
  }

  /**
   * Locks the products' rows in id order (one statement: LockRows sits above the sort, so the locks are taken in
   * that order and two transactions can never wait for each other in a cycle). Unknown ids are simply absent.
   */
  async lockProducts(em: EntityManager, productIds: readonly string[]): Promise<LockedProduct[]> {
    if (!productIds.length) return [];
    const rows = await this.run(em, sql`SELECT id, name, on_hand, archived_at IS NOT NULL AS archived FROM products
      WHERE id = ANY(${ids(productIds)}) ORDER BY id FOR UPDATE`);
    return rows.map((r) => ({ id: r.id as string, name: r.name as string, onHand: Number(r.on_hand), archived: !!r.archived }));
  }

  /**
   * The decision time of a stock command: the clock read AFTER the product locks were granted, as microsecond ISO
   * text (a JS Date would drop the microseconds). Not `now()`: that is the transaction's start, possibly before a
   * long lock wait, and a hold another transaction has already treated as expired (and re-sold) in the meantime must
   * not look alive to us, or we would extend it and oversell.
   */
  async cutoff(em: EntityManager): Promise<string> {
    const [row] = await this.run<{ t: string }>(em, sql`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`);
    return row.t;
  }

  /** Unexpired held units per product at `at`, split into this cart's and the other carts'. */
  async heldUnits(em: EntityManager, productIds: readonly string[], cartId: string, at: string): Promise<Map<string, HeldUnits>> {
    const result = new Map<string, HeldUnits>(productIds.map((id) => [id, { own: 0, others: 0 }]));
    if (!productIds.length) return result;
    const rows = await this.run(em, sql`SELECT product_id,
        coalesce(sum(quantity) FILTER (WHERE cart_id = ${cartId}), 0) AS own,
        coalesce(sum(quantity) FILTER (WHERE cart_id <> ${cartId}), 0) AS others
      FROM stock_hold_live(${at}::timestamptz) WHERE product_id = ANY(${ids(productIds)}) GROUP BY product_id`);
    for (const r of rows) result.set(r.product_id as string, { own: Number(r.own), others: Number(r.others) });
    return result;
  }

  /** What can be sold of each product at `at`: `product_available(on_hand, unexpired holds)`, the read rule. */
  async available(em: EntityManager, productIds: readonly string[], at: string): Promise<Map<string, number>> {
    if (!productIds.length) return new Map();
    const rows = await this.run(em, sql`SELECT p.id, product_available(p.on_hand,
        (SELECT sum(h.quantity) FROM stock_hold_live(${at}::timestamptz) h WHERE h.product_id = p.id)) AS available
      FROM products p WHERE p.id = ANY(${ids(productIds)})`);
    return new Map(rows.map((r) => [r.id as string, Number(r.available)]));
  }

  /**
   * Sets this cart's holds of these products (quantity > 0) with the deadline. A row that already has exactly this
   * quantity and deadline is not written at all, so a retried command leaves the table untouched.
   */
  async upsertHolds(em: EntityManager, cartId: string, lines: readonly StockLine[], expiresAt: string): Promise<void> {
    if (!lines.length) return;
    await this.run(em, sql`INSERT INTO stock_hold (cart_id, product_id, quantity, expires_at)
      SELECT ${cartId}, l.product_id, l.quantity, ${expiresAt}::timestamptz
      FROM unnest(${ids(lines.map((l) => l.productId))}, ARRAY[${lines.map((l) => l.quantity)}]::int[]) AS l(product_id, quantity)
      ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity, expires_at = excluded.expires_at, updated_at = now()
      WHERE (stock_hold.quantity, stock_hold.expires_at) IS DISTINCT FROM (excluded.quantity, excluded.expires_at)`);
  }

  async deleteHolds(em: EntityManager, cartId: string, productIds: readonly string[]): Promise<void> {
    if (!productIds.length) return;
    await this.run(em, sql`DELETE FROM stock_hold WHERE cart_id = ${cartId} AND product_id = ANY(${ids(productIds)})`);
  }

  /**
   * Moves the deadline of this cart's holds of these (locked) products that are still alive at `at`, and deletes
   * the ones that expired: an expired hold is never revived, its units may have been sold to someone else already.
   */
  async moveDeadline(em: EntityManager, cartId: string, productIds: readonly string[], expiresAt: string, at: string): Promise<void> {
    if (!productIds.length) return;
    await this.run(em, sql`UPDATE stock_hold SET expires_at = ${expiresAt}::timestamptz, updated_at = now()
      WHERE cart_id = ${cartId} AND product_id = ANY(${ids(productIds)}) AND expires_at > ${at}::timestamptz
        AND expires_at <> ${expiresAt}::timestamptz`);
    await this.run(em, sql`DELETE FROM stock_hold
      WHERE cart_id = ${cartId} AND product_id = ANY(${ids(productIds)}) AND expires_at <= ${at}::timestamptz`);
  }

  /** This cart's hold of a product after a sale of part of it: the rest, or gone. Keeps the deadline. */
  async reduceHold(em: EntityManager, cartId: string, productId: string, remaining: number): Promise<void> {
    if (remaining > 0) {
      await this.run(em, sql`UPDATE stock_hold SET quantity = ${remaining}, updated_at = now()
        WHERE cart_id = ${cartId} AND product_id = ${productId}::uuid`);
    } else {
      await this.deleteHolds(em, cartId, [productId]);
    }
  }

  /** Deletes every hold of the cart; returns how many rows went. No product lock needed: a release only frees stock. */
  async releaseCart(em: EntityManager, cartId: string): Promise<number> {
    const rows = await this.run(em, sql`DELETE FROM stock_hold WHERE cart_id = ${cartId} RETURNING product_id`);
    return rows.length;
  }

  /**
   * Serializes every commit and uncommit of one order (transaction-scoped advisory lock), also when two requests for
   * the same order name different products. Always taken before any product lock, so it cannot join a lock cycle.
   */
  async lockOrder(em: EntityManager, orderId: string): Promise<void> {
    await this.run(em, sql`SELECT pg_advisory_xact_lock(hashtextextended(${`stock_commit:${orderId}`}, 0))`);
  }

  async orderCommitted(em: EntityManager, orderId: string): Promise<boolean> {
    const rows = await this.run(em, sql`SELECT 1 FROM stock_commit WHERE order_id = ${orderId} LIMIT 1`);
    return rows.length > 0;
  }

  async insertCommits(em: EntityManager, orderId: string, cartId: string, lines: readonly StockLine[]): Promise<void> {
    await this.run(em, sql`INSERT INTO stock_commit (order_id, product_id, quantity, cart_id)
      SELECT ${orderId}, l.product_id, l.quantity, ${cartId}
      FROM unnest(${ids(lines.map((l) => l.productId))}, ARRAY[${lines.map((l) => l.quantity)}]::int[]) AS l(product_id, quantity)`);
  }

  /** The order's sold lines not returned yet, in product-id order. */
  async openCommits(em: EntityManager, orderId: string): Promise<StockLine[]> {
    const rows = await this.run(em, sql`SELECT product_id, quantity FROM stock_commit
      WHERE order_id = ${orderId} AND returned_at IS NULL ORDER BY product_id`);
    return rows.map((r) => ({ productId: r.product_id as string, quantity: Number(r.quantity) }));
  }

  async markReturned(em: EntityManager, orderId: string): Promise<void> {
    await this.run(em, sql`UPDATE stock_commit SET returned_at = now() WHERE order_id = ${orderId} AND returned_at IS NULL`);
  }
}
