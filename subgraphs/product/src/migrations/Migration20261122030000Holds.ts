import { Migration } from '@mikro-orm/migrations';

/**
 * Stock holds (carts) and sold stock (orders), and availability redefined on top of them.
 *
 * The availability rule, in SQL only:
 *   - `stock_hold_live(at)`: the holds that count at time `at` (`expires_at > at`). An expired hold never counts, even
 *     when no sweeper has deleted it yet. Reads ask at `now()` (the `product_held` view); the stock commands ask at the
 *     clock time taken after they locked the product rows (see StockStore.decisionState for why).
 *   - `product_held`: unexpired held units per product.
 *   - `product_available(on_hand, held)`: what can be sold now, never negative.
 * Every read joins `product_held` (one hashed aggregate for a whole list: a per-row function with a subquery cannot be
 * inlined and made counts over 100k products take seconds) and passes the result to `product_available`.
 * Sold stock has already left `on_hand` (a SALE movement), so it needs no term of its own.
 */
export class Migration20261122030000Holds extends Migration {
  override async up(): Promise<void> {
    // The order a SALE or RETURN movement belongs to (null for admin changes).
    this.addSql(`ALTER TABLE stock_movements ADD COLUMN order_id text CHECK (length(order_id) BETWEEN 1 AND 128)`);

    this.addSql(`CREATE TABLE stock_hold (
      cart_id text NOT NULL CHECK (length(cart_id) BETWEEN 1 AND 128),
      product_id uuid NOT NULL REFERENCES products(id),
      quantity integer NOT NULL CHECK (quantity > 0),
      expires_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (cart_id, product_id)
    )`);
    // Held units of one product (availability, the hold decision); expiry sweeps by time.
    this.addSql(`CREATE INDEX stock_hold_product_idx ON stock_hold (product_id, expires_at)`);
    this.addSql(`CREATE INDEX stock_hold_expires_idx ON stock_hold (expires_at)`);

    // One row per (order, product): the primary key makes a repeated commit of the same order impossible.
    this.addSql(`CREATE TABLE stock_commit (
      order_id text NOT NULL CHECK (length(order_id) BETWEEN 1 AND 128),
      product_id uuid NOT NULL REFERENCES products(id),
      quantity integer NOT NULL CHECK (quantity > 0),
      cart_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      returned_at timestamptz,
      PRIMARY KEY (order_id, product_id)
    )`);

    // Not STRICT and STABLE: the planner inlines it, so filters on product_id / cart_id reach stock_hold's indexes.
    this.addSql(`CREATE FUNCTION stock_hold_live(at timestamptz) RETURNS SETOF stock_hold
      LANGUAGE sql STABLE PARALLEL SAFE AS $fn$ SELECT * FROM stock_hold WHERE expires_at > at $fn$`);
    this.addSql(`CREATE VIEW product_held AS
      SELECT product_id, sum(quantity) AS held FROM stock_hold_live(now()) GROUP BY product_id`);

    // The old signature ignored holds; dropping it makes any forgotten caller fail loudly instead of overselling.
    this.addSql(`DROP FUNCTION product_available(uuid, integer)`);
    this.addSql(`CREATE FUNCTION product_available(on_hand integer, held bigint) RETURNS integer
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT greatest(on_hand - coalesce(held, 0), 0)::integer $fn$`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP FUNCTION product_available(integer, bigint)');
    this.addSql(`CREATE FUNCTION product_available(product_id uuid, on_hand integer) RETURNS integer
      LANGUAGE sql STABLE PARALLEL SAFE AS $fn$ SELECT greatest(on_hand, 0) $fn$`);
    this.addSql('DROP VIEW product_held');
    this.addSql('DROP FUNCTION stock_hold_live(timestamptz)');
    this.addSql('DROP TABLE stock_commit');
    this.addSql('DROP TABLE stock_hold');
    this.addSql('ALTER TABLE stock_movements DROP COLUMN order_id');
  }
}
