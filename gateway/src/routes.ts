import type { Express } from 'express';
import type { DevMailbox } from '@shop/kernel/devmail';

/** `/health`: the process answers. `/ready`: every subgraph of `routing` answers its own `/ready` (503 otherwise). */
export function mountHealthRoutes(app: Express, routing: Map<string, string>): void {
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: 'gateway' });
  });
  app.get('/ready', async (_req, res) => {
    const checks = await Promise.all(
      [...routing].map(async ([name, url]) => {
        try {
          const r = await fetch(new URL('/ready', url), { signal: AbortSignal.timeout(2000) });
          return { name, ok: r.ok };
        } catch {
          return { name, ok: false };
        }
      }),
    );
    const ok = checks.every((c) => c.ok);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', service: 'gateway', checks });
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
