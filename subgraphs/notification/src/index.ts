import {
  Bus,
  buildFederatedSchema,
  Lifecycle,
  migrator,
  serveSubgraph,
  ServiceDeps,
  StartedService,
  SubgraphModule,
} from '@shop/kernel';
import { startConsumers } from './events/consumers';
import { AuditResolver } from './resolvers/audit.resolver';
import { makeContext, NotificationContext } from './resolvers/context';
import { EmailResolver } from './resolvers/email.resolver';
import { AuditService } from './service/audit.service';
import { EmailService } from './service/email.service';
import { createSmtpMailer } from './service/mailer';
import { EmailSender } from './service/sender';
import { NotificationStores, openStores } from './store';

export interface StartedNotification extends StartedService {
  port: number;
  stores: NotificationStores;
  emails: EmailService;
  audit: AuditService;
  sender: EmailSender;
  bus: Bus;
}

function buildSchema(instances: object[] = []) {
  return buildFederatedSchema({ resolvers: [EmailResolver, AuditResolver], instances });
}

/**
 * Notification subgraph: consumes domain events from NATS, queues and sends the emails they ask for, keeps an
 * audit log of every event, and lets admins read both.
 */
export function createNotificationSubgraph(): SubgraphModule<StartedNotification> {
  return {
    name: 'notification',
    buildSchema: () => buildSchema(),

    migrate: migrator(openStores),

    async start(deps: ServiceDeps): Promise<StartedNotification> {
      const { config, logger } = deps;
      const life = new Lifecycle();
      // Stops in reverse start order: requests, event intake, the sender, then the connections they used.
      return life.run(async () => {
        const stores = await openStores(config, logger);
        life.add(() => stores.close());
        await stores.migrate();
        const mailer = createSmtpMailer(config.smtp);
        life.add(() => mailer.close());
        const bus = await Bus.connect(config, logger, 'notification');
        life.add(() => bus.close());

        const sender = new EmailSender(stores.emails, mailer, logger, config.email);
        const emails = new EmailService(stores.emails, logger, {
          publicUrl: config.publicUrl,
          onQueued: () => sender.kick(),
        });
        const audit = new AuditService(stores.audit);
        sender.start();
        life.add(() => sender.stop());
        const consumers = await startConsumers(bus, { emails, audit, logger });
        life.add(() => consumers.stop());

        const schema = await buildSchema([new EmailResolver(emails), new AuditResolver(audit)]);
        const server = await serveSubgraph<NotificationContext>(life, deps, {
          name: 'notification',
          schema,
          context: (base) => makeContext(base),
          readiness: [
            { name: stores.kind, check: () => stores.ping() },
            { name: 'nats', check: () => bus.nc.rtt() },
          ],
        });
        const started = { port: server.port, stores, emails, audit, sender, bus };
        return { name: 'notification', url: server.url, ...started, stop: () => life.stop() };
      });
    },
  };
}

const notificationSubgraph = createNotificationSubgraph();
export default notificationSubgraph;
export { EmailStatus } from './store';
export type { Mailer } from './service/mailer';
