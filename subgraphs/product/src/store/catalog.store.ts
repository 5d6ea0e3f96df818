import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { executePrepared, pgArray } from '@shop/kernel';
import { join, raw, Sql, sql } from './sql';

/** A product as every read returns it: `available` comes from `product_available(on_hand, held)`, the single availability rule. */
export interface ProductRecord {
  id: string;
  sku: string;
  name: string;
  description: string;
  categorySlug: string;
  priceAmount: number;
  currency: string;
  onHand: number;
  /** What can be sold now (on hand minus unexpired holds; sold units already left on hand). */
  available: number;
  archivedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface CategoryRecord {
  slug: string;
  name: string;
  /** Present when the query that loaded the category counted its products already. */
  productCount?: number;
}

export interface CategoryFacetRecord {
  slug: string;
  name: string;
  count: number;
}

export interface StockMovementRecord {
  id: string;
  /** Position in the product's history (identity column); the keyset of stockHistory. */
  seq: string;
  productId: string;
  delta: number;
  reason: string;
  resultingOnHand: number;
  actorId: string | null;
  /** The order a SALE or RETURN movement belongs to; null for admin changes. */
  orderId: string | null;
  createdAt: Date;
}

/** Filters after validation; `terms` are sanitized words (letters, marks, digits only; see service/search.ts). */
export interface ProductFilterSpec {
  terms?: string[];
  category?: string;
  minPrice?: number;
  maxPrice?: number;
  inStock?: boolean;
}

export type SortName = 'RELEVANCE' | 'PRICE_ASC' | 'PRICE_DESC' | 'NEWEST' | 'NAME';

/** Keyset position: the sort key exactly as the database printed it, and the id that breaks ties. */
export interface KeysetPosition {
  key: string;
  id: string;
}

interface SortSpec {
  /** The ordering expression (also compared against the cursor). */
  expr: (f: ProductFilterSpec) => Sql;
  /** Its text form for cursors: re-parsed by `cast` without loss. */
  text: (f: ProductFilterSpec) => Sql;
  cast: string;
  desc: boolean;
}

/** Every word must match, each as a prefix (`product_search_word`, see the migration); words travel as bound values. */
function tsquery(terms: string[]): Sql {
  if (!terms.length) return raw(`''::tsquery`);
  return sql`(${join(
    terms.map((t) => sql`product_search_word(${t})`),
    ' && ',
  )})`;
}
const rank = (f: ProductFilterSpec) => sql`ts_rank(p.search_vector, ${tsquery(f.terms ?? [])})`;
const name = raw(`lower(p.name) COLLATE "C"`);

/** Every sort is keyset-paginated on (key, id); each has a partial index in that order (see the migration). */
const SORTS: Record<SortName, SortSpec> = {
  RELEVANCE: { expr: rank, text: (f) => sql`${rank(f)}::text`, cast: 'real', desc: true },
  PRICE_ASC: {
    expr: () => raw('p.price_amount'),
    text: () => raw('p.price_amount::text'),
    cast: 'integer',
    desc: false,
  },
  PRICE_DESC: {
    expr: () => raw('p.price_amount'),
    text: () => raw('p.price_amount::text'),
    cast: 'integer',
    desc: true,
  },
  // Microsecond ISO text: a JS Date would drop the microseconds and break ties between rows of the same millisecond.
  NEWEST: {
    expr: () => raw('p.created_at'),
    text: () => raw(`to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`),
    cast: 'timestamptz',
    desc: true,
  },
  NAME: { expr: () => name, text: () => raw(`lower(p.name)`), cast: 'text COLLATE "C"', desc: false },
};

/**
 * Every product read goes through this FROM and `AVAILABLE` (see the holds and hold-totals migrations): unexpired held
 * units per product from the running totals, less the lapsed holds not deleted yet. PostgreSQL drops the join when a
 * query does not use `h` (plain counts).
 */
const PRODUCTS = raw('products p LEFT JOIN product_held h ON h.product_id = p.id');
const AVAILABLE = raw('product_available(p.on_hand, h.held)');

const PRODUCT_COLUMNS = raw(`p.id, p.sku, p.name, p.description, p.category_slug, p.price_amount, p.currency, p.on_hand,
  ${AVAILABLE.text} AS available, p.archived_at, p.created_at, p.updated_at`);

type Row = Record<string, unknown>;

const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

function toProduct(r: Row): ProductRecord {
  return {
    id: r.id as string,
    sku: r.sku as string,
    name: r.name as string,
    description: r.description as string,
    categorySlug: r.category_slug as string,
    priceAmount: Number(r.price_amount),
    currency: (r.currency as string).trim(),
    onHand: Number(r.on_hand),
    available: Number(r.available),
    archivedAt: r.archived_at ? toDate(r.archived_at) : null,
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

function toMovement(r: Row): StockMovementRecord {
  return {
    id: r.id as string,
    seq: String(r.seq),
    productId: r.product_id as string,
    delta: Number(r.delta),
    reason: r.reason as string,
    resultingOnHand: Number(r.resulting_on_hand),
    actorId: (r.actor_id as string | null) ?? null,
    orderId: (r.order_id as string | null) ?? null,
    createdAt: toDate(r.created_at),
  };
}

/** All SQL of the product subgraph. Methods take an EntityManager when they must run inside the caller's transaction. */
export class CatalogStore {
  constructor(private readonly orm: MikroORM) {}

  private async run<T = Row>(q: Sql, em?: EntityManager): Promise<T[]> {
    return (em ?? this.orm.em.fork()).execute(q.text, q.params) as Promise<T[]>;
  }

  /** Conditions shared by the list, its count and its facets. Archived products are never listed. */
  private where(f: ProductFilterSpec, opts: { category?: boolean } = {}): Sql {
    const parts: Sql[] = [raw('p.archived_at IS NULL')];
    if (f.terms?.length) parts.push(sql`p.search_vector @@ ${tsquery(f.terms)}`);
    if (f.category !== undefined && opts.category !== false) parts.push(sql`p.category_slug = ${f.category}`);
    if (f.minPrice !== undefined) parts.push(sql`p.price_amount >= ${f.minPrice}`);
    if (f.maxPrice !== undefined) parts.push(sql`p.price_amount <= ${f.maxPrice}`);
    if (f.inStock === true) parts.push(sql`${AVAILABLE} > 0`);
    if (f.inStock === false) parts.push(sql`${AVAILABLE} <= 0`);
    return join(parts, ' AND ');
  }

  /** One page in the sort's keyset order, `limit` rows after `after`; each row carries its cursor key. */
  async listProducts(
    f: ProductFilterSpec,
    sort: SortName,
    limit: number,
    after?: KeysetPosition,
  ): Promise<(ProductRecord & { sortKey: string })[]> {
    const s = SORTS[sort];
    const dir = raw(s.desc ? 'DESC' : 'ASC');
    const conditions = [this.where(f)];
    if (after) {
      // Row comparison on (key, id) walks the (key, id) index from the cursor: no OFFSET, stable under inserts.
      conditions.push(
        sql`(${s.expr(f)}, p.id) ${raw(s.desc ? '<' : '>')} (${after.key}::${raw(s.cast)}, ${after.id}::uuid)`,
      );
    }
    const rows = await this.run(sql`SELECT ${PRODUCT_COLUMNS}, ${s.text(f)} AS sort_key
      FROM ${PRODUCTS} WHERE ${join(conditions, ' AND ')}
      ORDER BY ${s.expr(f)} ${dir}, p.id ${dir} LIMIT ${limit}`);
    return rows.map((r) => ({ ...toProduct(r), sortKey: String(r.sort_key) }));
  }

  async countProducts(f: ProductFilterSpec): Promise<number> {
    const [row] = await this.run<{ n: number }>(sql`SELECT count(*)::int AS n FROM ${PRODUCTS} WHERE ${this.where(f)}`);
    return Number(row.n);
  }

  /**
   * Products per category under the current filter, ignoring the category filter itself (so a shopper sees what
   * the other categories hold), most populated first; categories without a match are left out.
   */
  async categoryFacets(f: ProductFilterSpec): Promise<CategoryFacetRecord[]> {
    const rows = await this.run<{ slug: string; name: string; n: number }>(sql`SELECT c.slug, c.name, f.n
      FROM (SELECT p.category_slug, count(*)::int AS n FROM ${PRODUCTS} WHERE ${this.where(f, { category: false })} GROUP BY p.category_slug) f
      JOIN categories c ON c.slug = f.category_slug
      ORDER BY f.n DESC, c.slug`);
    return rows.map((r) => ({ slug: r.slug, name: r.name, count: Number(r.n) }));
  }

  /** Products by id, archived included (references from carts and orders must keep resolving). One statement. */
  async productsByIds(ids: readonly string[], em?: EntityManager): Promise<ProductRecord[]> {
    if (!ids.length) return [];
    const q = sql`SELECT ${PRODUCT_COLUMNS} FROM ${PRODUCTS} WHERE p.id = ANY(${pgArray(ids)}::uuid[])`;
    if (em) return (await this.run(q, em)).map(toProduct);
    // Every product page, cart change and checkout (product.get) reads products by id: planned once per connection.
    return (await executePrepared(this.orm, q)).map(toProduct);
  }

  async existingIds(ids: readonly string[]): Promise<string[]> {
    if (!ids.length) return [];
    const rows = await this.run<{ id: string }>(
      sql`SELECT id FROM products WHERE id = ANY(ARRAY[${[...ids]}]::uuid[])`,
    );
    return rows.map((r) => r.id);
  }

  async categoriesBySlugs(slugs: readonly string[], em?: EntityManager): Promise<CategoryRecord[]> {
    if (!slugs.length) return [];
    return this.run<CategoryRecord>(
      sql`SELECT slug, name FROM categories WHERE slug = ANY(ARRAY[${[...slugs]}]::text[])`,
      em,
    );
  }

  /** Active (non-archived) products per category, one grouped statement for any number of categories. */
  async productCounts(slugs: readonly string[]): Promise<Map<string, number>> {
    if (!slugs.length) return new Map();
    const rows = await this.run<{
      slug: string;
      n: number;
    }>(sql`SELECT p.category_slug AS slug, count(*)::int AS n FROM products p
      WHERE p.archived_at IS NULL AND p.category_slug = ANY(ARRAY[${[...slugs]}]::text[]) GROUP BY p.category_slug`);
    return new Map(rows.map((r) => [r.slug, Number(r.n)]));
  }

  /** Every category with its active product count, by name. One statement. */
  async allCategories(): Promise<CategoryRecord[]> {
    const rows = await this.run<{
      slug: string;
      name: string;
      n: number;
    }>(sql`SELECT c.slug, c.name, coalesce(n.n, 0)::int AS n
      FROM categories c
      LEFT JOIN (SELECT category_slug, count(*) AS n FROM products WHERE archived_at IS NULL GROUP BY category_slug) n ON n.category_slug = c.slug
      ORDER BY c.name, c.slug`);
    return rows.map((r) => ({ slug: r.slug, name: r.name, productCount: Number(r.n) }));
  }

  /**
   * The atomic stock change: applied only if the result stays within [0, max]. Returns the new on-hand level, or
   * null when the product does not exist or the result would leave the range. The row lock it takes orders
   * concurrent changes, so the movement written after it in the same transaction records the true resulting level.
   */
  async addStock(em: EntityManager, productId: string, delta: number, max: number): Promise<number | null> {
    const rows = await this.run<{ on_hand: number }>(
      sql`UPDATE products SET on_hand = on_hand + ${delta}
      WHERE id = ${productId}::uuid AND on_hand::bigint + ${delta} BETWEEN 0 AND ${max} RETURNING on_hand`,
      em,
    );
    return rows.length ? Number(rows[0].on_hand) : null;
  }

  async insertMovement(
    em: EntityManager,
    m: Omit<StockMovementRecord, 'seq' | 'createdAt' | 'orderId'> & { orderId?: string | null },
  ): Promise<StockMovementRecord> {
    const [row] = await this.run(
      sql`INSERT INTO stock_movements (id, product_id, delta, reason, resulting_on_hand, actor_id, order_id)
      VALUES (${m.id}::uuid, ${m.productId}::uuid, ${m.delta}, ${m.reason}, ${m.resultingOnHand}, ${m.actorId}::uuid, ${m.orderId ?? null}) RETURNING *`,
      em,
    );
    return toMovement(row);
  }

  /** A product's movements, newest first, after the movement at `afterSeq`. */
  async movements(productId: string, limit: number, afterSeq?: string): Promise<StockMovementRecord[]> {
    const rows = await this.run(sql`SELECT * FROM stock_movements WHERE product_id = ${productId}::uuid
      ${afterSeq ? sql`AND seq < ${afterSeq}::bigint` : raw('')} ORDER BY seq DESC LIMIT ${limit}`);
    return rows.map(toMovement);
  }

  async countMovements(productId: string): Promise<number> {
    const [row] = await this.run<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM stock_movements WHERE product_id = ${productId}::uuid`,
    );
    return Number(row.n);
  }

  /** Archives once; returns false when the product was archived already (or does not exist). */
  async archive(em: EntityManager, productId: string): Promise<boolean> {
    const rows = await this.run(
      sql`UPDATE products SET archived_at = now(), updated_at = now()
      WHERE id = ${productId}::uuid AND archived_at IS NULL RETURNING id`,
      em,
    );
    return rows.length > 0;
  }

  /** Up to `n` distinct random products that can be sold now, excluding `exclude` (deals). */
  async randomAvailable(n: number, exclude: readonly string[] = []): Promise<string[]> {
    if (n <= 0) return [];
    const rows = await this.run<{ id: string }>(sql`SELECT p.id FROM ${PRODUCTS}
      WHERE p.archived_at IS NULL AND ${AVAILABLE} > 0
        ${exclude.length ? sql`AND p.id <> ALL(ARRAY[${[...exclude]}]::uuid[])` : raw('')}
      ORDER BY random() LIMIT ${n}`);
    return rows.map((r) => r.id);
  }
}
