import type { MikroORM } from '@mikro-orm/postgresql';
import {
  Bus,
  buildFederatedSchema,
  Config,
  createOrm,
  Logger,
  migrate,
  migrator,
  OutboxRelay,
  ServiceDeps,
  StartedService,
  startSubgraphServer,
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

    async start({ config, keys, logger, port }: ServiceDeps): Promise<StartedOrder> {
      // Before anything opens: production refuses the simulated provider unless explicitly allowed.
      const payments = options.payments ?? createPaymentProvider(config);
      const orm = await openOrm(config, logger);
      await migrate(orm, logger);
      const bus = await Bus.connect(config, logger, 'order');
      const relay = new OutboxRelay(orm, bus, logger);
      relay.start();
      const ports = options.ports?.(bus) ?? natsPorts(bus);
      const orders = new OrderService(orm, ports, payments, relay, logger, options.service);
      orders.startSweeper();

      const schema = await buildSchema([new OrderResolver(orders)]);
      const server = await startSubgraphServer<OrderContext>({
        name: 'order',
        config,
        keys,
        schema,
        logger,
        port: port ?? config.ports.order,
        context: (base) => makeContext(base, orders),
        readiness: [
          { name: 'postgres', check: () => orm.em.getConnection().execute('SELECT 1') },
          { name: 'nats', check: () => bus.nc.flush() },
        ],
      });
      return {
        name: 'order',
        url: server.url,
        orm,
        bus,
        relay,
        orders,
        payments,
        async stop() {
          await server.stop();
          await orders.stopSweeper();
          await relay.stop();
          await bus.close();
          await orm.close();
        },
      };
    },
  };
}

const orderSubgraph = createOrderSubgraph();
export default orderSubgraph;
