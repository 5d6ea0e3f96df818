import { Migration } from '@mikro-orm/migrations';

/**
 * Catalog tables. Every list index is partial on `archived_at IS NULL` (archived products leave every list) and
 * ends with `id` so that keyset pagination has a unique, indexed order for each sort.
 */
export class Migration20261122020000Catalog extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE TABLE categories (
      slug text PRIMARY KEY CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 64),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    this.addSql(`CREATE TABLE products (
      id uuid PRIMARY KEY,
      sku text NOT NULL,
      name text NOT NULL,
      description text NOT NULL DEFAULT '',
      category_slug text NOT NULL REFERENCES categories(slug),
      price_amount integer NOT NULL CHECK (price_amount > 0),
      currency char(3) NOT NULL DEFAULT 'USD',
      on_hand integer NOT NULL CHECK (on_hand >= 0),
      archived_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- Each text twice: English-stemmed ("headphones" -> headphon, so "headphone" matches) and as written
      -- ('simple': stop words such as "the" or a lone "s" typed so far still match as prefixes).
      search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, name) || to_tsvector('simple'::regconfig, name), 'A') ||
        setweight(to_tsvector('simple'::regconfig, sku), 'A') ||
        setweight(to_tsvector('english'::regconfig, description) || to_tsvector('simple'::regconfig, description), 'C')
      ) STORED,
      CONSTRAINT products_sku_unique UNIQUE (sku)
    )`);
    // One index per sort, with and without the category filter (the common storefront navigation).
    this.addSql(`CREATE INDEX products_newest_idx ON products (created_at DESC, id DESC) WHERE archived_at IS NULL`);
    // INCLUDE (on_hand): counts and facets with price / inStock filters run as index-only scans.
    this.addSql(
      `CREATE INDEX products_price_idx ON products (price_amount, id) INCLUDE (on_hand) WHERE archived_at IS NULL`,
    );
    this.addSql(`CREATE INDEX products_name_idx ON products ((lower(name) COLLATE "C"), id) WHERE archived_at IS NULL`);
    this.addSql(
      `CREATE INDEX products_category_newest_idx ON products (category_slug, created_at DESC, id DESC) WHERE archived_at IS NULL`,
    );
    // Also serves facet counts as index-only scans (category, price and on_hand are all in it).
    this.addSql(
      `CREATE INDEX products_category_price_idx ON products (category_slug, price_amount, id) INCLUDE (on_hand) WHERE archived_at IS NULL`,
    );
    // Tiny thanks to B-tree deduplication: productCount and the categories list count from it.
    this.addSql(`CREATE INDEX products_category_idx ON products (category_slug) WHERE archived_at IS NULL`);
    this.addSql(
      `CREATE INDEX products_category_name_idx ON products (category_slug, (lower(name) COLLATE "C"), id) WHERE archived_at IS NULL`,
    );
    // Full-text search; prefix queries (`term:*`) use the same GIN index.
    this.addSql(`CREATE INDEX products_search_idx ON products USING gin (search_vector) WHERE archived_at IS NULL`);

    /*
     * What can be sold now. The ONE place availability is defined: Product.stock/inStock, the inStock filter, deals
     * and the product.get command all call it. Stock holds (cart) will live in this database; they get subtracted
     * here with CREATE OR REPLACE in their own migration. A single-SELECT SQL function is inlined by the planner.
     */
    this.addSql(`CREATE FUNCTION product_available(product_id uuid, on_hand integer) RETURNS integer
      LANGUAGE sql STABLE PARALLEL SAFE AS $fn$ SELECT greatest(on_hand, 0) $fn$`);

    /*
     * One search word as a prefix query, in both forms the search vector holds: English-stemmed ("headphones" ->
     * headphon:*, which also matches "headphone") and as typed (stop words such as "the", or the lone "s" a shopper
     * has typed so far, match only that way); a single form when both are the same. Called only with words made of
     * letters, marks and digits (service/search.ts), always as a bound value. IMMUTABLE: folded to a constant at
     * plan time, so the GIN index applies.
     */
    this
      .addSql(`CREATE FUNCTION product_search_word(word text) RETURNS tsquery LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
      SELECT CASE
        WHEN numnode(to_tsquery('english', word || ':*')) = 0 THEN to_tsquery('simple', word || ':*')
        WHEN to_tsquery('english', word || ':*') = to_tsquery('simple', word || ':*') THEN to_tsquery('simple', word || ':*')
        ELSE to_tsquery('english', word || ':*') || to_tsquery('simple', word || ':*')
      END $fn$`);

    this.addSql(`CREATE TABLE stock_movements (
      id uuid PRIMARY KEY,
      seq bigint GENERATED ALWAYS AS IDENTITY,
      product_id uuid NOT NULL REFERENCES products(id),
      delta integer NOT NULL,
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
      resulting_on_hand integer NOT NULL CHECK (resulting_on_hand >= 0),
      actor_id uuid,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    // seq follows the order in which movements took the product's row lock, so history reads in true order.
    this.addSql(`CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, seq DESC)`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE stock_movements');
    this.addSql('DROP FUNCTION product_search_word(text)');
    this.addSql('DROP FUNCTION product_available(uuid, integer)');
    this.addSql('DROP TABLE products');
    this.addSql('DROP TABLE categories');
  }
}
