import type { MikroORM } from '@mikro-orm/postgresql';
import { buildFederatedSchema, createOrm, defineSubgraph, migrator, readinessOf } from '@shop/kernel';
import type { Bus, Config, Logger, OutboxRelay, Redis, StartedService, SubgraphModule } from '@shop/kernel';
import { USER_MIGRATIONS } from './migrations';
import { makeContext, UserContext } from './resolvers/context';
import { sessionOutcomePlugin } from './resolvers/session';
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
  return defineSubgraph<StartedUser>({ name: 'user', buildSchema, migrate: migrator(openOrm) }, async (run) => {
    const { config, keys, logger } = run.deps;
    const redis = run.openRedis();
    const { orm, bus, relay } = await run.openOutbox(() => openOrm(config, logger));
    const accounts = new AccountService(orm, redis, relay, keys, config, logger);
    // Refuses to start (releasing what was opened) when the configured admin cannot be ensured.
    if (config.admin.email && config.admin.password)
      await accounts.ensureAdmin(config.admin.email, config.admin.password);
    serveCommands(bus, accounts);

    const server = await run.serve<UserContext>(await buildSchema([new UserResolver(accounts)]), {
      context: (base, req) => makeContext(base, accounts, req),
      plugins: [sessionOutcomePlugin<UserContext>()],
      readiness: readinessOf({ orm, redis, bus }),
    });
    return { url: server.url, orm, redis, bus, relay, accounts };
  });
}

const userSubgraph = createUserSubgraph();
export default userSubgraph;
