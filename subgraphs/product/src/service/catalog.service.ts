import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ForeignKeyConstraintViolationException, LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import {
  badInput,
  Connection,
  decodeCursor,
  Identity,
  isUuid,
  notFound,
  OutboxRelay,
  pageSize,
  toConnection,
} from '@shop/kernel';
import { emitProductEvent, ProductEventPayloads } from '../events/payloads';
import {
  CatalogStore,
  CategoryFacetRecord,
  CategoryRecord,
  KeysetPosition,
  ProductFilterSpec,
  ProductRecord,
  SortName,
  StockMovementRecord,
} from '../store/catalog.store';
import { CategoryEntity, ProductEntity } from '../store/entities';
import { StockStore } from '../store/stock.store';
import type { DealsService } from './deals.service';
import { searchTerms } from './search';
import {
  LIMITS,
  normalizeCurrency,
  normalizeDescription,
  normalizeLine,
  normalizeSku,
  normalizeSlug,
  priceBound,
  requireDelta,
  requirePrice,
  requireStock,
} from './validation';

export interface ProductFilterInput {
  search?: string | null;
  category?: string | null;
  minPrice?: number | null;
  maxPrice?: number | null;
  inStock?: boolean | null;
}

export interface CreateProductInput {
  sku: string;
  name: string;
  description: string;
  category: string;
  price: number;
  currency?: string | null;
  stock: number;
}

export interface UpdateProductInput {
  name?: string | null;
  description?: string | null;
  category?: string | null;
  price?: number | null;
}

/** A page plus lazily computed extras: the connection's field resolvers call them only when selected. */
export interface ProductPage extends Connection<ProductRecord> {
  facets: () => Promise<{ categories: CategoryFacetRecord[] }>;
}

export interface StockMovementView {
  id: string;
  delta: number;
  reason: string;
  resultingStock: number;
  actorId: string | null;
  orderId: string | null;
  createdAt: Date;
}

export type StockMovementPage = Connection<StockMovementView>;

// Cursor keys as the database prints them; anything else is a forged or foreign cursor.
const CURSOR_KEY: Record<SortName, RegExp> = {
  RELEVANCE: /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i,
  PRICE_ASC: /^\d{1,10}$/,
  PRICE_DESC: /^\d{1,10}$/,
  NEWEST: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/,
  NAME: /^[^\u0000]{0,1000}$/s,
};

const toView = (m: StockMovementRecord): StockMovementView => ({
  id: m.id,
  delta: m.delta,
  reason: m.reason,
  resultingStock: m.resultingOnHand,
  actorId: m.actorId,
  orderId: m.orderId,
  createdAt: m.createdAt,
});

/** The catalog's business rules: validation, product lifecycle, stock changes with history, listing. */
export class CatalogService {
  constructor(
    private readonly orm: MikroORM,
    readonly store: CatalogStore,
    private readonly stock: StockStore,
    private readonly relay: OutboxRelay,
  ) {}

