import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import express, { Express } from 'express';
import { print, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { ApolloServer, ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { ApolloGateway } from '@apollo/gateway';
import { Config, Keys, REQUEST_ID_HEADER, requestContext } from '@shop/kernel';
import type { ContextBuilder, GatewayContext } from './context';
import { BODY_LIMIT_BYTES, Edge } from './edge';
import { authenticate, clientIp } from './identity';
import type { LiveSessions } from './sessions';

/** Apollo Server over the federated gateway, with the edge's options and plugins first, then `plugins` (the caches). */
export async function startApollo(deps: {
  config: Config;
  gateway: ApolloGateway;
  httpServer: http.Server;
  edge: Edge;
  plugins: ApolloServerPlugin<GatewayContext>[];
}): Promise<ApolloServer<GatewayContext>> {
  const { config, edge } = deps;
  const apollo = new ApolloServer<GatewayContext>({
    gateway: deps.gateway as never,
    introspection: !config.isProduction,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: !config.isProduction,
    ...edge.apollo, // document limits, error masking, safelist
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: deps.httpServer }),
      config.isProduction
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
      ...edge.plugins,
      // After the edge: limits, safelist and rate limits decide before a cached answer can be served.
      ...deps.plugins,
    ],
  });
  await apollo.start();
  return apollo;
}

/**
 * POST/GET `/graphql`: the edge's rate limit before the body is read, the body limit, a request id (response header
 * and log context), the edge's query size limit, then Apollo with the caller's context (a bad or revoked token is
 * UNAUTHENTICATED).
 */
export function mountGraphQL(
  app: Express,
  apollo: ApolloServer<GatewayContext>,
  deps: { edge: Edge; keys: Keys; sessions: LiveSessions; context: ContextBuilder },
): void {
  const { edge, keys, sessions } = deps;
  app.use(
    '/graphql',
    edge.beforeBody,
    express.json({ limit: BODY_LIMIT_BYTES }),
    (req, res, next) => {
      const requestId = randomUUID();
      res.setHeader(REQUEST_ID_HEADER, requestId);
      (req as express.Request & { requestId?: string }).requestId = requestId;
      requestContext.run({ requestId }, () => next());
    },
    edge.afterBody,
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const requestId = (req as express.Request & { requestId: string }).requestId;
        const { identity } = authenticate(keys, req.header('authorization'), clientIp(req), sessions);
        return deps.context(identity, requestId);
      },
    }),
  );
  app.use('/graphql', edge.errorHandler);
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
