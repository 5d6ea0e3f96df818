import net, { type Socket } from 'node:net';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { coalesceWrites, type Config } from '@shop/kernel';

export interface OutgoingEmail {
  /** The queued email's id: its Message-ID is `<id@sender's domain>`, the same on every attempt. */
  id: string;
  to: string;
  subject: string;
  html: string;
  text: string;
}

/** Delivers one email or throws; the sender decides about retries. */
export interface Mailer {
  send(email: OutgoingEmail): Promise<void>;
  close(): void;
}

/**
 * Emails the sender attempts at once (its batch, and its direct sends): two per SMTP connection — one on the wire,
 * one waiting its turn —, so that no connection idles between two emails; at least 10.
 */
export function emailBatchSize(maxConnections: number): number {
  return Math.max(10, 2 * maxConnections);
}

/**
 * SMTP through nodemailer: SMTP_HOST/SMTP_PORT, or the development mailbox on 127.0.0.1 when SMTP_HOST is unset.
 * Pooled: a few connections are kept open and carry many messages each, instead of a TCP connection, greeting,
 * EHLO and QUIT per email (most of the notification subgraph's CPU per order). A connection the server closed is
 * replaced; a send that fails on one fails like any other and is retried by the sender.
 */
export function createSmtpMailer(smtp: Config['smtp']): Mailer {
  // The domain of the From address, as nodemailer takes it for the Message-IDs it makes up.
  const domain = /@([^\s>]+)/.exec(smtp.from)?.[1] ?? 'localhost';
  const host = smtp.host ?? '127.0.0.1';
  const transport = nodemailer.createTransport({
    pool: true,
    // SMTP_MAX_CONNECTIONS: the sender keeps two emails per connection in flight (emailBatchSize).
    maxConnections: smtp.maxConnections,
    maxMessages: 1000,
    host,
    port: smtp.port,
    secure: smtp.secure,
    auth: smtp.user ? { user: smtp.user, pass: smtp.pass ?? '' } : undefined,
    // Bounded so that a hung server cannot hold an email past the sender's claim lease.
    connectionTimeout: CONNECT_TIMEOUT_MS,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    // Connected by us (the pool takes an open `connection` from `getSocket`), so that what one turn writes leaves in
    // one write: a message and its closing dot go together, two writes per email instead of three (the pipelined
    // envelope, then the message). TLS, implicit or STARTTLS, is still nodemailer's, on top of this socket.
    getSocket: (_options: unknown, callback: SocketCallback) => connectSmtp(host, smtp.port, callback),
  });
  return {
    async send(email) {
      // Composed to one buffer first: handed over as a stream of MIME parts, the message goes out in a socket write per
      // part (an order confirmation: 13 writes per email with the SMTP commands; as one buffer, 5). The envelope is the
      // one nodemailer would derive.
      // An address object is used as it is; a string would be parsed for lists, groups and display names.
      // Our own Message-ID: a retry of the same email carries the same one (a receiver can tell it is a repeat), and
      // nodemailer does not draw random bytes for one, twice per email (the composer's and the transport's).
      const messageId = `<${email.id}@${domain}>`;
      const message = new MailComposer({
        messageId,
        from: smtp.from,
        to: { name: '', address: email.to },
        subject: email.subject,
        html: email.html,
        text: email.text,
      }).compile();
      await transport.sendMail({ messageId, envelope: message.getEnvelope(), raw: await message.build() });
    },
    close: () => transport.close(),
  };
}

/** Bounded so that a hung server cannot hold an email past the sender's claim lease. */
const CONNECT_TIMEOUT_MS = 10_000;

type SocketCallback = (err: Error | null, socketOptions?: { connection: Socket }) => void;

/** An open TCP connection to the SMTP server whose writes of one turn leave together (kernel `coalesceWrites`). */
function connectSmtp(host: string, port: number, callback: SocketCallback): void {
  const socket = net.connect({ host, port });
  let answered = false;
  const fail = (err: Error) => {
    socket.destroy();
    if (!answered) callback(err);
    answered = true;
  };
  socket.setTimeout(CONNECT_TIMEOUT_MS, () =>
    fail(Object.assign(new Error(`SMTP connection to ${host}:${port} timed out`), { code: 'ETIMEDOUT' })),
  );
  socket.once('error', fail);
  socket.once('connect', () => {
    socket.setTimeout(0);
    socket.off('error', fail);
    coalesceWrites(socket);
    answered = true;
    callback(null, { connection: socket });
  });
}
