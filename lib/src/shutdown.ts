import type http from 'node:http';
import type { Socket } from 'node:net';
import type { ShutdownConfig } from './config';
import type { Logger } from './logger';

/**
 * How every process stops (docs/observability.md "Readiness and shutdown"). On SIGTERM or SIGINT:
 * 1. `/ready` answers 503 at once (`beginShutdown`);
 * 2. the process keeps serving for `SHUTDOWN_DELAY_SECONDS`, while load balancers take it out of rotation;
 * 3. `stop({ graceMs })`: the port closes, in-flight HTTP requests finish, idle keep-alive sockets close, WebSockets
 *    close with 1001 (going away: graphql-ws clients reconnect elsewhere), NATS subscriptions drain (in-flight handlers
 *    finish), sweepers and relays stop, then Redis and PostgreSQL close — all within `SHUTDOWN_GRACE_SECONDS`,
 *    after which what is left is closed by force;
 * 4. exit 0, or 1 when something had to be forced. A second signal exits at once (1).
 */

export interface StopOptions {
  /**
   * How long in-flight work may take to finish before it is cut off. Unset (tests, `stack.stop()`): connections are
   * closed at once, as before graceful shutdown existed.
   */
  graceMs?: number;
}

/** What the signal handler drives: a subgraph (`StartedService`) or the gateway. */
export interface Stoppable {
  /** Step 1: `/ready` answers 503 "shutting down" from now on; everything else keeps working. */
  beginShutdown(): void;
  /** Step 3. Resolves false when the grace ran out and something was closed by force. */
  stop(opts: StopOptions): Promise<boolean | void>;
}

/** Extra time, after the grace, for the closes that follow the drain (NATS, Redis, PostgreSQL) before a hard exit. */
export const SHUTDOWN_BACKSTOP_MS = 5000;
/** A repeat of the signal within this window is the same request (a terminal's Ctrl-C also reaches `npm start`, which forwards it). */
const REPEAT_WINDOW_MS = 1000;

/**
 * Installs the SIGTERM/SIGINT handling of a process entry point (subgraphs: `runSubgraph`; gateway: main.ts). Returns
 * `shutdown(reason)`, for a shutdown asked for otherwise (a cluster worker told by its primary).
 */
export function onShutdownSignals(
  target: Stoppable,
  opts: {
    logger: Logger;
    config: ShutdownConfig;
    /** Replaced in tests. */
    exit?: (code: number) => void;
    /** Where the signals come from (tests: an EventEmitter). */
    signalSource?: Pick<NodeJS.EventEmitter, 'on'>;
  },
): { shutdown(reason: string): Promise<void> } {
  const { logger, config } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let startedAt: number | undefined;
  const shutdown = async (reason: string): Promise<void> => {
    if (startedAt !== undefined) return;
    startedAt = Date.now();
    logger.info({ reason, delayMs: config.delayMs, graceMs: config.graceMs }, 'shutting down: not ready any more');
    target.beginShutdown();
    if (config.delayMs) await new Promise((r) => setTimeout(r, config.delayMs));
    logger.info({ graceMs: config.graceMs }, 'shutting down: closing the port and draining');
    // Whatever hangs past the grace (a close that never returns) must not keep the process alive.
    const backstop = setTimeout(() => {
      logger.error({ graceMs: config.graceMs }, 'shutdown did not finish within the grace; exiting now');
      exit(1);
    }, config.graceMs + SHUTDOWN_BACKSTOP_MS);
    backstop.unref();
    let code = 0;
    try {
      if ((await target.stop({ graceMs: config.graceMs })) === false) {
        logger.warn({ graceMs: config.graceMs }, 'shutdown grace ran out: the rest was closed by force');
        code = 1;
      }
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
      code = 1;
    }
    clearTimeout(backstop);
    logger.info({ code, ms: Date.now() - startedAt }, 'stopped');
    exit(code);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    (opts.signalSource ?? process).on(signal, () => {
      if (startedAt === undefined) return void shutdown(signal);
      if (Date.now() - startedAt < REPEAT_WINDOW_MS) return;
      logger.warn({ signal }, 'second signal: exiting now');
      exit(1);
    });
  }
  return { shutdown };
}

/**
 * Graceful close of an HTTP server, in the manner of Kubernetes-friendly servers (stoppable, http-terminator):
 * `drain` stops accepting connections, closes idle keep-alive sockets at once, lets requests in flight finish (their
 * responses carry `Connection: close`, so the socket ends with them) and destroys whatever is left when the grace
 * runs out. Upgraded sockets (WebSockets) count as connections: their owner closes them (with 1001) meanwhile.
 */
export class HttpDrain {
  private readonly sockets = new Set<Socket>();
  private readonly responses = new Set<http.ServerResponse>();
  private draining?: Promise<boolean>;

  constructor(private readonly server: http.Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      this.responses.add(res);
      if (this.draining) closeAfter(res);
      res.once('close', () => {
        this.responses.delete(res);
        // A response whose headers went out before the drain leaves a kept-alive socket behind: close it now.
        if (this.draining) setImmediate(() => this.server.closeIdleConnections());
      });
    });
  }

  /** Requests being answered now. */
  get inFlight(): number {
    return this.responses.size;
  }

  /** Open sockets (HTTP, kept-alive and upgraded). */
  get connections(): number {
    let open = 0;
    for (const s of this.sockets) if (!s.destroyed) open++;
    return open;
  }

  /**
   * Resolves true once every connection has ended, or false when `graceMs` ran out first (the rest destroyed).
   * `graceMs` 0 closes everything at once. Calling it again returns the same drain.
   */
  drain(graceMs = 0): Promise<boolean> {
    this.draining ??= this.run(graceMs);
    return this.draining;
  }

  private async run(graceMs: number): Promise<boolean> {
    for (const res of this.responses) closeAfter(res);
    const closed = new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (inTime) return true;
    for (const socket of this.sockets) socket.destroy();
    await closed;
    // Nothing was in flight: an immediate close (graceMs 0) is not a forced one.
    return graceMs === 0;
  }
}

function closeAfter(res: http.ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
}
