/**
 * npm run seed [-- --products N] [-- --images | --no-images]: loads the demo catalog (60 products in six categories,
 * each with a generated image) into an empty database. `--products 100000` loads a large catalog for benchmarks.
 */
import { createLogger, loadConfig } from '@shop/kernel';
import { seedDemo } from './lib/seed';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--products');
  const products = i >= 0 ? Number(args[i + 1]) : 60;
  if (!Number.isInteger(products) || products < 1 || products > 1_000_000) {
    console.error('usage: npm run seed [-- --products N (1..1000000)] [--images | --no-images]');
    return 2;
  }
  const images = args.includes('--images') ? true : args.includes('--no-images') ? false : undefined;
  // Scripts log quietly unless LOG_LEVEL says otherwise.
  const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
  const started = Date.now();
  const report = await seedDemo(config, createLogger('seed', config.logLevel), { products, images });
  if (report.skipped) console.log('The catalog is not empty; nothing seeded.');
  else
    console.log(
      `Seeded ${report.products} products in ${report.categories} categories with ${report.images} images in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
    );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
