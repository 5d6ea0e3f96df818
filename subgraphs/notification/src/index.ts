import { Bus, StartedService, startSubgraphServer, SubgraphModule } from '@shop/kernel';
import { startConsumers } from './events/consumers';
import type { NotificationContext } from './resolvers';
import { buildNotificationSchema } from './schema';
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

/**
 * Notification subgraph: consumes domain events from NATS, queues and sends the emails they ask for, keeps an
 * audit log of every event, and lets admins read both.
 */
const notification: SubgraphModule<StartedNotification> = {
  name: 'notification',

  buildSchema: buildNotificationSchema,

  async migrate(config, logger) {
    const stores = await openStores(config, logger);
    try {
      return await stores.migrate();
    } finally {
      await stores.close();
    }
  },

  async start({ config, keys, logger, port }) {
    const schema = await buildNotificationSchema();
    const stores = await openStores(config, logger);
    const cleanup: (() => Promise<unknown> | unknown)[] = [() => stores.close()];
    try {
      await stores.migrate();
      const mailer = createSmtpMailer(config.smtp);
      cleanup.unshift(() => mailer.close());
      const bus = await Bus.connect(config, logger, 'notification');
      cleanup.unshift(() => bus.close());

      const sender = new EmailSender(stores.emails, mailer, config.email, logger);
      const emails = new EmailService(stores.emails, { publicUrl: config.publicUrl, onQueued: () => sender.kick() }, logger);
      const audit = new AuditService(stores.audit);
      sender.start();
      cleanup.unshift(() => sender.stop());
      const consumers = await startConsumers(bus, { emails, audit, logger });
      cleanup.unshift(() => consumers.stop());

      const server = await startSubgraphServer<NotificationContext>({
        name: 'notification',
        config,
        keys,
        schema,
        logger,
        port: port ?? config.ports.notification,
        context: (base) => ({ ...base, emails, audit }),
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
      for (const step of cleanup.splice(0)) await Promise.resolve().then(step).catch(() => undefined);
      throw err;
    }
  },
};

export default notification;
export { EmailStatus } from './store';
export type { Mailer } from './service/mailer';
