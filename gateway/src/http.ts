import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Express } from 'express';
import proxyaddr from 'proxy-addr';
import { Config, GraphQLHttpRequest, HttpDrain } from '@shop/kernel';

/** A request on `/graphql` (graphql.ts): the client address under TRUST_PROXY, and the request id once assigned. */
export type GatewayRequest = GraphQLHttpRequest & { ip?: string; requestId?: string };

export interface HttpParts {
  /** Everything but `/graphql` (graphql.ts serves that on node:http: kernel `httpFront`). */
  app: Express;
  /** With no request listener yet: the front is attached (or handed over) once Apollo has started. */
  httpServer: http.Server;
  /** "trust proxy" as Express compiles TRUST_PROXY: which hops' addresses to believe. */
  trust: (addr: string, i: number) => boolean;
  /** The caller's address under TRUST_PROXY (Express's `req.ip`), for requests Express does not see. */
  clientAddress: (req: http.IncomingMessage) => string | undefined;
  /** Graceful close of `httpServer` at shutdown (in-flight requests finish, idle sockets close). */
  drain: HttpDrain;
}

/** The Express app and the HTTP server: a new one (not yet listening), or `bound`, which takes the front at hand-over. */
export function createHttp(config: Config, bound?: http.Server): HttpParts {
  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY as Express documents it (config.ts parses it); GraphQL and the WebSocket upgrade use the same function.
  app.set('trust proxy', config.edge.trustProxy);
  const trust = app.get('trust proxy fn') as (addr: string, i: number) => boolean;
  const httpServer = bound ?? http.createServer();
  return { app, httpServer, trust, clientAddress: (req) => proxyaddr(req, trust), drain: new HttpDrain(httpServer) };
}

/** Listens on all interfaces; resolves with the port (0 = a free one). */
export async function listen(httpServer: http.Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, '0.0.0.0', () => resolve());
  });
  return (httpServer.address() as AddressInfo).port;
}
