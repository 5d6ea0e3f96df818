import type { Express } from 'express';
import type { DevMailbox } from '@shop/kernel/devmail';
import type { SubgraphHealth } from './health';

/**
 * `/health`: the process answers (liveness). `/ready`: this gateway can serve traffic — started (supergraph loaded)
 * and not shutting down; 503 `shutting down` from the moment it got SIGTERM. The body reports each subgraph's health
 * as last polled (`subgraphs`), which does not change the status: a subgraph being down is not the gateway's.
 */
export function mountHealthRoutes(app: Express, health: SubgraphHealth, isShuttingDown: () => boolean): void {
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: 'gateway' });
  });
  app.get('/ready', (_req, res) => {
    const shuttingDown = isShuttingDown();
    res.status(shuttingDown ? 503 : 200).json({
      status: shuttingDown ? 'shutting down' : 'ready',
      service: 'gateway',
      subgraphs: health.report(),
    });
  });
}

/** Development only: the development mailbox (`/dev/mail`) when there is one. */
export function mountDevRoutes(app: Express, mailbox?: DevMailbox): void {
  if (!mailbox) return;
  app.get('/dev/mail', (_req, res) => {
    res.type('html').send(mailbox.renderPage());
  });
  app.get('/dev/mail.json', (_req, res) => {
    res.json(mailbox.messages);
  });
}
