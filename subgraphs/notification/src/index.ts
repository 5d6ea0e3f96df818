import {
  Bus,
  buildFederatedSchema,
  migrator,
  ServiceDeps,
  StartedService,
  startSubgraphServer,
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

    async start({ config, keys, logger, port }: ServiceDeps): Promise<StartedNotification> {
      const stores = await openStores(config, logger);
      const cleanup: (() => Promise<unknown> | unknown)[] = [() => stores.close()];
      try {
        await stores.migrate();
        const mailer = createSmtpMailer(config.smtp);
        cleanup.unshift(() => mailer.close());
        const bus = await Bus.connect(config, logger, 'notification');
        cleanup.unshift(() => bus.close());

        const sender = new EmailSender(stores.emails, mailer, logger, config.email);
        const emails = new EmailService(stores.emails, logger, {
          publicUrl: config.publicUrl,
          onQueued: () => sender.kick(),
        });
        const audit = new AuditService(stores.audit);
        sender.start();
        cleanup.unshift(() => sender.stop());
        const consumers = await startConsumers(bus, { emails, audit, logger });
        cleanup.unshift(() => consumers.stop());

        const schema = await buildSchema([new EmailResolver(emails), new AuditResolver(audit)]);
        const server = await startSubgraphServer<NotificationContext>({
          name: 'notification',
          config,
          keys,
          schema,
          logger,
          port: port ?? config.ports.notification,
          context: (base) => makeContext(base),
          readiness: [
            { name: stores.kind, check: () => stores.ping() },
            { name: 'nats', check: () => bus.nc.rtt() },
          ],
        });
        cleanup.unshift(() => server.stop());

        return {
          name: 'notification',
          url: server.url,
          port: server.port,
          stores,
          emails,
          audit,
          sender,
          bus,
          async stop() {
            // Reverse start order: requests, event intake, the sender, then the connections they used.
            let failure: unknown;
            for (const step of cleanup.splice(0)) {
              try {
                await step();
              } catch (err) {
                failure ??= err;
              }
            }
            if (failure) throw failure;
          },
        };
      } catch (err) {
        for (const step of cleanup.splice(0))
          await Promise.resolve()
            .then(step)
            .catch(() => undefined);
        throw err;
      }
    },
  };
}

const notificationSubgraph = createNotificationSubgraph();
export default notificationSubgraph;
export { EmailStatus } from './store';
export type { Mailer } from './service/mailer';
