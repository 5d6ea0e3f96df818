import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Express } from 'express';
import proxyaddr from 'proxy-addr';
import { Config, HttpDrain } from '@shop/kernel';

export interface HttpParts {
  app: Express;
  httpServer: http.Server;
  /** The caller's address under TRUST_PROXY, for requests Express does not see (the WebSocket upgrade). */
  clientAddress: (req: http.IncomingMessage) => string | undefined;
  /** Graceful close of `httpServer` at shutdown (in-flight requests finish, idle sockets close). */
  drain: HttpDrain;
}

/** The Express app and its HTTP server: a new one (not yet listening), or `bound`, which takes the app at hand-over. */
export function createHttp(config: Config, bound?: http.Server): HttpParts {
  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY as Express documents it (config.ts parses it); the WebSocket upgrade uses the same trust function.
  app.set('trust proxy', config.edge.trustProxy);
  const trust = app.get('trust proxy fn') as (addr: string, i: number) => boolean;
  const httpServer = bound ?? http.createServer(app);
  return { app, httpServer, clientAddress: (req) => proxyaddr(req, trust), drain: new HttpDrain(httpServer) };
}

/** Listens on all interfaces; resolves with the port (0 = a free one). */
export async function listen(httpServer: http.Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, '0.0.0.0', () => resolve());
  });
  return (httpServer.address() as AddressInfo).port;
}
