import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Express } from 'express';
import { ApolloServer, ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { GraphQLError, GraphQLSchema } from 'graphql';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { INTERNAL_TOKEN_HEADER, Keys, REQUEST_ID_HEADER, verifyInternalToken, Identity } from './auth';
import type { Config } from './config';
import { AppError, makeFormatError } from './errors';
import { subscribeLent } from './subscription-results';
import { accessLogPlugin } from './accesslog';
import { coalesceWrites } from './coalesce';
import { DocumentCache, parseAndValidate } from './documents';
import { acceptRequestId, Logger, requestContext } from './logger';
import { collectDefaultMetrics, metricsHandler } from './metrics';
import {
  answerHttpError,
  graphqlHttpHandler,
  GraphQLHttpRequest,
  headerOf,
  httpFront,
  jsonBody,
  sendJson,
} from './graphql-http';
import type { BaseContext } from './schema';
import { HttpDrain, StopOptions } from './shutdown';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

export interface SubgraphServerOptions<C extends BaseContext> {
  /** The subgraph's name in the supergraph: it accepts only internal tokens minted for this name. */
  name: string;
  config: Config;
  keys: Keys;
  schema: GraphQLSchema;
  logger: Logger;
  port: number;
  /** Per-request context beyond identity (DataLoaders, services); `req` is absent for subscriptions over WebSocket. */
  context: (base: BaseContext, req?: http.IncomingMessage) => C | Promise<C>;
  readiness: ReadinessCheck[];
  /** Extra routes (e.g. media uploads) mounted before GraphQL. */
  routes?: (app: Express) => void;
  plugins?: ApolloServerPlugin<C>[];
}

export interface RunningServer {
  url: string;
  port: number;
  httpServer: http.Server;
  /** `/ready` answers 503 "shutting down" from now on; requests are still served. */
  beginShutdown(): void;
  /**
   * Closes the port, lets in-flight requests finish within `graceMs` (unset: at once), closes WebSockets with 1001
   * (going away: the gateway's graphql-ws client reconnects, to another instance behind a load balancer). Resolves
   * false when the grace ran out and connections were cut.
   */
  stop(opts?: StopOptions): Promise<boolean>;
}

/** The subscriber's token: its own in the subscribe message's extensions, else the connection's. */
function subscriberToken(
  connectionParams: Readonly<Record<string, unknown>> | undefined,
  extensions: Record<string, unknown> | undefined | null,
): string | undefined {
  const t = extensions?.[INTERNAL_TOKEN_HEADER] ?? connectionParams?.[INTERNAL_TOKEN_HEADER];
  return typeof t === 'string' ? t : undefined;
}

/** The composition SDL query `{ _service { sdl } }` is allowed without a gateway token outside production. */
function isSdlQuery(body: unknown): boolean {
  const q = (body as { query?: unknown })?.query;
  return typeof q === 'string' && /^\s*(query[^{]*)?\{\s*_service\s*\{\s*sdl\s*\}\s*\}\s*$/.test(q);
}

/** A subgraph's request body limit (the gateway's own is the same: its requests fit in it). */
const BODY_LIMIT = 1024 * 1024;

export async function startSubgraphServer<C extends BaseContext>(
  opts: SubgraphServerOptions<C>,
): Promise<RunningServer> {
  const app = express();
  app.disable('x-powered-by');
  // Its request listener, the HTTP front (GraphQL apart from Express), is attached once Apollo has started.
  const httpServer = http.createServer();
  // The gateway keeps connections to subgraphs alive between requests; a server that closes an idle socket first
  // (Node's default is 5 s) races a request being sent on it ("socket hang up"). Idle sockets are closed by the client.
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;
  const drain = new HttpDrain(httpServer);
  let shuttingDown = false;

  collectDefaultMetrics();
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: opts.name });
  });
  // Prometheus scrapes each subgraph on its own port (its clients are the gateway and Prometheus, never browsers).
  app.get('/metrics', metricsHandler);
  app.get('/ready', async (_req, res) => {
    // Out of rotation first: the checks below would still pass while the process drains.
    if (shuttingDown) {
      res.status(503).json({ status: 'shutting down', service: opts.name });
      return;
    }
    const results = await Promise.all(
      opts.readiness.map(async (r) => {
        try {
          let timer: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              r.check(),
              new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('timeout')), 2000))),
            ]);
          } finally {
            clearTimeout(timer);
          }
          return { name: r.name, ok: true };
        } catch (err) {
          return { name: r.name, ok: false, error: String((err as Error).message ?? err) };
        }
      }),
    );
    const ok = results.every((r) => r.ok);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', service: opts.name, checks: results });
  });
  opts.routes?.(app);

  const apollo = new ApolloServer<C>({
    schema: opts.schema,
    introspection: !opts.config.isProduction,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: !opts.config.isProduction,
    // The process's own signal handling (shutdown.ts) stops it, in order; Apollo's would re-raise the signal.
    stopOnTerminationSignals: false,
    formatError: makeFormatError({
      isProduction: opts.config.isProduction,
      log: (err) => opts.logger.error({ err }, 'unexpected error'),
    }),
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      // A debug line per operation: with LOG_LEVEL=debug the central log store shows every service a request touched.
      accessLogPlugin<C>(opts.logger, 'debug'),
      ...(opts.plugins ?? []),
    ],
  });
  await apollo.start();

  type SubgraphRequest = GraphQLHttpRequest & { identity?: Identity; requestId?: string };
  const graphql = graphqlHttpHandler<C, SubgraphRequest>(apollo, {
    steps: [
      jsonBody(BODY_LIMIT),
      (req, res, next) => {
        // The gateway's id, checked like a client's there (a caller reaching a subgraph directly gets a fresh one).
        const requestId = acceptRequestId(headerOf(req, REQUEST_ID_HEADER));
        res.setHeader(REQUEST_ID_HEADER, requestId);
        let identity: Identity;
        try {
          identity = verifyInternalToken(opts.keys, headerOf(req, INTERNAL_TOKEN_HEADER), opts.name);
        } catch (err) {
          if (!opts.config.isProduction && isSdlQuery(req.body)) {
            identity = {};
          } else {
            const e = err as AppError;
            sendJson(req, res, 401, { errors: [{ message: e.message, extensions: { code: e.extensions.code } }] });
            return;
          }
        }
        req.identity = identity;
        req.requestId = requestId;
        requestContext.run({ requestId }, () => next());
      },
    ],
    context: async (req) => {
      const base: BaseContext = {
        identity: req.identity!,
        requestId: req.requestId!,
        logger: opts.logger.child({ requestId: req.requestId }),
      };
      return opts.context(base, req);
    },
    onError: (err, req, res) => answerHttpError(opts.logger, BODY_LIMIT, err, req, res),
  });
  httpServer.on('request', httpFront(opts.name, graphql, app));

  // Subscriptions: graphql-ws on the same path. The gateway authenticates the socket with a gateway token in
  // connectionParams and vouches for each subscriber with its own token in the subscribe message's extensions.
  let wsCleanup: { dispose(): void | Promise<void> } | undefined;
  if (opts.schema.getSubscriptionType()) {
    const wss = new WebSocketServer({ server: httpServer, path: '/graphql' });
    wss.on('connection', (_socket, req) => coalesceWrites(req.socket));
    const documents = new DocumentCache(parseAndValidate(opts.schema));
    wsCleanup = useServer<Record<string, unknown>>(
      {
        schema: opts.schema,
        // Each event executed as it arrives (a pushing source) and its result lent to graphql-ws's loop, let go once
        // sent (subscription-results.ts).
        subscribe: subscribeLent,
        onConnect: (ctx) => {
          try {
            verifyInternalToken(
              opts.keys,
              ctx.connectionParams?.[INTERNAL_TOKEN_HEADER] as string | undefined,
              opts.name,
            );
            return true;
          } catch {
            return false;
          }
        },
        // A subscribe message whose token this subgraph refuses (expired, forged, minted for another subgraph) gets an
        // UNAUTHENTICATED error for that subscription only: the gateway's connection carries other callers' subscriptions.
        onSubscribe: (ctx, _id, payload) => {
          try {
            verifyInternalToken(opts.keys, subscriberToken(ctx.connectionParams, payload.extensions), opts.name);
          } catch (err) {
            const e = err as AppError;
            return [new GraphQLError(e.message, { extensions: { code: e.extensions?.code ?? 'UNAUTHENTICATED' } })];
          }
          // One parse and validation per operation text (the gateway sends the same text for every subscriber).
          const checked = documents.get(payload.query);
          if (checked.errors) return [...checked.errors];
          return {
            schema: opts.schema,
            document: checked.document,
            operationName: payload.operationName,
            variableValues: payload.variables,
          };
        },
        context: async (ctx, _id, payload) => {
          // Verified in onSubscribe (and remembered by the verify cache).
          const identity = verifyInternalToken(
            opts.keys,
            subscriberToken(ctx.connectionParams, payload.extensions),
            opts.name,
          );
          const requestId = acceptRequestId(payload.extensions?.[REQUEST_ID_HEADER] as string | undefined);
          return opts.context({ identity, requestId, logger: opts.logger.child({ requestId }) });
        },
      },
      wss,
    );
  }

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port, '0.0.0.0', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  opts.logger.info({ port }, `${opts.name} subgraph listening`);
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    port,
    httpServer,
    beginShutdown() {
      shuttingDown = true;
    },
    async stop(stopOpts = {}) {
      shuttingDown = true;
      // graphql-ws's dispose closes every socket with 1001 and waits for them; the drain's deadline bounds it.
      const sockets = wsCleanup?.dispose();
      const drained = await drain.drain(stopOpts.graceMs ?? 0);
      await sockets;
      await apollo.stop();
      return drained;
    },
  };
}
