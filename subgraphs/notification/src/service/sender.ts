import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { continueOrigin, failActiveSpan } from '@shop/kernel';
import type { Logger } from '@shop/kernel';
import type { ClaimedEmail, EmailStore } from '../store';
import type { Mailer } from './mailer';
import { LINK_VALIDITY_MS } from './templates';

export interface SenderOptions {
  pollMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** Emails claimed per pass. */
  batchSize?: number;
  /** How long a claim keeps other instances away; longer than the SMTP timeouts. */
  leaseMs?: number;
  /** Milliseconds since the epoch (tests drive time with it). */
  clock?: () => number;
}

const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;

/**
 * Delay before the retry that follows failed attempt number `attempt` (1-based): base · 2^(attempt-1), capped at
 * an hour, plus up to 25 % random jitter so emails that failed together do not all retry in the same instant.
 */
export function retryDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (1 + 0.25 * random()));
}

/**
 * The email queue's worker: every `pollMs` (or right away when kicked) it claims due emails and sends them.
 * Any number of instances can run it; the store's claim keeps them from sending the same email concurrently.
 * Delivery is at least once: a crash between the SMTP handoff and marking the email SENT sends it again after the lease.
 */
export class EmailSender {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly clock: () => number;
  /** Emails handed over by `sendClaimed`, being attempted now (`stop` waits for them). */
  private readonly direct = new Set<Promise<void>>();

  constructor(
    private readonly store: EmailStore,
    private readonly mailer: Mailer,
    private readonly logger: Logger | undefined,
    private readonly opts: SenderOptions,
  ) {
    this.batchSize = opts.batchSize ?? 10;
    this.leaseMs = opts.leaseMs ?? 120_000;
    this.clock = opts.clock ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Runs a pass now (after an email was queued) instead of waiting for the next poll. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await Promise.allSettled([...this.direct]);
  }

  /**
   * A claim for an email about to be queued, so that it is inserted already claimed and sent at once by
   * `sendClaimed` (no claiming statement, no pass); undefined when stopped, or when a batch's worth of such emails is
   * being sent already (a backlog must not queue more sends than the lease covers): it is queued unclaimed for a pass.
   */
  newClaim(): { claimId: string; until: Date } | undefined {
    if (this.stopped || this.direct.size >= this.batchSize) return undefined;
    return { claimId: randomUUID(), until: new Date(this.clock() + this.leaseMs) };
  }

  /** Attempts an email inserted with a claim from `newClaim`, now; its failure is recorded like any attempt's. */
  sendClaimed(email: ClaimedEmail): void {
    const work = this.send(email)
      .catch((err) => this.logger?.warn({ err, emailId: email.id }, 'email attempt failed; the poll will retry it'))
      .finally(() => this.direct.delete(work));
    this.direct.add(work);
  }

  private send(email: ClaimedEmail): Promise<void> {
    // Each attempt continues the trace of the request whose event queued the email (nodemailer has no instrumentation).
    return continueOrigin(
      'email.send',
      SpanKind.CLIENT,
      { 'email.template': email.template, 'email.id': email.id, 'email.attempt': email.attempts + 1 },
      email.origin,
      () => this.attempt(email),
    );
  }

  /** Claims one batch of due emails and attempts each; returns how many were attempted. */
  async runOnce(): Promise<number> {
    const batch = await this.store.claimDue(this.batchSize, new Date(this.clock()), this.leaseMs);
    await Promise.all(batch.map((email) => this.send(email)));
    return batch.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.tick(), delayMs);
    this.timer.unref();
  }

  private tick(): void {
    this.running = this.drain()
      .catch((err) => this.logger?.warn({ err }, 'email sender pass failed; will retry'))
      .finally(() => {
        this.running = undefined;
        const again = this.again;
        this.again = false;
        this.schedule(again ? 0 : this.opts.pollMs);
      });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && (await this.runOnce()) === this.batchSize) {
      /* a full batch: there may be more due right now */
    }
  }

  private async attempt(email: ClaimedEmail): Promise<void> {
    const attempt = email.attempts + 1;
    const linkValidMs = LINK_VALIDITY_MS[email.template];
    if (linkValidMs !== undefined && email.createdAt.getTime() + linkValidMs <= this.clock()) {
      // Its link has expired (it was queued no earlier than the token was made): sending is useless, and dropping it
      // now (DEAD clears the body) means the token does not wait in the database for the remaining retries.
      this.logger?.warn(
        { emailId: email.id, template: email.template, attempt },
        'email link expired before it could be sent; given up',
      );
      await this.store.markFailed(email.id, email.claimId, 'The link expired before the email could be sent', null);
      return;
    }
    try {
      await this.mailer.send({
        id: email.id,
        to: email.to,
        subject: email.subject,
        html: email.html,
        text: email.text,
      });
    } catch (err) {
      failActiveSpan(err);
      const error = String((err as Error)?.message ?? err).slice(0, 1000);
      const dead = attempt >= this.opts.maxAttempts;
      const retryAt = dead ? null : new Date(this.clock() + retryDelayMs(attempt, this.opts.retryBaseMs));
      const log = { emailId: email.id, template: email.template, attempt, error, retryAt };
      if (dead) this.logger?.error(log, 'email given up after its last attempt');
      else this.logger?.warn(log, 'email attempt failed; retry scheduled');
      await this.store.markFailed(email.id, email.claimId, error, retryAt);
      return;
    }
    if (!(await this.store.markSent(email.id, email.claimId, new Date(this.clock())))) {
      this.logger?.warn({ emailId: email.id }, 'email sent after its claim expired');
    }
  }
}
