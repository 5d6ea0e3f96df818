import { Migration } from '@mikro-orm/migrations';

/**
 * A running total of held units per product, so that no stock decision and no availability read sums the product's
 * holds. Summing cost grew with the carts holding a product: in a sale with thousands of carts on one product, every
 * hold, checkout and page view read each of their rows, and the commands did it while holding the product's lock.
 *
 *   - `product_hold_total(product_id, units)`: the units of ALL the product's holds, live or expired. Kept by
 *     triggers on `stock_hold` (insert, delete, a changed quantity, truncate) in the writing statement's own
 *     transaction, so it cannot drift from the rows. Every product has its row from its insert on (trigger on products).
 *   - Held units at `at` = `units` − the product's holds with `expires_at <= at`: the expired holds that no release has
 *     deleted yet, normally none, read from stock_hold_product_idx. An expired hold still never counts.
 *   - `product_held` keeps its columns, now computed that way.
 *   - Lock order: every command that writes holds locks the products' rows and their total rows in product-id order
 *     before it writes (StockStore.lockProducts); a release, which locks no product, locks the total rows in that
 *     order first (StockStore.releaseCart). The triggers then never wait for a total: their writer holds it already.
 *     (Any other writer of several products' holds in one transaction must lock their totals in that order first.)
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

    // Row-level: PL/pgSQL keeps each UPDATE's plan for the session, and a statement that changes no quantity (a
    // deadline moved, a sale's empty "kept" part) calls nothing. A multi-row statement updates the totals in its
    // rows' order, which is safe because its writer already holds those totals (see the lock order above).
    this.addSql(`CREATE FUNCTION stock_hold_total_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          UPDATE product_hold_total SET units = units + NEW.quantity WHERE product_id = NEW.product_id;
        ELSIF TG_OP = 'DELETE' THEN
          UPDATE product_hold_total SET units = units - OLD.quantity WHERE product_id = OLD.product_id;
        ELSE
          UPDATE product_hold_total SET units = units + NEW.quantity - OLD.quantity WHERE product_id = NEW.product_id;
        END IF;
        RETURN NULL;
      END $fn$`);
    this.addSql(`CREATE TRIGGER stock_hold_total_insert_delete AFTER INSERT OR DELETE ON stock_hold
      FOR EACH ROW EXECUTE FUNCTION stock_hold_total_apply()`);
    this.addSql(`CREATE TRIGGER stock_hold_total_update AFTER UPDATE OF quantity ON stock_hold
      FOR EACH ROW WHEN (OLD.quantity IS DISTINCT FROM NEW.quantity) EXECUTE FUNCTION stock_hold_total_apply()`);
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
    this.addSql('DROP TRIGGER stock_hold_total_update ON stock_hold');
    this.addSql('DROP TRIGGER stock_hold_total_insert_delete ON stock_hold');
    this.addSql('DROP FUNCTION stock_hold_total_truncate()');
    this.addSql('DROP FUNCTION stock_hold_total_apply()');
    this.addSql('DROP TRIGGER product_hold_total_create ON products');
    this.addSql('DROP FUNCTION product_hold_total_create()');
    this.addSql('DROP TABLE product_hold_total');
  }
}
