import type { MikroORM } from '@mikro-orm/postgresql';
import { buildFederatedSchema, createOrm, defineSubgraph, migrator, readinessOf, scrapeGauge } from '@shop/kernel';
import type { Bus, Config, Logger, OutboxRelay, Redis, StartedService, SubgraphModule } from '@shop/kernel';
import { PRICES_NOTICE, serveCommands } from './events/commands';
import { PRODUCT_MIGRATIONS } from './migrations';
import { CategoryResolver } from './resolvers/category.resolver';
import { makeContext, ProductContext } from './resolvers/context';
import {
  DealResolver,
  ProductConnectionResolver,
  productReferenceResolvers,
  ProductResolver,
} from './resolvers/product.resolver';
import { StockResolver } from './resolvers/stock.resolver';
import { CatalogService } from './service/catalog.service';
import { DealsOptions, DealsService } from './service/deals.service';
import { StockHoldsService } from './service/stock-holds.service';
import { CatalogStore } from './store/catalog.store';
import { PRODUCT_ENTITIES } from './store/entities';
import { StockStore } from './store/stock.store';

export interface StartedProduct extends StartedService {
  orm: MikroORM;
  redis: Redis;
  bus: Bus;
  relay: OutboxRelay;
  store: CatalogStore;
  catalog: CatalogService;
  deals: DealsService;
  holds: StockHoldsService;
}

/** Extras beyond the kernel's ServiceDeps, for tests and benchmarks. */
export interface ProductModuleOptions {
  /** Called with every SQL statement the subgraph's ORM runs (counts round trips). */
  onQuery?: (sql: string) => void;
  /** Deals lock and polling timings. */
  deals?: Partial<DealsOptions>;
  /**
   * false: do not serve the stock commands (hold, holds.set, release, commit, uncommit), for tests whose in-test
   * double serves them on the same bus (two servers in one queue group would split the requests). Default true.
   */
  stockCommands?: boolean;
}

function buildSchema(instances: object[] = []) {
  return buildFederatedSchema(
    {
      resolvers: [ProductResolver, ProductConnectionResolver, DealResolver, CategoryResolver, StockResolver],
      instances,
    },
    productReferenceResolvers,
  );
}

/** Opens the product database (seed, scripts). */
export function openOrm(config: Config, logger: Logger, onQuery?: (sql: string) => void) {
  return createOrm({
    config,
    service: 'product',
    entities: PRODUCT_ENTITIES,
    migrations: PRODUCT_MIGRATIONS,
    logger,
    onQuery,
  });
}

/** The product subgraph: catalog, categories, stock with history and cart holds, search, deals. PostgreSQL + Redis (deals) + NATS. */
export function createProductSubgraph(options: ProductModuleOptions = {}): SubgraphModule<StartedProduct> {
  return defineSubgraph<StartedProduct>({ name: 'product', buildSchema, migrate: migrator(openOrm) }, async (run) => {
    const { config, logger } = run.deps;
    const redis = run.openRedis();
    const { orm, bus, relay } = await run.openOutbox(() => openOrm(config, logger, options.onQuery));
    const store = new CatalogStore(orm);
    const stock = new StockStore();
    const catalog = new CatalogService(orm, store, stock, relay);
    // Carts cache prices and deals (subgraphs/cart/src/service/price-directory.ts): a new deal list, or a commit
    // refused for a price it was charged at, tells them which to drop (`product.prices`; catalog edits are events).
    const stale = (productIds?: string[]) => bus.notify(PRICES_NOTICE, productIds ? { productIds } : {});
    const deals = new DealsService(redis, store, config, logger, { onChanged: () => stale(), ...options.deals });
    const holds = new StockHoldsService(
      orm,
      store,
      stock,
      relay,
      { holdMaxSeconds: config.cartLimits.holdMaxSecondsUser },
      { deals: () => deals.read(), stale },
    );
    serveCommands(bus, catalog, deals, options.stockCommands === false ? null : holds);
    run.add(reportHolds(orm, stock));

    const resolvers = [new ProductResolver(catalog), new CategoryResolver(catalog), new StockResolver(catalog)];
    const server = await run.serve<ProductContext>(await buildSchema(resolvers), {
      context: (base) => makeContext(base, catalog, deals),
      readiness: readinessOf({ orm, redis, bus }),
    });
    return { url: server.url, orm, redis, bus, relay, store, catalog, deals, holds };
  });
}

/** `shop_stock_holds_active` and `shop_stock_held_units` at every scrape (carts' unexpired holds). */
function reportHolds(orm: MikroORM, stock: StockStore): () => void {
  const read = () => stock.holdTotals(orm.em.fork());
  const holds = scrapeGauge({
    name: 'shop_stock_holds_active',
    help: 'Unexpired stock holds (one per cart and product) at scrape time.',
    labelNames: [] as const,
  }).add(async () => [[{}, (await read()).holds]]);
  const units = scrapeGauge({
    name: 'shop_stock_held_units',
    help: 'Units held by unexpired stock holds at scrape time (not available to sell).',
    labelNames: [] as const,
  }).add(async () => [[{}, (await read()).units]]);
  return () => {
    holds();
    units();
  };
}

const productSubgraph = createProductSubgraph();
export default productSubgraph;
