/**
 * Email sending benchmark (not part of npm test): the CPU the notification subgraph's mailer spends per email, in
 * the way it sends (`createSmtpMailer`: composed to one buffer with nodemailer's MailComposer first, then handed to
 * the pooled transport as `raw` — 5 socket writes per message, but the message is processed twice) beside the one
 * pass nodemailer makes when given the parts (13 smaller writes, processed once).
 * The emails are order confirmations rendered by the real template (five items). An SMTP sink (smtp-server, which
 * reads and drops each message) runs in a child process, so its CPU is not counted. Each mode sends `--emails`
 * messages with `--concurrency` in flight, after a warm-up of 1,000, for `--rounds` rounds in alternating order.
 *
 *   npm run bench:mail [-- --emails 1000 --concurrency 10 --rounds 3]
 */
import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { createSmtpMailer, Mailer, OutgoingEmail } from '../subgraphs/notification/src/service/mailer';
import { orderPlaced } from '../subgraphs/notification/src/service/templates';
import { numberArg } from './lib/args';

const EMAILS = numberArg('emails', 1000);
const CONCURRENCY = numberArg('concurrency', 10);
const ROUNDS = numberArg('rounds', 3);
const FROM = 'Shop <no-reply@shop.example>';

if (process.argv.includes('--sink')) {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => callback());
    },
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.server.address() as AddressInfo).port));
} else {
  void main();
}

/** The message handed over as parts: nodemailer composes it while writing it to the connection. */
function onePass(port: number): Mailer {
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: 3,
    maxMessages: 1000,
    host: '127.0.0.1',
    port,
  });
  return {
    async send(email) {
      await transport.sendMail({
        messageId: `<${email.id}@shop.example>`,
        from: FROM,
        to: { name: '', address: email.to },
        subject: email.subject,
        html: email.html,
        text: email.text,
      });
    },
    close: () => transport.close(),
  };
}

function confirmation(n: number): OutgoingEmail {
  const rendered = orderPlaced({
    number: `SH-2026-${String(n).padStart(6, '0')}`,
    firstName: 'Ann',
    status: 'PAID',
    currency: 'USD',
    subtotal: 25_495,
    discountTotal: 1_200,
    total: 24_295,
    items: Array.from({ length: 5 }, (_, i) => ({
      productName: `Product number ${i + 1} with a longer name`,
      quantity: i + 1,
      unitPrice: 1_999,
      discountPercent: i % 2 ? 10 : 0,
      lineTotal: 1_999 * (i + 1),
    })),
  });
  return { id: randomUUID(), to: `buyer${n}@example.test`, ...rendered };
}

async function run(mailer: Mailer, count: number): Promise<{ cpuMsPerEmail: number; perSecond: number }> {
  const emails = Array.from({ length: count }, (_, i) => confirmation(i));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < emails.length) await mailer.send(emails[next++]);
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuMsPerEmail: (cpu.user + cpu.system) / 1000 / count,
    perSecond: count / ((performance.now() - t0) / 1000),
  };
}

async function main() {
  const sink = fork(__filename, ['--sink'], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve) => sink.once('message', (p) => resolve(Number(p))));
  const modes: [string, Mailer][] = [
    [
      'composed first, sent raw (createSmtpMailer)',
      createSmtpMailer({ host: '127.0.0.1', port, from: FROM, secure: false } as never),
    ],
    ['parts, composed while written', onePass(port)],
  ];
  const results = new Map<string, { cpuMsPerEmail: number; perSecond: number }[]>(modes.map(([n]) => [n, []]));
  try {
    for (const [, mailer] of modes) await run(mailer, 1000); // warm-up (JIT)
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...modes].reverse() : modes;
      for (const [name, mailer] of order) results.get(name)!.push(await run(mailer, EMAILS));
    }
  } finally {
    for (const [, mailer] of modes) mailer.close();
    sink.kill();
  }
  console.log(`\nEmail sending: ${EMAILS} order confirmations per round, ${CONCURRENCY} in flight, ${ROUNDS} rounds\n`);
  console.log('| mode | CPU ms per email (rounds) | emails/s (rounds) |');
  console.log('|---|---|---|');
  for (const [name, rs] of results)
    console.log(
      `| ${name} | ${rs.map((r) => r.cpuMsPerEmail.toFixed(3)).join(' · ')} | ${rs.map((r) => r.perSecond.toFixed(0)).join(' · ')} |`,
    );
}
