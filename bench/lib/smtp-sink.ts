import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** What an SMTP sink took in. */
export interface SmtpSink {
  port: number;
  /** Messages accepted so far. */
  received(): number;
  stop(): Promise<void>;
}

/**
 * An SMTP server that accepts every message and throws it away: it stands for the mail provider, which in a
 * deployment runs elsewhere. The development mailbox parses each message (mailparser) to show it; a benchmark that
 * sent its emails there measured that parsing too, on the cores the services share.
 */
export async function startSmtpSink(host = '127.0.0.1'): Promise<SmtpSink> {
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // Ends the pooled client's idle connections at stop instead of waiting for them.
    closeTimeout: 500,
    onData: (stream, _session, callback) => {
      stream.on('end', () => {
        received++;
        callback();
      });
      stream.resume();
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = (server as unknown as { server: { address(): AddressInfo } }).server.address();
  return {
    port,
    received: () => received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