  /** Runs `fn` in one transaction, then wakes the outbox relay so its events leave promptly. */
  private async tx<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    const result = await this.orm.em.fork().transactional(fn);
    this.relay.kick();
    return result;
  }

  // ---- reads (batched by the resolvers' DataLoaders) ----

  /** Unknown and malformed ids are simply absent from the result. */
  productsByIds(ids: readonly string[]): Promise<ProductRecord[]> {
    return this.store.productsByIds(ids.filter(isUuid));
  }

  categoriesBySlugs(slugs: readonly string[]): Promise<CategoryRecord[]> {
    return this.store.categoriesBySlugs(slugs.filter((s) => typeof s === 'string' && s.length <= LIMITS.slugMax));
  }

  productCounts(slugs: readonly string[]): Promise<Map<string, number>> {
    return this.store.productCounts(slugs);
  }

  categories(): Promise<CategoryRecord[]> {
    return this.store.allCategories();
  }

  /**
   * Validates the filter and sort and returns one keyset page. Sort defaults to RELEVANCE when searching, else
   * NEWEST. RELEVANCE without a search is refused; a search without any word (blank, punctuation) filters nothing
   * and then orders like NEWEST.
   */
  async listProducts(args: {
    first?: number | null;
    after?: string | null;
    filter?: ProductFilterInput | null;
    sort?: SortName | null;
    /** What the client selected besides the page: those aggregates start at once, alongside the page query. */
    selected?: { totalCount?: boolean; facets?: boolean };
  }): Promise<ProductPage> {
    const first = pageSize(args.first);
    const input = args.filter ?? {};
    const filter: ProductFilterSpec = {};
    const searching = input.search !== null && input.search !== undefined;
    if (searching) filter.terms = searchTerms(input.search!) ?? undefined;
    // A blank category means "all categories", like a blank search.
    if (input.category?.trim()) filter.category = input.category.trim();
    filter.minPrice = priceBound(input.minPrice, 'minPrice');
    filter.maxPrice = priceBound(input.maxPrice, 'maxPrice');
    if (filter.minPrice !== undefined && filter.maxPrice !== undefined && filter.minPrice > filter.maxPrice) {
      throw badInput('minPrice', 'minPrice must not be greater than maxPrice');
    }
    if (input.inStock !== null && input.inStock !== undefined) filter.inStock = input.inStock;

    if (args.sort === 'RELEVANCE' && !searching) throw badInput('sort', 'RELEVANCE sorting needs a search');
    let sort: SortName = args.sort ?? (filter.terms ? 'RELEVANCE' : 'NEWEST');
    if (sort === 'RELEVANCE' && !filter.terms) sort = 'NEWEST';

    const after = this.decodeProductCursor(args.after, sort);

    // Aggregates run only when selected, on their own connections while the page query runs.
    let facets: Promise<CategoryFacetRecord[]> | undefined;
    let count: Promise<number> | undefined;
    const categoryFacets = () => (facets ??= this.store.categoryFacets(filter));
    const total = () =>
      (count ??= args.selected?.facets
        ? // Facets count every category under the other filters, so they hold the total too: one scan instead of two.
          categoryFacets().then((all) =>
            filter.category === undefined
              ? all.reduce((n, f) => n + f.count, 0)
              : (all.find((f) => f.slug === filter.category)?.count ?? 0),
          )
        : this.store.countProducts(filter));
    // Marked handled here: if the page query fails first, nobody awaits them.
    if (args.selected?.facets) categoryFacets().catch(() => undefined);
    if (args.selected?.totalCount) total().catch(() => undefined);

    const rows = await this.store.listProducts(filter, sort, first + 1, after);
    return {
      ...toConnection(rows, first, {
        cursor: (row) => [sort, row.sortKey, row.id],
        node: ({ sortKey: _sortKey, ...node }) => node,
        count: total,
      }),
      facets: async () => ({ categories: await categoryFacets() }),
    };
  }

  /** Cursors are `[sort, key, id]`; one from another sort order (or tampered with) is a BAD_USER_INPUT on `after`. */
  private decodeProductCursor(after: string | null | undefined, sort: SortName): KeysetPosition | undefined {
    const key = decodeCursor(after, 3);
    if (!key) return undefined;
    const [cursorSort, value, id] = key;
    if (cursorSort !== sort) throw badInput('after', 'after belongs to a different sort order');
    if (typeof value !== 'string' || !CURSOR_KEY[sort].test(value) || !isUuid(id))
      throw badInput('after', 'after is not a valid cursor');
    return { key: value, id };
  }

  // ---- categories ----

  async createCategory(rawSlug: string, rawName: string): Promise<CategoryRecord> {
    const slug = normalizeSlug(rawSlug, 'slug');
    const name = normalizeLine(rawName, 'name', LIMITS.categoryNameMax);
    try {
      await this.tx(async (em) => {
        em.create(CategoryEntity, { slug, name });
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException)
        throw badInput('slug', `A category with slug "${slug}" already exists`);
      throw err;
    }
    return { slug, name, productCount: 0 };
  }

  private async requireCategory(em: EntityManager, raw: string): Promise<string> {
    const slug = raw.trim();
    const found = slug.length <= LIMITS.slugMax ? await this.store.categoriesBySlugs([slug], em) : [];
    if (!found.length) throw badInput('category', `Unknown category "${slug.slice(0, LIMITS.slugMax)}"`);
    return slug;
  }

  // ---- product lifecycle ----

  /** Creates a product; its initial stock is the first entry of its stock history. Duplicate sku → BAD_USER_INPUT on sku. */
  async createProduct(identity: Identity, input: CreateProductInput): Promise<ProductRecord> {
    const sku = normalizeSku(input.sku);
    const name = normalizeLine(input.name, 'name', LIMITS.nameMax);
    const description = normalizeDescription(input.description);
    const priceAmount = requirePrice(input.price);
    const currency = normalizeCurrency(input.currency);
    const stock = requireStock(input.stock);
    const actorId = identity.userId ?? null;
    try {
      const id = await this.tx(async (em) => {
        const category = await this.requireCategory(em, input.category);
        const product = em.create(ProductEntity, {
          sku,
          name,
          description,
          categorySlug: category,
          priceAmount,
          currency,
          onHand: stock,
        });
        // Flush now: the unique sku and the category FK are checked here, and the movement below references the row.
        await em.flush();
        await this.store.insertMovement(em, {
          id: randomUUID(),
          productId: product.id,
          delta: stock,
          reason: 'Initial stock',
          resultingOnHand: stock,
          actorId,
        });
        // product.created carries the opening stock; no separate stock_adjusted event for it.
        emitProductEvent(em, 'product.created', {
          productId: product.id,
          sku,
          name,
          category,
          priceAmount,
          currency,
          onHand: stock,
          actorId,
        });
        return product.id;
      });
      return this.mustGet(id);
    } catch (err) {
      // Two admins creating the same sku at once: the loser's insert hits the unique constraint.
      if (err instanceof UniqueConstraintViolationException)
        throw badInput('sku', `A product with sku "${sku}" already exists`);
      // The category was deleted between our check and the insert.
      if (err instanceof ForeignKeyConstraintViolationException) throw badInput('category', 'Unknown category');
      throw err;
    }
  }

  /** Changes the given fields (null or omitted = unchanged). No change, no event. */
  async updateProduct(identity: Identity, id: string, input: UpdateProductInput): Promise<ProductRecord> {
    if (!isUuid(id)) throw notFound('Product');
    const name = input.name == null ? undefined : normalizeLine(input.name, 'name', LIMITS.nameMax);
    const description = input.description == null ? undefined : normalizeDescription(input.description);
    const priceAmount = input.price == null ? undefined : requirePrice(input.price);
    try {
      await this.tx(async (em) => {
        const product = await em.findOne(ProductEntity, id, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!product) throw notFound('Product');
        const category = input.category == null ? undefined : await this.requireCategory(em, input.category);
        const changed: ProductEventPayloads['product.updated']['changed'] = [];
        if (name !== undefined && name !== product.name) {
          product.name = name;
          changed.push('name');
        }
        if (description !== undefined && description !== product.description) {
          product.description = description;
          changed.push('description');
        }
        if (category !== undefined && category !== product.categorySlug) {
          product.categorySlug = category;
          changed.push('category');
        }
        if (priceAmount !== undefined && priceAmount !== product.priceAmount) {
          product.priceAmount = priceAmount;
          changed.push('price');
        }
        if (!changed.length) return;
        emitProductEvent(em, 'product.updated', {
          productId: id,
          changed,
          name: product.name,
          category: product.categorySlug,
          priceAmount: product.priceAmount,
          currency: product.currency,
          actorId: identity.userId ?? null,
        });
      });
    } catch (err) {
      if (err instanceof ForeignKeyConstraintViolationException) throw badInput('category', 'Unknown category');
      throw err;
    }
    return this.mustGet(id);
  }

  /** Archives: the product leaves lists, search, facets and deals but still resolves by id. Idempotent. */
  async deleteProduct(identity: Identity, id: string): Promise<boolean> {
    if (!isUuid(id)) throw notFound('Product');
    return this.tx(async (em) => {
      const [product] = await this.store.productsByIds([id], em);
      if (!product) throw notFound('Product');
      if (await this.store.archive(em, id)) {
        emitProductEvent(em, 'product.archived', { productId: id, sku: product.sku, actorId: identity.userId ?? null });
      }
      return true;
    });
  }

  // ---- stock ----

  /**
   * Adds `delta` to the on-hand stock and records the movement with its actor and resulting level, in one
   * transaction under the product's row lock (the lock the stock commands take too). A removal may take only stock
   * that no cart holds: on hand never drops below the unexpired held units, otherwise shoppers' holds would promise
   * units that do not exist (refused with BAD_USER_INPUT on delta; the holds lapse or are released first).
   */
  async adjustStock(
    identity: Identity,
    productId: string,
    rawDelta: number,
    rawReason: string,
  ): Promise<ProductRecord> {
    if (!isUuid(productId)) throw notFound('Product');
    const delta = requireDelta(rawDelta);
    const reason = normalizeLine(rawReason, 'reason', LIMITS.reasonMax);
    const actorId = identity.userId ?? null;
    await this.tx(async (em) => {
      const [locked] = await this.stock.lockProducts(em, [productId]);
      if (!locked) throw notFound('Product');
      if (locked.onHand + delta < 0)
        throw badInput('delta', `Only ${locked.onHand} on hand: removing ${-delta} would make stock negative`);
      if (delta < 0) {
        const { held } = await this.stock.decisionState(em, [productId], null);
        const free = Math.max(locked.onHand - (held.get(productId)?.others ?? 0), 0);
        if (-delta > free) {
          throw badInput(
            'delta',
            `Only ${free} of the ${locked.onHand} on hand are not held in shoppers' carts: removing ${-delta} would take held stock`,
          );
        }
      }
      const onHand = await this.store.addStock(em, productId, delta, LIMITS.stockMax);
      if (onHand === null) throw badInput('delta', `Stock cannot exceed ${LIMITS.stockMax}`);
      const movement = await this.store.insertMovement(em, {
        id: randomUUID(),
        productId,
        delta,
        reason,
        resultingOnHand: onHand,
        actorId,
      });
      emitProductEvent(em, 'product.stock_adjusted', {
        productId,
        movementId: movement.id,
        delta,
        reason,
        onHand,
        actorId,
      });
    });
    return this.mustGet(productId);
  }

  /** A product's stock movements, newest first (keyset on the movement sequence). Unknown product → NOT_FOUND. */
  async stockHistory(
    productId: string,
    firstArg: number | null | undefined,
    after: string | null | undefined,
  ): Promise<StockMovementPage> {
    const first = pageSize(firstArg);
    if (!isUuid(productId) || !(await this.store.existingIds([productId])).length) throw notFound('Product');
    const cursor = decodeCursor(after, 1);
    if (cursor && (typeof cursor[0] !== 'string' || !/^\d{1,19}$/.test(cursor[0])))
      throw badInput('after', 'after is not a valid cursor');
    const rows = await this.store.movements(productId, first + 1, cursor?.[0] as string | undefined);
    return toConnection(rows, first, {
      cursor: (m) => [m.seq],
      node: toView,
      count: () => this.store.countMovements(productId),
    });
  }

  private async mustGet(id: string): Promise<ProductRecord> {
    const [p] = await this.store.productsByIds([id]);
    if (!p) throw notFound('Product');
    return p;
  }

  // ---- internal commands ----

  /** `product.exists`: which of these ids are products (archived included). */
  async existing(ids: unknown): Promise<string[]> {
    return this.store.existingIds(boundedIds(ids));
  }

  /**
   * `product.get`: what carts and orders need to price and check a product, in the order asked, with the current
   * deal's percentage (0 when the product is not on today's deal list).
   */
  async getForCommand(ids: unknown, deals: DealsService): Promise<CommandProduct[]> {
    const wanted = boundedIds(ids);
    // The deal list first (one Redis read), then the wanted products and the listed ones in ONE statement: every
    // cart change and checkout asks this, and a second statement for the deals cost each of them a round trip.
    const stored = await deals.read();
    const asked = new Set([...wanted, ...(stored?.productIds ?? [])]);
    const byId = new Map((await this.store.productsByIds([...asked])).map((p) => [p.id, p]));
    const current = await deals.current(async (dealIds) => {
      // A list generated or topped up meanwhile may name products not read yet.
      const missing = dealIds.filter((id) => !asked.has(id));
      for (const p of missing.length ? await this.store.productsByIds(missing) : []) byId.set(p.id, p);
      for (const id of missing) asked.add(id);
      return dealIds.map((id) => byId.get(id) ?? null);
    }, stored);
    return wanted
      .map((id) => byId.get(id))
      .filter((p): p is ProductRecord => !!p)
      .map((p) => ({
        id: p.id,
        sku: p.sku,
        name: p.name,
        priceAmount: p.priceAmount,
        currency: p.currency,
        available: p.available,
        archived: !!p.archivedAt,
        discountPercent: current.byProductId.get(p.id)?.discountPercent ?? 0,
      }));
  }
}

export interface CommandProduct {
  id: string;
  sku: string;
  name: string;
  priceAmount: number;
  currency: string;
  /** Units that can be sold now (on hand minus unexpired holds). */
  available: number;
  archived: boolean;
  /** The current deal's percentage off (e.g. 20); 0 when the product is not on today's deal list. */
  discountPercent: number;
}

export const COMMAND_MAX_IDS = 1000;

/** Command input is untrusted JSON: keep well-formed ids only, lower-cased, de-duplicated, at most 1000. */
function boundedIds(ids: unknown): string[] {
  if (!Array.isArray(ids)) throw badInput('ids', 'ids must be an array of product ids');
  if (ids.length > COMMAND_MAX_IDS) throw badInput('ids', `at most ${COMMAND_MAX_IDS} ids per request`);
  return [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
}
