import { randomUUID } from 'node:crypto';
import type { Config, Logger, Redis } from '@shop/kernel';
import type { CatalogStore, ProductRecord } from '../store/catalog.store';

/** The deal list as cached in Redis (JSON). Prices are not stored: a deal always discounts the product's current price. */
export interface StoredDeals {
  /** New for every full generation; `version` counts top-ups within it. */
  generationId: string;
  version: number;
  generatedAt: string;
  expiresAt: string;
  discountPercent: number;
  productIds: string[];
  /** Last time the list was generated or topped up. */
  checkedAt: string;
}

export interface DealRecord {
  product: ProductRecord;
  discountPercent: number;
  expiresAt: Date;
}

export interface CurrentDeals {
  generationId: string;
  deals: DealRecord[];
  byProductId: Map<string, DealRecord>;
}

/** Loads products by id in the order asked (a request's DataLoader, so the list costs one SQL statement per request). */
export type ProductLoad = (ids: string[]) => Promise<(ProductRecord | null)[]>;

export interface DealsOptions {
  /** Lifetime of the regeneration lock; a crashed winner's lock frees itself after it. */
  lockMs: number;
  /** How long a request waits for another instance's regeneration before giving up (> lockMs, so waiters can take over). */
  waitMs: number;
  pollMs: number;
  /** A list shorter than DEALS_COUNT (too few products were in stock) is retried at most this often. */
  shortListRetryMs: number;
  /** Called after this instance stored a new or topped-up list (carts drop the deals they cached). */
  onChanged?: () => void;
}

const DEFAULTS: DealsOptions = { lockMs: 5000, waitMs: 8000, pollMs: 20, shortListRetryMs: 60_000 };

const KEY = 'deals:current';
const LOCK = 'deals:lock';
// Deletes the lock only if we still own it (it may have expired and been taken by another instance).
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

const dealable = (p: ProductRecord | null | undefined): p is ProductRecord => !!p && !p.archivedAt && p.available > 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Today's deals: DEALS_COUNT distinct products that can be sold now, chosen at random, DEALS_DISCOUNT_PERCENT off,
 * shared by every instance through Redis for DEALS_TTL_SECONDS.
 *
 * Regeneration happens exactly once however many requests find the list missing: one request wins a Redis lock
 * (SET NX PX) and generates; the others poll for its result instead of generating too.
 *
 * Products that sell out or are archived after generation are dropped on read (a shopper is never offered what
 * cannot be bought) and the list is topped up with other random in-stock products under the same lock, keeping the
 * rest of the list and its expiry. So the contract's "exactly DEALS_COUNT in-stock products (fewer only if fewer
 * exist)" holds at every read, and the list stays stable for everything that is still valid.
 */
export class DealsService {
  /** Full generations / top-ups performed by this instance (observability and tests). */
  generations = 0;
  topUps = 0;
  private readonly opts: DealsOptions;

