import type http from 'node:http';
import { print, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { ApolloServer, ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { ApolloGateway } from '@apollo/gateway';
import {
  acceptRequestId,
  AppError,
  Config,
  graphqlHttpHandler,
  headerOf,
  jsonBody,
  Keys,
  REQUEST_ID_HEADER,
} from '@shop/kernel';
import type { BrowserEdge } from './browser/http';
import type { ContextBuilder, GatewayContext } from './context';
import type { GatewayRequest } from './http';
import { BODY_LIMIT_BYTES, Edge } from './edge';
import { authenticate, authenticateToken, clientIp } from './identity';
import type { LiveSessions } from './sessions';

/** Apollo Server over the federated gateway, with the edge's options and plugins first, then `plugins` (the caches). */
export async function startApollo(deps: {
  config: Config;
  gateway: ApolloGateway;
  edge: Edge;
  browser: BrowserEdge;
  plugins: ApolloServerPlugin<GatewayContext>[];
}): Promise<ApolloServer<GatewayContext>> {
  const { config, edge } = deps;
  const apollo = new ApolloServer<GatewayContext>({
    gateway: deps.gateway as never,
    introspection: !config.isProduction,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: !config.isProduction,
    // The gateway's own shutdown (server.ts, main.ts) drains the HTTP server and then stops Apollo.
    stopOnTerminationSignals: false,
    ...edge.apollo, // document limits, error masking, safelist
    plugins: [
      config.isProduction
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
      deps.browser.plugin,
      ...edge.plugins,
      // After the edge: limits, safelist and rate limits decide before a cached answer can be served.
      ...deps.plugins,
    ],
  });
  await apollo.start();
  return apollo;
}

/**
 * `/graphql` over HTTP (kernel `graphqlHttpHandler`: node:http, no Express): the caller's address under TRUST_PROXY,
 * CORS and the cross-site cookie check (browser), the edge's rate limit before the body is read, the body limit, a
 * request id (the client's `x-request-id` when valid, else a new one; response header and operation context), the
 * edge's query size limit, then Apollo with the caller's context (a bad or revoked token is UNAUTHENTICATED). The
 * caller is the `Authorization` header's, else the browser's access cookie's (a refused cookie still lets the
 * request sign in or out: BrowserEdge.plugin).
 */
export function graphqlEndpoint(
  apollo: ApolloServer<GatewayContext>,
  deps: {
    edge: Edge;
    browser: BrowserEdge;
    keys: Keys;
    sessions: LiveSessions;
    context: ContextBuilder;
    clientAddress: (req: http.IncomingMessage) => string | undefined;
  },
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const { edge, browser: browserEdge, keys, sessions } = deps;
  const handler = graphqlHttpHandler<GatewayContext, GatewayRequest>(apollo, {
    steps: [
      (req, _res, next) => {
        req.ip = deps.clientAddress(req);
        next();
      },
      browserEdge.cors,
      browserEdge.csrf,
      edge.beforeBody,
      jsonBody(BODY_LIMIT_BYTES),
      (req, res, next) => {
        // A client's own id is kept when it is a UUID or a short token (it then names the request in every service's
        // logs); anything else is replaced, so a header cannot smuggle text into log lines.
        const requestId = acceptRequestId(headerOf(req, REQUEST_ID_HEADER));
        res.setHeader(REQUEST_ID_HEADER, requestId);
        // Carried in the operation's context (not in async-local storage: main.ts).
        req.requestId = requestId;
        next();
      },
      edge.afterBody,
    ],
    context: async (req, res) => {
      const requestId = req.requestId!;
      const header = headerOf(req, 'authorization');
      const { browser, accessCookie } = browserEdge.session(req, res);
      if (header || !accessCookie) {
        const { identity } = authenticate(keys, header, clientIp(req), sessions);
        return deps.context(identity, requestId, browser);
      }
      try {
        const { identity } = authenticateToken(keys, accessCookie, clientIp(req), sessions);
        return deps.context(identity, requestId, browser);
      } catch (err) {
        browser.sessionError = err as AppError;
        return deps.context({ ip: clientIp(req) }, requestId, browser);
      }
    },
    onError: edge.errorHandler,
  });
  return handler as (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

/** Queries and mutations sent over the WebSocket run through Apollo, as over HTTP, with the socket's context. */
export function executeThrough(
  apollo: ApolloServer<GatewayContext>,
): (args: ExecutionArgs) => Promise<ExecutionResult> {
  return async (args) => {
    const res = await apollo.executeOperation(
      {
        query: print(args.document),
        variables: (args.variableValues ?? undefined) as Record<string, unknown> | undefined,
        operationName: args.operationName ?? undefined,
      },
      { contextValue: args.contextValue as GatewayContext },
    );
    if (res.body.kind !== 'single') throw new Error('incremental delivery is not supported over WebSocket');
    return res.body.singleResult as never;
  };
}
