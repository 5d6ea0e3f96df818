import { Bus, buildFederatedSchema, defineSubgraph, migrator } from '@shop/kernel';
import type { StartedService, SubgraphModule } from '@shop/kernel';
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
  const meta = { name: 'notification' as const, buildSchema, migrate: migrator(openStores) };
  // Stops in reverse start order: requests, event intake, the sender, then the connections they used.
  return defineSubgraph<StartedNotification>(meta, async (run) => {
    const { config, logger } = run.deps;
    const stores = await openStores(config, logger);
    run.add(() => stores.close());
    await stores.migrate();
    const mailer = createSmtpMailer(config.smtp);
    run.add(() => mailer.close());
    const bus = await Bus.connect(config, logger, 'notification');
    run.add((stop) => bus.close(stop));

    const sender = new EmailSender(stores.emails, mailer, logger, config.email);
    const emails = new EmailService(stores.emails, logger, {
      publicUrl: config.publicUrl,
      onQueued: () => sender.kick(),
    });
    const audit = new AuditService(stores.audit);
    sender.start();
    run.add(() => sender.stop());
    const consumers = await startConsumers(bus, { emails, audit, logger });
    run.add(() => consumers.stop());

    const server = await run.serve<NotificationContext>(
      await buildSchema([new EmailResolver(emails), new AuditResolver(audit)]),
      {
        context: (base) => makeContext(base),
        readiness: [
          { name: stores.kind, check: () => stores.ping() },
          { name: 'nats', check: () => bus.nc.rtt() },
        ],
      },
    );
    return { url: server.url, port: server.port, stores, emails, audit, sender, bus };
  });
}

const notificationSubgraph = createNotificationSubgraph();
export default notificationSubgraph;
export { EmailStatus } from './store';
export type { Mailer } from './service/mailer';