  constructor(
    private readonly redis: Redis,
    private readonly store: CatalogStore,
    private readonly config: Pick<Config, 'dealsCount' | 'dealsDiscountPercent' | 'dealsTtlSeconds'>,
    private readonly logger: Logger,
    opts: Partial<DealsOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /**
   * The valid deals now. One Redis read in the steady state (none when the caller passes what it just `read`);
   * `load` fetches the listed products.
   */
  async current(load: ProductLoad, stored?: StoredDeals | null): Promise<CurrentDeals> {
    let state = (stored === undefined ? await this.read() : stored) ?? (await this.refresh(null));
    for (let attempt = 0; ; attempt++) {
      const products = await load(state.productIds);
      const valid = products.filter(dealable);
      const stale = valid.length < state.productIds.length;
      const short =
        state.productIds.length < this.config.dealsCount &&
        Date.now() - Date.parse(state.checkedAt) > this.opts.shortListRetryMs;
      if ((!stale && !short) || attempt >= 1) return this.view(state, valid);
      state = await this.refresh(state);
    }
  }

  private view(state: StoredDeals, products: ProductRecord[]): CurrentDeals {
    const expiresAt = new Date(state.expiresAt);
    const deals = products.map((product) => ({ product, discountPercent: state.discountPercent, expiresAt }));
    return { generationId: state.generationId, deals, byProductId: new Map(deals.map((d) => [d.product.id, d])) };
  }

  async read(): Promise<StoredDeals | null> {
    const raw = await this.redis.get(KEY);
    if (!raw) return null;
    try {
      const s = JSON.parse(raw) as StoredDeals;
      if (Array.isArray(s.productIds) && typeof s.generationId === 'string' && Number.isInteger(s.discountPercent))
        return s;
    } catch {
      /* unreadable: regenerated below */
    }
    this.logger.warn('unreadable deals cache entry; regenerating');
    return null;
  }

  /**
   * Replaces `seen` (null = the list is missing) exactly once across all instances. Whoever holds the lock re-reads
   * the key first (another instance may have finished just before), then generates or tops up; everyone else polls
   * until the key no longer holds `seen`.
   */
  private async refresh(seen: StoredDeals | null): Promise<StoredDeals> {
    const settled = (cur: StoredDeals | null): cur is StoredDeals =>
      !!cur && (!seen || cur.generationId !== seen.generationId || cur.version !== seen.version);
    const deadline = Date.now() + this.opts.waitMs;
    const token = randomUUID();
    while (Date.now() < deadline) {
      if (await this.redis.set(LOCK, token, 'PX', this.opts.lockMs, 'NX')) {
        try {
          const cur = await this.read();
          if (settled(cur)) return cur;
          return cur ? await this.topUp(cur) : await this.generate();
        } finally {
          await this.redis
            .eval(RELEASE, 1, LOCK, token)
            .catch((err) => this.logger.warn({ err }, 'could not release the deals lock'));
        }
      }
      await sleep(this.opts.pollMs);
      const cur = await this.read();
      if (settled(cur)) return cur;
    }
    throw new Error('Timed out waiting for the deals to be generated');
  }

  private async generate(): Promise<StoredDeals> {
    const productIds = await this.store.randomAvailable(this.config.dealsCount);
    const now = Date.now();
    const ttlMs = this.config.dealsTtlSeconds * 1000;
    const state: StoredDeals = {
      generationId: randomUUID(),
      version: 1,
      generatedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttlMs).toISOString(),
      discountPercent: this.config.dealsDiscountPercent,
      productIds,
      checkedAt: new Date(now).toISOString(),
    };
    await this.redis.set(KEY, JSON.stringify(state), 'PX', ttlMs);
    this.opts.onChanged?.();
    this.generations++;
    this.logger.info({ generationId: state.generationId, count: productIds.length }, 'deals generated');
    return state;
  }

  /** Drops listed products that can no longer be sold and fills the gap; the expiry stays that of the generation. */
  private async topUp(cur: StoredDeals): Promise<StoredDeals> {
    const expiresAt = Date.parse(cur.expiresAt);
    if (expiresAt - Date.now() < 1000) return this.generate();
    const byId = new Map((await this.store.productsByIds(cur.productIds)).map((p) => [p.id, p]));
    const keep = cur.productIds.filter((id) => dealable(byId.get(id)));
    const extra = await this.store.randomAvailable(this.config.dealsCount - keep.length, keep);
    const next: StoredDeals = {
      ...cur,
      version: cur.version + 1,
      productIds: [...keep, ...extra],
      checkedAt: new Date().toISOString(),
    };
    await this.redis.set(KEY, JSON.stringify(next), 'PXAT', expiresAt);
    this.opts.onChanged?.();
    this.topUps++;
    this.logger.info(
      { generationId: cur.generationId, dropped: cur.productIds.length - keep.length, added: extra.length },
      'deals topped up',
    );
    return next;
  }
}
