import type { Bus } from '@shop/kernel';
import type { CatalogService, CommandProduct } from './service/catalog.service';

/** Request/reply commands other subgraphs send over NATS (they never read this subgraph's tables). */
export interface ProductCommands {
  /** Which of these ids are products (archived included). Media checks it before attaching images. */
  'product.exists': { req: { ids: string[] }; res: { existing: string[] } };
  /** What carts and orders need: price, currency, availability now, archived flag. Unknown ids are left out. */
  'product.get': { req: { ids: string[] }; res: CommandProduct[] };
}

export function serveCommands(bus: Bus, catalog: CatalogService): void {
  bus.serve<ProductCommands['product.exists']['req'], ProductCommands['product.exists']['res']>('product.exists', async (req) => ({
    existing: await catalog.existing(req?.ids),
  }));
  bus.serve<ProductCommands['product.get']['req'], ProductCommands['product.get']['res']>('product.get', (req) => catalog.getForCommand(req?.ids));
}
