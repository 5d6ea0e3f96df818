import type { Config, Logger } from '@shop/kernel';
import { migrate } from '@shop/kernel';
import { openOrm as openProductOrm } from '../../subgraphs/product/src';
import { seedCatalog } from '../../subgraphs/product/src/seed';
import { seedMedia } from '../../subgraphs/media/src/seed';

export interface SeedReport {
  skipped: boolean;
  products: number;
  categories: number;
  images: number;
}

/**
 * Loads the demo catalog into an empty product database (never touches a non-empty one) and gives each product a
 * generated image. Large catalogs (benchmarks) get images only when asked: generating 100,000 PNGs takes an hour.
 */
export async function seedDemo(
  config: Config,
  logger: Logger,
  opts: { products: number; images?: boolean },
): Promise<SeedReport> {
  const orm = await openProductOrm(config, logger);
  try {
    await migrate(orm, logger);
    const result = await seedCatalog(orm, { products: opts.products });
    let images = 0;
    const wantImages = opts.images ?? opts.products <= 1000;
    if (!result.skipped && wantImages) {
      const products: { id: string; name: string }[] = await orm.em
        .fork()
        .getConnection()
        .execute('SELECT id, name FROM products ORDER BY created_at, id');
      images = await seedMedia(config, logger, products);
    }
    return { skipped: result.skipped, products: result.products, categories: result.categories, images };
  } finally {
    await orm.close();
  }
}
