import http from 'node:http';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

// Loaded before the rest of the gateway (main.ts): node built-ins and `ws` only.

const STARTING_BODY = JSON.stringify({
  errors: [{ message: 'The gateway is starting; retry shortly.', extensions: { code: 'SERVICE_UNAVAILABLE' } }],
});

/** WebSocket close code 1013, "try again later". */
export const TRY_AGAIN_LATER = 1013;

/**
 * The gateway's port, bound before the rest of the gateway loads, so that a restarted gateway refuses connections
 * only while Node boots (~0.1 s) instead of until it has loaded and started (~1.5 s). graphql-ws's client retries a
 * closed connection by default, but a refused one is an error that ends its subscriptions: after a restart, every
 * client whose first retry came before the port was bound gave up (bench/README.md, "Reconnect storm").
 *
 * Until `handOver`, every request is answered 503 with `Retry-After: 1` (/health and /ready too: a gateway still
 * starting is neither live nor ready) and a WebSocket is accepted and closed with 1013, which the client retries.
 */
export class StartingListener {
  readonly httpServer = http.createServer();
  private readonly sockets = new WebSocketServer({ noServer: true });
  private readonly onRequest = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1', connection: 'close' });
    res.end(STARTING_BODY);
  };
  private readonly onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    this.sockets.handleUpgrade(req, socket, head, (ws) => ws.close(TRY_AGAIN_LATER, 'the gateway is starting'));
  };

  constructor() {
    this.httpServer.on('request', this.onRequest);
    this.httpServer.on('upgrade', this.onUpgrade);
  }

  /** Binds all interfaces; resolves with the port (0 = a free one). */
  async listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.httpServer.once('error', reject);
      this.httpServer.listen(port, '0.0.0.0', () => resolve());
    });
    return this.port;
  }

  get port(): number {
    return (this.httpServer.address() as AddressInfo).port;
  }

  /**
   * The started gateway takes over the port: `app` answers requests, and the upgrade listener it has attached (its
   * WebSocket server) takes the sockets. Called with no await between attaching that listener and this.
   */
  handOver(app: http.RequestListener): void {
    this.httpServer.off('request', this.onRequest);
    this.httpServer.off('upgrade', this.onUpgrade);
    this.httpServer.on('request', app);
    this.sockets.close();
  }
}

/** GATEWAY_WORKERS' process count (0 = one per core); the primary of more than one only supervises (perf/cluster.ts). */
export function gatewayWorkers(requested: number): number {
  return requested === 0 ? os.availableParallelism() : requested;
}
