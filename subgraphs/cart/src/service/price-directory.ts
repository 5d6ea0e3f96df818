import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import type { ProductInfo, ProductPort } from '../ports';

/** What a checkout prices a line with: the product as `product.get` answered, less availability (it moves with every sale). */
export type PricedProduct = Omit<ProductInfo, 'available'>;

export interface PriceDirectoryOptions {
  /** CART_PRICE_CACHE_SECONDS in ms: an entry older than this is asked again (0: every checkout asks). */
  maxAgeMs: number;
  /** Entries kept at most; the least recently used go first. */
  maxEntries: number;
}

export const DEFAULT_PRICE_DIRECTORY: PriceDirectoryOptions = { maxAgeMs: 60_000, maxEntries: 10_000 };

/**
 * The product port, remembering the prices, deals, names and archived flags `product.get` answered, so that a
 * checkout (`cart.checkout.begin`, on the path of every order) is priced without asking the product subgraph again.
 *
 * An entry is dropped at every sign that it moved: the `product.updated` and `product.archived` events, the product
 * subgraph's `product.prices` notice (a new deal list; a commit refused for a stale price), a lost NATS connection
 * (something may have been missed), and age. It can still be behind by a message's flight. That is safe because the
 * product's commit checks the charged prices under its lock: a stale price is refused (PRICE_CHANGED), never
 * charged, and the refusal's notice drops it here, so the buyer's retry is priced afresh.
 *
 * Cart views keep asking (`get`): they show availability, and every answer refreshes the entries.
 */
export class PriceDirectory implements ProductPort {
  /** Age and size limits are lru-cache's: an entry past `maxAgeMs` (counted from when it was asked for) is not used. */
  private readonly entries: LRUCache<string, PricedProduct>;
  /** Bumped by every drop: an answer to a request sent before it is not remembered (it may predate the change). */
  private epoch = 0;
  /** Checkouts priced from the directory, and those that asked (tests, logs). */
  hits = 0;
  misses = 0;

  constructor(
    private readonly port: ProductPort,
    private readonly opts: PriceDirectoryOptions = DEFAULT_PRICE_DIRECTORY,
  ) {
    this.entries = new LRUCache({ max: opts.maxEntries, ttl: opts.maxAgeMs || undefined });
  }

  hold: ProductPort['hold'] = (req) => this.port.hold(req);
  setHolds: ProductPort['setHolds'] = (req) => this.port.setHolds(req);
  release: ProductPort['release'] = (req) => this.port.release(req);

  /** `product.get`, remembering the answer. */
  async get(req: { ids: string[] }): Promise<ProductInfo[]> {
    const epoch = this.epoch;
    // lru-cache measures age on performance.now(); the age counts from the question, not the answer.
    const start = performance.now();
    const list = await this.port.get(req);
    if (epoch === this.epoch && this.opts.maxAgeMs > 0)
      for (const { available: _available, ...info } of list) this.entries.set(info.id, info, { start });
    return list;
  }

  /** The products a checkout prices with: remembered when every one is there and fresh enough, else asked for. */
  async priced(ids: string[]): Promise<PricedProduct[]> {
    const found: PricedProduct[] = [];
    for (const id of ids) {
      const info = this.entries.get(id);
      if (!info) {
        this.misses++;
        return this.get({ ids });
      }
      found.push(info);
    }
    this.hits++;
    return found;
  }

  /** Forgets these products (all when `ids` is absent). */
  drop(ids?: readonly string[]): void {
    this.epoch++;
    if (!ids) this.entries.clear();
    else for (const id of ids) this.entries.delete(id);
  }

  /** Whether a checkout would price this product without asking (tests). */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
