import type { MikroORM } from '@mikro-orm/postgresql';
import {
  Bus,
  buildFederatedSchema,
  Config,
  createOrm,
  createRedis,
  Logger,
  migrate,
  migrator,
  OutboxRelay,
  Redis,
  ServiceDeps,
  StartedService,
  startSubgraphServer,
  SubgraphModule,
} from '@shop/kernel';
import { USER_MIGRATIONS } from './migrations';
import { makeContext, UserContext } from './resolvers/context';
import { UserConnectionResolver, UserResolver, userReferenceResolvers } from './resolvers/user.resolver';
import { AccountService } from './service/account.service';
import { serveCommands } from './events/commands';
import { USER_ENTITIES } from './store/entities';

export interface StartedUser extends StartedService {
  orm: MikroORM;
  redis: Redis;
  bus: Bus;
  relay: OutboxRelay;
  accounts: AccountService;
}

function buildSchema(instances: object[] = []) {
  return buildFederatedSchema({ resolvers: [UserResolver, UserConnectionResolver], instances }, userReferenceResolvers);
}

function openOrm(config: Config, logger: Logger) {
  return createOrm({ config, service: 'user', entities: USER_ENTITIES, migrations: USER_MIGRATIONS, logger });
}

/** The user subgraph: accounts, sign-in, sessions and roles. PostgreSQL + Redis (rate limits) + NATS (events). */
export function createUserSubgraph(): SubgraphModule<StartedUser> {
  return {
    name: 'user',
    buildSchema: () => buildSchema(),

    migrate: migrator(openOrm),

    async start({ config, keys, logger, port }: ServiceDeps): Promise<StartedUser> {
      const orm = await openOrm(config, logger);
      await migrate(orm, logger);
      const redis = createRedis(config);
      const bus = await Bus.connect(config, logger, 'user');
      const relay = new OutboxRelay(orm, bus, logger);
      relay.start();
      const accounts = new AccountService(orm, redis, relay, keys, config, logger);
      if (config.admin.email && config.admin.password) {
        try {
          await accounts.ensureAdmin(config.admin.email, config.admin.password);
        } catch (err) {
          // Refusing to start: release what was opened so the process (or a test) can exit cleanly.
          await relay.stop();
          await bus.close();
          redis.disconnect();
          await orm.close();
          throw err;
        }
      }
      serveCommands(bus, accounts);

      const schema = await buildSchema([new UserResolver(accounts)]);
      const server = await startSubgraphServer<UserContext>({
        name: 'user',
        config,
        keys,
        schema,
        logger,
        port: port ?? config.ports.user,
        context: (base) => makeContext(base, accounts),
        readiness: [
          { name: 'postgres', check: () => orm.em.getConnection().execute('SELECT 1') },
          { name: 'redis', check: () => redis.ping() },
          { name: 'nats', check: () => bus.nc.flush() },
        ],
      });
      return {
        name: 'user',
        url: server.url,
        orm,
        redis,
        bus,
        relay,
        accounts,
        async stop() {
          await server.stop();
          await relay.stop();
          await bus.close();
          redis.disconnect();
          await orm.close();
        },
      };
    },
  };
}

const userSubgraph = createUserSubgraph();
export default userSubgraph;
