import { Bus, buildFederatedSchema, defineSubgraph, migrator, reportDeadLetters, scrapeGauge } from '@shop/kernel';
import type { StartedService, SubgraphModule } from '@shop/kernel';
import { startConsumers, startLogConsumer } from './events/consumers';
import { AuditResolver } from './resolvers/audit.resolver';
import { DeadLetterResolver } from './resolvers/dead-letter.resolver';
import { makeContext, NotificationContext } from './resolvers/context';
import { EmailResolver } from './resolvers/email.resolver';
import { LogResolver } from './resolvers/log.resolver';
import { AuditService } from './service/audit.service';
import { DeadLetterService } from './service/dead-letter.service';
import { EmailService } from './service/email.service';
import { LogService } from './service/log.service';
import { createSmtpMailer, emailBatchSize } from './service/mailer';
import { EmailSender } from './service/sender';
import { EmailStatus, NotificationStores, openStores } from './store';

export interface StartedNotification extends StartedService {
  port: number;
  stores: NotificationStores;
  emails: EmailService;
  audit: AuditService;
  logs: LogService;
  deadLetters: DeadLetterService;
  sender: EmailSender;
  bus: Bus;
}

function buildSchema(instances: object[] = []) {
  return buildFederatedSchema({
    resolvers: [EmailResolver, AuditResolver, LogResolver, DeadLetterResolver],
    instances,
  });
}

/**
 * Notification subgraph: consumes domain events from NATS, queues and sends the emails they ask for, keeps an
 * audit log of every event and the central log store (every process's log lines), and lets admins read all three;
 * admins also inspect, replay and discard the dead letters of every service's consumers (the `DLQ` stream).
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

    const sender = new EmailSender(stores.emails, mailer, logger, {
      ...config.email,
      batchSize: emailBatchSize(config.smtp.maxConnections),
    });
    const emails = new EmailService(stores.emails, logger, {
      publicUrl: config.publicUrl,
      onQueued: () => sender.kick(),
      sender,
    });
    const audit = new AuditService(stores.audit);
    sender.start();
    run.add(() => sender.stop());
    const consumers = await startConsumers(bus, { emails, audit, logger });
    run.add(() => consumers.stop());
    const logs = new LogService(stores.logs, logger, {
      retentionDays: config.logs.retentionDays,
      purgeEveryMs: 10 * 60_000,
    });
    logs.startRetention();
    run.add(() => logs.stop());
    const logConsumer = await startLogConsumer(bus, config.natsPrefix, { logs, logger });
    run.add(() => logConsumer.stop());
    run.add(reportEmailQueue(stores));
    const deadLetters = new DeadLetterService(bus.deadLetters(), logger);
    run.add(reportDeadLetters(() => bus.deadLetters().count()));

    const server = await run.serve<NotificationContext>(
      await buildSchema([
        new EmailResolver(emails),
        new AuditResolver(audit),
        new LogResolver(logs),
        new DeadLetterResolver(deadLetters),
      ]),
      {
        context: (base) => makeContext(base),
        readiness: [
          { name: stores.kind, check: () => stores.ping() },
          { name: 'nats', check: () => bus.nc.rtt() },
        ],
      },
    );
    return { url: server.url, port: server.port, stores, emails, audit, logs, deadLetters, sender, bus };
  });
}

/** `shop_email_queue_messages{status}` at every scrape: every status reported, 0 included (alerts compare over time). */
function reportEmailQueue(stores: NotificationStores): () => void {
  return scrapeGauge({
    name: 'shop_email_queue_messages',
    help: 'Emails in the notification store by status (QUEUED, SENT, FAILED = waiting for a retry, DEAD = given up).',
    labelNames: ['status'] as const,
  }).add(async () => {
    const counts = await stores.emails.countByStatus();
    return Object.values(EmailStatus).map((status) => [{ status }, counts[status] ?? 0]);
  });
}

const notificationSubgraph = createNotificationSubgraph();
export default notificationSubgraph;
export { EmailStatus } from './store';
export type { Mailer } from './service/mailer';
