import type { AddressInfo } from 'node:net';
import { SMTPServer, SMTPServerOptions } from 'smtp-server';
import { simpleParser } from 'mailparser';

export interface CapturedMail {
  id: number;
  to: string[];
  from: string;
  subject: string;
  /** The Message-ID header, angle brackets included ('' when absent). */
  messageId: string;
  text: string;
  html: string;
  receivedAt: string;
}

/**
 * Development mailbox: an SMTP server on localhost that keeps what it receives in memory. Used when SMTP_HOST
 * is unset (the gateway shows it at /dev/mail) and by tests to read the emails the system sends.
 */
export class DevMailbox {
  private server?: SMTPServer;
  private seq = 0;
  readonly messages: CapturedMail[] = [];
  private waiters: (() => void)[] = [];

  constructor(private readonly maxMessages = 500) {}

  async start(port: number, host = '127.0.0.1'): Promise<number> {
    const server = localSmtpServer((stream, _session, callback) => {
      simpleParser(stream)
        .then((mail) => {
          const to = ([] as { value: { address?: string }[] }[])
            .concat((mail.to as never) ?? [])
            .flatMap((a) => a.value.map((v) => v.address ?? ''));
          this.messages.unshift({
            id: ++this.seq,
            to,
            from: mail.from?.text ?? '',
            subject: mail.subject ?? '',
            messageId: mail.messageId ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : '',
            receivedAt: new Date().toISOString(),
          });
          this.messages.splice(this.maxMessages);
          this.waiters.splice(0).forEach((w) => w());
          callback();
        })
        .catch((err) => callback(err));
    });
    this.server = server;
    return listenSmtp(server, port, host);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Resolves with the first message matching `pred`, waiting up to `timeoutMs` for it to arrive. */
  async waitFor(pred: (m: CapturedMail) => boolean, timeoutMs = 15000): Promise<CapturedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no matching email within ${timeoutMs} ms (have: ${this.messages.map((m) => `${m.to}: ${m.subject}`).join('; ')})`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The HTML page the gateway serves at /dev/mail. */
  renderPage(): string {
    const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const items = this.messages
      .map(
        (
          m,
        ) => `<article><header><strong>${esc(m.subject)}</strong><br><small>to ${esc(m.to.join(', '))} · ${esc(m.receivedAt)}</small></header>
<pre>${esc(m.text).replace(/https?:\/\/[^\s<]+/g, (u) => `<a href="${u}">${u}</a>`)}</pre></article>`,
      )
      .join('\n');
    return `<!doctype html><html><head><meta charset="utf-8"><title>Development mailbox</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}article{border:1px solid #ccc;border-radius:6px;margin:1rem 0;padding:1rem}pre{white-space:pre-wrap;background:#fafafa;padding:.5rem}</style>
</head><body><h1>Development mailbox</h1><p>${this.messages.length} message(s), newest first. Links open in this browser.</p>${items || '<p>No mail yet.</p>'}</body></html>`;
  }
}

/** An SMTP server for localhost: no authentication or TLS, quiet, and quick to close pooled clients' connections. */
export function localSmtpServer(onData: NonNullable<SMTPServerOptions['onData']>): SMTPServer {
  return new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // stop() ends connections kept open by a pooling client (the notification subgraph's) after this, not 30 s.
    closeTimeout: 500,
    onData,
  });
}

/** Starts `server` on `port` (0: any free port) and resolves with the port it listens on. */
export async function listenSmtp(server: SMTPServer, port: number, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server as unknown as { server: { address(): AddressInfo } }).server.address().port;
}
