import { Migration } from '@mikro-orm/migrations';

/**
 * A running total of held units per product, so that no stock decision and no availability read sums the product's
 * holds. Summing cost grew with the carts holding a product: in a sale with thousands of carts on one product, every
 * hold, checkout and page view read each of their rows, and the commands did it while holding the product's lock.
 *
 *   - `product_hold_total(product_id, units)`: the units of ALL the product's holds, live or expired. Kept by
 *     statement-level triggers on `stock_hold` (insert, update, delete, truncate) in the writing statement's own
 *     transaction, so it cannot drift from the rows. Every product has its row from its insert on (trigger on products).
 *   - Held units at `at` = `units` − the product's holds with `expires_at <= at`: the expired holds that no release has
 *     deleted yet, normally none, read from stock_hold_product_idx. An expired hold still never counts.
 *   - `product_held` keeps its columns, now computed that way.
 *   - Lock order: every command that writes holds locks the products' rows and their total rows in product-id order
 *     before it writes (StockStore.lockProducts); a release, which locks no product, locks the total rows in that
 *     order first (StockStore.releaseCart). The trigger locks them in that order too, for any other writer.
 */
export class Migration20261220000000HoldTotals extends Migration {
  override async up(): Promise<void> {
    // Writers wait while the totals are counted from the rows (migrations run in a transaction).
    this.addSql(`LOCK TABLE stock_hold IN SHARE ROW EXCLUSIVE MODE`);
    // fillfactor: a hot product's row is rewritten by every hold of it; room on the page keeps those updates HOT.
    this.addSql(`CREATE TABLE product_hold_total (
      product_id uuid PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
      units bigint NOT NULL DEFAULT 0 CHECK (units >= 0)
    ) WITH (fillfactor = 50)`);
    this.addSql(`INSERT INTO product_hold_total (product_id, units)
      SELECT p.id, coalesce((SELECT sum(h.quantity) FROM stock_hold h WHERE h.product_id = p.id), 0) FROM products p`);

    this.addSql(`CREATE FUNCTION product_hold_total_create() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO product_hold_total (product_id) SELECT id FROM new_products;
        RETURN NULL;
      END $fn$`);
    this.addSql(`CREATE TRIGGER product_hold_total_create AFTER INSERT ON products
      REFERENCING NEW TABLE AS new_products FOR EACH STATEMENT EXECUTE FUNCTION product_hold_total_create()`);

    // Adds per-product deltas to the totals, locking the rows in product-id order first (see the lock order above).
    this.addSql(`CREATE FUNCTION product_hold_total_add(ids uuid[], deltas bigint[]) RETURNS void LANGUAGE sql AS $fn$
      WITH d AS (
          SELECT product_id, sum(delta) AS delta FROM unnest(ids, deltas) AS u(product_id, delta)
          GROUP BY product_id HAVING sum(delta) <> 0
        ), l AS (
          SELECT t.product_id FROM product_hold_total t JOIN d USING (product_id) ORDER BY t.product_id FOR UPDATE OF t
        )
      UPDATE product_hold_total t SET units = t.units + d.delta FROM d JOIN l USING (product_id)
      WHERE t.product_id = d.product_id
    $fn$`);
    // One function for the three row-changing events: each trigger names only the transition tables its event has, and
    // PL/pgSQL plans a statement only when it runs it.
    this.addSql(`CREATE FUNCTION stock_hold_total_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          PERFORM product_hold_total_add(array_agg(product_id), array_agg(quantity::bigint)) FROM new_holds;
        ELSIF TG_OP = 'DELETE' THEN
          PERFORM product_hold_total_add(array_agg(product_id), array_agg(-quantity::bigint)) FROM old_holds;
        ELSE
          PERFORM product_hold_total_add(array_agg(product_id), array_agg(delta)) FROM (
            SELECT product_id, quantity::bigint AS delta FROM new_holds
            UNION ALL SELECT product_id, -quantity::bigint FROM old_holds
          ) c;
        END IF;
        RETURN NULL;
      END $fn$`);
    this.addSql(`CREATE TRIGGER stock_hold_total_insert AFTER INSERT ON stock_hold
      REFERENCING NEW TABLE AS new_holds FOR EACH STATEMENT EXECUTE FUNCTION stock_hold_total_apply()`);
    this.addSql(`CREATE TRIGGER stock_hold_total_update AFTER UPDATE ON stock_hold
      REFERENCING OLD TABLE AS old_holds NEW TABLE AS new_holds FOR EACH STATEMENT EXECUTE FUNCTION stock_hold_total_apply()`);
    this.addSql(`CREATE TRIGGER stock_hold_total_delete AFTER DELETE ON stock_hold
      REFERENCING OLD TABLE AS old_holds FOR EACH STATEMENT EXECUTE FUNCTION stock_hold_total_apply()`);
    this.addSql(`CREATE FUNCTION stock_hold_total_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        UPDATE product_hold_total SET units = 0 WHERE units <> 0;
        RETURN NULL;
      END $fn$`);
    this.addSql(`CREATE TRIGGER stock_hold_total_truncate AFTER TRUNCATE ON stock_hold
      FOR EACH STATEMENT EXECUTE FUNCTION stock_hold_total_truncate()`);

    this.addSql(`CREATE OR REPLACE VIEW product_held AS
      SELECT t.product_id, t.units - coalesce(x.expired, 0) AS held
      FROM product_hold_total t LEFT JOIN (
        SELECT product_id, sum(quantity) AS expired FROM stock_hold WHERE expires_at <= now() GROUP BY product_id
      ) x ON x.product_id = t.product_id`);
  }

  override async down(): Promise<void> {
    this.addSql(`CREATE OR REPLACE VIEW product_held AS
      SELECT product_id, sum(quantity) AS held FROM stock_hold_live(now()) GROUP BY product_id`);
    this.addSql('DROP TRIGGER stock_hold_total_truncate ON stock_hold');
    this.addSql('DROP TRIGGER stock_hold_total_delete ON stock_hold');
    this.addSql('DROP TRIGGER stock_hold_total_update ON stock_hold');
    this.addSql('DROP TRIGGER stock_hold_total_insert ON stock_hold');
    this.addSql('DROP FUNCTION stock_hold_total_truncate()');
    this.addSql('DROP FUNCTION stock_hold_total_apply()');
    this.addSql('DROP FUNCTION product_hold_total_add(uuid[], bigint[])');
    this.addSql('DROP TRIGGER product_hold_total_create ON products');
    this.addSql('DROP FUNCTION product_hold_total_create()');
    this.addSql('DROP TABLE product_hold_total');
  }
}
