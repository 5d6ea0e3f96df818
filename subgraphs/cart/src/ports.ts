import DataLoader from 'dataloader';
import { Bus, commandPort } from '@shop/kernel';
import type { CommandProduct } from '@shop/product/src/service/catalog.service';

/** What `product.get` answers, as the product subgraph declares it (the cart does not use the sku). */
export type ProductInfo = Omit<CommandProduct, 'sku'>;

export interface HoldLine {
  productId: string;
  quantity: number;
}

/**
 * The product subgraph's stock commands (NATS request/reply). Holds are rows in the product store; this subgraph
 * never touches its tables. Coded errors (NOT_FOUND, INSUFFICIENT_STOCK { productId, available }) come back as AppError.
 */
export interface ProductPort {
  /**
   * Sets this cart's hold on one product to `quantity` (0 releases) and moves ALL the cart's holds to `expiresAt`, which
   * the product store clamps to the cart's absolute hold lifetime (`expiresAt` in the answer: the deadline set). Idempotent.
   */
  hold(req: {
    cartId: string;
    productId: string;
    quantity: number;
    expiresAt: string;
  }): Promise<{ productId: string; quantity: number; available: number; expiresAt?: string }>;
  /**
   * Sets several holds at once, capped by what is available (never refuses for stock); `releaseCartId`'s holds are
   * released in the same transaction and do not count against availability (cart merge).
   */
  setHolds(req: { cartId: string; expiresAt: string; lines: HoldLine[]; releaseCartId?: string }): Promise<{
    lines: { productId: string; requested: number; held: number; available: number }[];
    expiresAt?: string;
  }>;
  /** Releases every hold of the cart. Idempotent. */
  release(req: { cartId: string }): Promise<{ released: number }>;
  /** Catalog data for pricing; unknown ids are left out. */
  get(req: { ids: string[] }): Promise<ProductInfo[]>;
}

export const PRODUCT_COMMANDS = {
  hold: 'product.hold',
  setHolds: 'product.holds.set',
  release: 'product.release',
  get: 'product.get',
} as const;

export function natsProductPort(bus: Bus, timeoutMs = 5000): ProductPort {
  return commandPort<ProductPort>(bus, PRODUCT_COMMANDS, timeoutMs);
}

/** Most ids in one `product.get`: the reply stays a modest NATS message. */
const MAX_IDS_PER_GET = 200;

/**
 * `get` batched across callers: the lookups of one event-loop turn go out as ONE `product.get` for the union of their
 * ids (DataLoader, no cache: every turn reads current prices). A crowd subscribing at once — 10,000 countdowns
 * re-subscribing after a gateway restart — prices its carts with a handful of requests instead of one each, which
 * the product subgraph could not answer before the request timeout. A failed request fails each caller in it.
 */
export function batchedProductGets(port: ProductPort): ProductPort {
  const loader = new DataLoader<string, ProductInfo | null>(
    async (ids) => {
      // Without a cache DataLoader keeps repeated keys: each id is asked for once.
      const found = new Map((await port.get({ ids: [...new Set(ids)] })).map((p) => [p.id, p]));
      return ids.map((id) => found.get(id) ?? null);
    },
    { cache: false, maxBatchSize: MAX_IDS_PER_GET },
  );
  return {
    hold: (req) => port.hold(req),
    setHolds: (req) => port.setHolds(req),
    release: (req) => port.release(req),
    async get({ ids }) {
      const out: ProductInfo[] = [];
      for (const r of await loader.loadMany(ids)) {
        if (r instanceof Error) throw r;
        if (r) out.push(r);
      }
      return out;
    },
  };
}
