import { RedisPubSub } from 'graphql-redis-subscriptions';
import {
  Bus,
  buildFederatedSchema,
  createRedis,
  Lifecycle,
  readinessOf,
  Redis,
  serveSubgraph,
  ServiceDeps,
  StartedService,
  SubgraphModule,
} from '@shop/kernel';
import { serveCommands } from './events/commands';
import { natsProductPort, ProductPort } from './ports';
import { cartReferenceResolvers, CartResolver, CartTimerEventResolver } from './resolvers/cart.resolver';
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
export interface CartModuleOptions {
  /** Defaults to the product subgraph's NATS commands (ports.ts). */
  ports?: (bus: Bus) => ProductPort;
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

function buildSchema(instances: object[] = []) {
  return buildFederatedSchema(
    { resolvers: [CartResolver, CartTimerEventResolver], instances, pubSub: unusedPubSub },
    cartReferenceResolvers,
  );
}

/** The cart subgraph: carts in Redis, stock holds through the product subgraph's commands, countdown subscriptions. */
export function createCartSubgraph(options: CartModuleOptions = {}): SubgraphModule<StartedCart> {
  return {
    name: 'cart',
    buildSchema: () => buildSchema(),

    async start(deps: ServiceDeps): Promise<StartedCart> {
      const { config, logger } = deps;
      const life = new Lifecycle();
      return life.run(async () => {
        const redis = createRedis(config);
        life.add(() => redis.disconnect());
        // Pub/sub channels are not key-prefixed by ioredis: the hub prefixes them itself.
        const pubsub = new RedisPubSub({
          publisher: createRedis(config, { prefix: false }),
          subscriber: createRedis(config, { prefix: false }),
        });
        life.add(() => pubsub.close());
        const bus = await Bus.connect(config, logger, 'cart');
        life.add(() => bus.close());
        const store = new CartStore(redis);
        const products = options.ports?.(bus) ?? natsProductPort(bus);
        let hub: TimerHub | undefined;
        const carts = new CartService(store, products, bus, { changed: (id, o) => hub!.changed(id, o) }, logger, {
          holdSeconds: config.cartHoldSeconds,
          maxUnitsGuest: config.cartLimits.maxUnitsGuest,
          maxUnitsUser: config.cartLimits.maxUnitsUser,
          maxUnitsPerAddress: config.cartLimits.maxUnitsPerAddress,
          holdMaxSecondsGuest: config.cartLimits.holdMaxSecondsGuest,
          holdMaxSecondsUser: config.cartLimits.holdMaxSecondsUser,
          ...options.service,
        });
        const timers = new TimerHub(pubsub, carts, logger, {
          tickMs: config.cartTimerTickSeconds * 1000,
          channelPrefix: config.redisPrefix,
        });
        hub = timers;
        const sweeper = new CartSweeper(store, carts, logger, options.sweeperOptions);
        if (options.sweeper !== false) sweeper.start();
        life.add(() => sweeper.stop());
        serveCommands(bus, carts);

        const schema = await buildSchema([new CartResolver(carts)]);
        const server = await serveSubgraph<CartContext>(life, deps, {
          name: 'cart',
          schema,
          context: (base) => makeContext(base, carts, timers),
          readiness: readinessOf({ redis, bus }),
        });
        // First at stop: ends the countdown subscriptions so the server's sockets can close.
        life.add(() => timers.close());
        return {
          name: 'cart',
          url: server.url,
          redis,
          bus,
          store,
          carts,
          hub: timers,
          sweeper,
          stop: () => life.stop(),
        };
      });
    },
  };
}

const cartSubgraph = createCartSubgraph();
export default cartSubgraph;
