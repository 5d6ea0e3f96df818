import nodemailer from 'nodemailer';
import type { Config } from '@shop/kernel';

export interface OutgoingEmail {
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

/** SMTP through nodemailer: SMTP_HOST/SMTP_PORT, or the development mailbox on 127.0.0.1 when SMTP_HOST is unset. */
export function createSmtpMailer(smtp: Config['smtp']): Mailer {
  const transport = nodemailer.createTransport({
    host: smtp.host ?? '127.0.0.1',
    port: smtp.port,
    secure: smtp.secure,
    auth: smtp.user ? { user: smtp.user, pass: smtp.pass ?? '' } : undefined,
    // Bounded so that a hung server cannot hold an email past the sender's claim lease.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(email) {
      // An address object is used as it is; a string would be parsed for lists, groups and display names.
      await transport.sendMail({
        from: smtp.from,
        to: { name: '', address: email.to },
        subject: email.subject,
        html: email.html,
        text: email.text,
      });
    },
    close: () => transport.close(),
  };
}
