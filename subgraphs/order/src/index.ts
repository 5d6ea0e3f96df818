import type { MikroORM } from '@mikro-orm/postgresql';
import { buildFederatedSchema, createOrm, defineSubgraph, migrator, readinessOf } from '@shop/kernel';
import type { Bus, Config, Logger, OutboxRelay, StartedService, SubgraphModule, WithPorts } from '@shop/kernel';
import { startBuyerConsumer } from './events/consumers';
import { ORDER_MIGRATIONS } from './migrations';
import { natsPorts, Ports } from './ports';
import { makeContext, OrderContext } from './resolvers/context';
import { orderReferenceResolvers, OrderResolver, OrderUserResolver } from './resolvers/order.resolver';
import { paymentRoutes } from './resolvers/routes';
import { BuyerDirectory } from './service/buyers';
import { OrderService, OrderServiceOptions } from './service/order.service';
import type { PaymentProvider } from './service/payment';
import { createPaymentProvider } from './service/providers';
import { ORDER_ENTITIES } from './store/entities';

export interface StartedOrder extends StartedService {
  orm: MikroORM;
  bus: Bus;
  relay: OutboxRelay;
  orders: OrderService;
  buyers: BuyerDirectory;
  payments: PaymentProvider;
}

/** Extras beyond the kernel's ServiceDeps (tests, benchmarks). */
export interface OrderModuleOptions extends WithPorts<Ports> {
  // `ports` defaults to the NATS commands of the cart, product and user subgraphs (ports.ts).
  /** Defaults to the provider PAYMENT_PROVIDER names (the simulation). */
  payments?: PaymentProvider;
  service?: Partial<OrderServiceOptions>;
}

function buildSchema(instances: object[] = []) {
  return buildFederatedSchema({ resolvers: [OrderResolver, OrderUserResolver], instances }, orderReferenceResolvers);
}

export function openOrm(config: Config, logger: Logger) {
  return createOrm({ config, service: 'order', entities: ORDER_ENTITIES, migrations: ORDER_MIGRATIONS, logger });
}

/**
 * The order subgraph: checkout (placeOrder saga), order history, status changes, cancellation, the payment
 * provider's webhooks (`POST /webhooks/payments`). PostgreSQL + NATS.
 */
export function createOrderSubgraph(options: OrderModuleOptions = {}): SubgraphModule<StartedOrder> {
  return defineSubgraph<StartedOrder>({ name: 'order', buildSchema, migrate: migrator(openOrm) }, async (run) => {
    const { config, logger } = run.deps;
    // Before anything opens: production refuses the simulated provider unless explicitly allowed.
    const payments = options.payments ?? createPaymentProvider(config, logger);
    const { orm, bus, relay } = await run.openOutbox(() => openOrm(config, logger));
    const ports = options.ports?.(bus) ?? natsPorts(bus);
    const buyers = new BuyerDirectory(orm, ports.user, logger);
    const orders = new OrderService(orm, ports, buyers, payments, relay, logger, {
      pendingTimeoutMs: config.payments.actionTimeoutSeconds * 1000,
      ...options.service,
    });
    await startBuyerConsumer(bus, buyers);
    orders.startSweeper();
    run.add(() => orders.stopSweeper());

    const server = await run.serve<OrderContext>(await buildSchema([new OrderResolver(orders)]), {
      context: (base) => makeContext(base, orders),
      routes: paymentRoutes(orders.webhooks, logger),
      readiness: readinessOf({ orm, bus }),
    });
    return { url: server.url, orm, bus, relay, orders, buyers, payments };
  });
}

const orderSubgraph = createOrderSubgraph();
export default orderSubgraph;
