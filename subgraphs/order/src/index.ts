import type { MikroORM } from '@mikro-orm/postgresql';
import {
  Bus,
  buildFederatedSchema,
  Config,
  createOrm,
  Lifecycle,
  Logger,
  migrator,
  openOutboxService,
  OutboxRelay,
  readinessOf,
  serveSubgraph,
  ServiceDeps,
  StartedService,
  SubgraphModule,
} from '@shop/kernel';
import { ORDER_MIGRATIONS } from './migrations';
import { natsPorts, Ports } from './ports';
import { makeContext, OrderContext } from './resolvers/context';
import {
  OrderConnectionResolver,
  orderReferenceResolvers,
  OrderResolver,
  OrderUserResolver,
} from './resolvers/order.resolver';
import { OrderService, OrderServiceOptions } from './service/order.service';
import { createPaymentProvider, PaymentProvider } from './service/payment';
import { ORDER_ENTITIES } from './store/entities';

export interface StartedOrder extends StartedService {
  orm: MikroORM;
  bus: Bus;
  relay: OutboxRelay;
  orders: OrderService;
  payments: PaymentProvider;
}

/** Extras beyond the kernel's ServiceDeps (tests, benchmarks). */
export interface OrderModuleOptions {
  /** Defaults to the NATS commands of the cart, product and user subgraphs (ports.ts). */
  ports?: (bus: Bus) => Ports;
  /** Defaults to the provider PAYMENT_PROVIDER names (the simulation). */
  payments?: PaymentProvider;
  service?: Partial<OrderServiceOptions>;
}

function buildSchema(instances: object[] = []) {
  return buildFederatedSchema(
    { resolvers: [OrderResolver, OrderUserResolver, OrderConnectionResolver], instances },
    orderReferenceResolvers,
  );
}

export function openOrm(config: Config, logger: Logger) {
  return createOrm({ config, service: 'order', entities: ORDER_ENTITIES, migrations: ORDER_MIGRATIONS, logger });
}

/** The order subgraph: checkout (placeOrder saga), order history, status changes, cancellation. PostgreSQL + NATS. */
export function createOrderSubgraph(options: OrderModuleOptions = {}): SubgraphModule<StartedOrder> {
  return {
    name: 'order',
    buildSchema: () => buildSchema(),

    migrate: migrator(openOrm),

    async start(deps: ServiceDeps): Promise<StartedOrder> {
      const { config, logger } = deps;
      // Before anything opens: production refuses the simulated provider unless explicitly allowed.
      const payments = options.payments ?? createPaymentProvider(config);
      const life = new Lifecycle();
      return life.run(async () => {
        const { orm, bus, relay } = await openOutboxService(life, { config, logger, service: 'order' }, () =>
          openOrm(config, logger),
        );
        const ports = options.ports?.(bus) ?? natsPorts(bus);
        const orders = new OrderService(orm, ports, payments, relay, logger, options.service);
        orders.startSweeper();
        life.add(() => orders.stopSweeper());

        const schema = await buildSchema([new OrderResolver(orders)]);
        const server = await serveSubgraph<OrderContext>(life, deps, {
          name: 'order',
          schema,
          context: (base) => makeContext(base, orders),
          readiness: readinessOf({ orm, bus }),
        });
        return { name: 'order', url: server.url, orm, bus, relay, orders, payments, stop: () => life.stop() };
      });
    },
  };
}

const orderSubgraph = createOrderSubgraph();
export default orderSubgraph;
