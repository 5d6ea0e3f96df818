import { listenSmtp, localSmtpServer } from '@shop/kernel/devmail';

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
  const server = localSmtpServer((stream, _session, callback) => {
    stream.on('end', () => {
      received++;
      callback();
    });
    stream.resume();
  });
  const port = await listenSmtp(server, 0, host);
  return {
    port,
    received: () => received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
