import { connect, ConsumerMessages, DeliverPolicy, JSONCodec, NatsConnection } from 'nats';
import {
  ACCESS_TOKEN,
  AppError,
  Config,
  ErrorCode,
  EventEnvelope,
  Logger,
  natsStreamName,
  natsSubject,
} from '@shop/kernel';
import type { UserEventType } from '@shop/user/src/events/payloads';

/** The events after which a user's earlier access tokens stop working (all published by the user subgraph's outbox). */
export const SESSION_EVENTS: UserEventType[] = ['user.password_changed', 'user.role_changed', 'user.sessions_revoked'];

/** graphql-ws close code for a socket whose token expired or was revoked: the client signs in or refreshes and reconnects. */
export const CLOSE_UNAUTHORIZED = 4401;

export interface TokenTimes {
  /** Issued at, milliseconds since the epoch (the token's `iatMs`; else the start of its `iat` second). */
  issuedMs: number;
  /** Expires at, seconds since the epoch (JWT `exp`). */
  exp: number;
}

interface TrackedSocket {
  issuedMs: number;
  close(code: number, reason: string): void;
}

export function revokedError(): AppError {
  return new AppError(ErrorCode.UNAUTHENTICATED, 'The access token was revoked; sign in or refresh it', {
    http: { status: 401 },
    reason: 'revoked',
  });
}

/**
 * Live sessions follow the account. When the user subgraph announces that a user's sessions end (password changed or
 * reset, refresh-token family revoked for reuse) or their role changed, every gateway instance refuses that user's
 * access tokens issued up to that moment (the event's time against the token's issue time in ms; HTTP and WebSocket:
 * 401 `UNAUTHENTICATED`, reason `revoked`) and closes their open sockets with 4401 — the client refreshes (getting
 * its new role) or signs in again.
 *
 * Each instance reads the events from JetStream through its own ordered (ephemeral) consumers, starting an access-token
 * lifetime in the past: a gateway that starts later, or was cut off from NATS for a while, replays what it missed, so
 * no shared store is needed and the request path costs one Map lookup. (Events are kept in the stream for days; only
 * the last 15 minutes matter, since older tokens have expired anyway.)
 */
export class LiveSessions {
  /** userId → the time (ms) up to which their tokens are refused. Entries go once every such token has expired. */
  private readonly notBefore = new Map<string, number>();
  private readonly sockets = new Map<string, Set<TrackedSocket>>();
  private nc?: NatsConnection;
  private readonly streams: ConsumerMessages[] = [];
  private stopped = false;
  private retry?: NodeJS.Timeout;
  private readonly pruner: NodeJS.Timeout;

  constructor(
    private readonly config: Pick<Config, 'natsUrl' | 'natsPrefix'>,
    private readonly logger: Logger,
    private readonly ttlSeconds = ACCESS_TOKEN.ttlSeconds,
  ) {
    this.pruner = setInterval(() => this.prune(), 60_000);
    this.pruner.unref();
  }

  /**
   * Connects and replays the recent events. Resolves once caught up, or after `waitMs` (NATS unreachable: the gateway
   * still starts, and keeps trying in the background).
   */
  async start(waitMs = 3000): Promise<void> {
    let caughtUp!: () => void;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    void this.run(caughtUp);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  private async run(caughtUp: () => void): Promise<void> {
    try {
      this.nc ??= await connect({
        servers: this.config.natsUrl,
        name: 'gateway-sessions',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      });
      if (this.stopped) return;
      const js = this.nc.jetstream();
      const prefix = this.config.natsPrefix;
      const stream = natsStreamName(prefix, 'user');
      const since = new Date(Date.now() - (this.ttlSeconds + 60) * 1000).toISOString();
      let pending = SESSION_EVENTS.length;
      const done = () => --pending === 0 && caughtUp();
      for (const type of SESSION_EVENTS) {
        // One consumer per subject: multi-filter consumers need NATS 2.10.
        const consumer = await js.consumers.get(stream, {
          filterSubjects: natsSubject(prefix, type),
          deliver_policy: DeliverPolicy.StartTime,
          opt_start_time: since,
        });
        const backlog = (await consumer.info(true)).num_pending;
        const messages = await consumer.consume();
        this.streams.push(messages);
        if (backlog === 0) done();
        void (async () => {
          let seen = 0;
          for await (const m of messages) {
            try {
              this.onEvent(JSONCodec<EventEnvelope>().decode(m.data));
            } catch (err) {
              this.logger.warn({ err, subject: m.subject }, 'undecodable session event skipped');
            }
            if (++seen === backlog) done();
          }
          // Ended without stop() (e.g. the stream went away): follow again.
          if (this.streams.includes(messages)) throw new Error('session event consumer ended');
        })().catch((err) => this.restart(caughtUp, err));
      }
      this.logger.debug({ stream }, 'following session revocations');
    } catch (err) {
      this.restart(caughtUp, err);
    }
  }

  /** The consumers are recreated (replaying the last token lifetime again; applying an event twice changes nothing). */
  private restart(caughtUp: () => void, err: unknown): void {
    if (this.stopped) return;
    this.logger.warn(
      { err: String((err as Error)?.message ?? err) },
      'session revocation events unavailable; retrying',
    );
    for (const s of this.streams.splice(0)) s.stop();
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.run(caughtUp), 2000);
    this.retry.unref();
  }

  private onEvent(event: EventEnvelope): void {
    const userId = (event.data as { userId?: unknown })?.userId;
    const at = Date.parse(event.occurredAt);
    if (typeof userId !== 'string' || !Number.isFinite(at)) return;
    this.revoke(userId, at, event.type);
  }

  /** Refuses the user's tokens issued at or before `atMs` and closes their sockets opened with such a token. */
  revoke(userId: string, atMs: number, why = 'revoked'): void {
    if ((this.notBefore.get(userId) ?? -1) < atMs) this.notBefore.set(userId, atMs);
    const open = this.sockets.get(userId);
    if (!open) return;
    let closed = 0;
    for (const s of open) {
      if (s.issuedMs > atMs) continue;
      open.delete(s);
      closed++;
      s.close(CLOSE_UNAUTHORIZED, 'Unauthorized');
    }
    if (!open.size) this.sockets.delete(userId);
    if (closed) this.logger.info({ userId, closed, why }, 'sessions revoked: sockets closed');
  }

  /** True when this token of the user was issued at or before their last revocation. */
  isRevoked(userId: string, issuedMs: number): boolean {
    const nbf = this.notBefore.get(userId);
    return nbf !== undefined && issuedMs <= nbf;
  }

  assertCurrent(userId: string | undefined, token: TokenTimes | undefined): void {
    if (userId && token && this.isRevoked(userId, token.issuedMs)) throw revokedError();
  }

  /** Registers an authenticated socket; the returned function unregisters it (call it when the socket closes). */
  track(userId: string, issuedMs: number, close: (code: number, reason: string) => void): () => void {
    const entry: TrackedSocket = { issuedMs, close };
    let set = this.sockets.get(userId);
    if (!set) this.sockets.set(userId, (set = new Set()));
    set.add(entry);
    return () => {
      const s = this.sockets.get(userId);
      s?.delete(entry);
      if (s && !s.size) this.sockets.delete(userId);
    };
  }

  private prune(): void {
    const horizon = Date.now() - (this.ttlSeconds + 60) * 1000;
    for (const [userId, nbf] of this.notBefore) if (nbf < horizon) this.notBefore.delete(userId);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.pruner);
    for (const s of this.streams.splice(0)) s.stop();
    await this.nc?.close().catch(() => undefined);
  }
}
