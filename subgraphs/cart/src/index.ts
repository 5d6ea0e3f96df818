import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Bus, buildFederatedSchema, createRedis, defineSubgraph, readinessOf } from '@shop/kernel';
import type { Redis, StartedService, SubgraphModule, WithPorts } from '@shop/kernel';
import type { ProductNotices } from '@shop/product/src/events/commands';
import type { ProductEventType } from '@shop/product/src/events/payloads';
import { serveCommands } from './events/commands';
import { batchedProductGets, natsProductPort, ProductPort } from './ports';
import {
  cartReferenceResolvers,
  CartResolver,
  CartTimerEventResolver,
  plainTimerEventResolver,
} from './resolvers/cart.resolver';
import { CartContext, makeContext } from './resolvers/context';
import { CartService, CartServiceOptions } from './service/cart.service';
import { CartSweeper, SweeperOptions } from './service/sweeper';
import { TimerHub } from './service/timer';
import { CartStore } from './store/cart.store';

export interface StartedCart extends StartedService {
  redis: Redis;
  bus: Bus;
  store: CartStore;
  carts: CartService;
  hub: TimerHub;
  sweeper: CartSweeper;
}

/** Extras beyond the kernel's ServiceDeps (tests, benchmarks). */
export interface CartModuleOptions extends WithPorts<ProductPort> {
  // `ports` defaults to the product subgraph's NATS commands (ports.ts).
  /** false = do not start the sweeper (tests of lazy expiry start and stop it themselves). */
  sweeper?: boolean;
  sweeperOptions?: Partial<SweeperOptions>;
  service?: Partial<CartServiceOptions>;
}

// `cartTimer` brings its own subscribe function (TimerHub); type-graphql still insists on a PubSub being configured.
const unusedPubSub = {
  publish: () => undefined,
  subscribe: () => {
    throw new Error('unused: cartTimer subscribes through TimerHub');
  },
};

async function buildSchema(instances: object[] = []) {
  return plainTimerEventResolver(
    await buildFederatedSchema(
      { resolvers: [CartResolver, CartTimerEventResolver], instances, pubSub: unusedPubSub },
      cartReferenceResolvers,
    ),
  );
}

/** The cart subgraph: carts in Redis, stock holds through the product subgraph's commands, countdown subscriptions. */
export function createCartSubgraph(options: CartModuleOptions = {}): SubgraphModule<StartedCart> {
  return defineSubgraph<StartedCart>({ name: 'cart', buildSchema }, async (run) => {
    const { config, logger } = run.deps;
    // Not auto-pipelined (ioredis `enableAutoPipelining`): measured in the checkout bench it saved 0.4 socket writes
    // per order and cost the cart 0.3 ms more CPU (bench/README.md, "fourth round"). The lock and the read that
    // follows it are pipelined explicitly (CartStore.lockAndGet).
    const redis = run.openRedis();
    // Pub/sub channels are not key-prefixed by ioredis: the hub prefixes them itself.
    const pubsub = new RedisPubSub({
      publisher: createRedis(config, { prefix: false }),
      subscriber: createRedis(config, { prefix: false }),
    });
    run.add(() => pubsub.close());
    const bus = await Bus.connect(config, logger, 'cart');
    run.add((stop) => bus.close(stop));
    const store = new CartStore(redis);
    const products = batchedProductGets(options.ports?.(bus) ?? natsProductPort(bus));
    let hub: TimerHub | undefined;
    const carts = new CartService(store, products, bus, { changed: (id, o) => hub!.changed(id, o) }, logger, {
      holdSeconds: config.cartHoldSeconds,
      maxUnitsGuest: config.cartLimits.maxUnitsGuest,
      maxUnitsUser: config.cartLimits.maxUnitsUser,
      maxUnitsPerAddress: config.cartLimits.maxUnitsPerAddress,
      holdMaxSecondsGuest: config.cartLimits.holdMaxSecondsGuest,
      holdMaxSecondsUser: config.cartLimits.holdMaxSecondsUser,
      priceCacheMs: config.cartPriceCacheSeconds * 1000,
      ...options.service,
    });
    listenForPriceChanges(bus, carts);
    const timers = new TimerHub(pubsub, carts, logger, {
      tickMs: config.cartTimerTickSeconds * 1000,
      channelPrefix: config.redisPrefix,
    });
    hub = timers;
    const sweeper = new CartSweeper(store, carts, logger, options.sweeperOptions);
    if (options.sweeper !== false) sweeper.start();
    run.add(() => sweeper.stop());
    serveCommands(bus, carts);
    // After the server at stop: its sockets close with 1001 first, so the gateway re-subscribes the countdowns
    // elsewhere instead of seeing them complete; then the ticker stops.
    run.add(() => timers.close());

    const server = await run.serve<CartContext>(await buildSchema([new CartResolver(carts)]), {
      context: (base) => makeContext(base, carts, timers),
      readiness: readinessOf({ redis, bus }),
    });
    return { url: server.url, redis, bus, store, carts, hub: timers, sweeper };
  });
}

/**
 * What the price directory forgets, and when (./service/price-directory.ts): a product edited or archived (its events,
 * as published), the product subgraph's `product.prices` notice (a new deal list: everything; a refused commit: its
 * products), and everything when the NATS connection was lost.
 */
function listenForPriceChanges(bus: Bus, carts: CartService): void {
  const events: ProductEventType[] = ['product.updated', 'product.archived'];
  bus.listen(events, (_type, event) => carts.prices.drop([(event as { data: { productId: string } }).data.productId]));
  const notice: keyof ProductNotices = 'product.prices';
  bus.listen(
    [`notice.${notice}`],
    (_name, data) => {
      const ids = (data as ProductNotices[typeof notice] | null)?.productIds;
      carts.prices.drop(Array.isArray(ids) ? ids : undefined);
    },
    () => carts.prices.drop(),
  );
}

const cartSubgraph = createCartSubgraph();
export default cartSubgraph;
