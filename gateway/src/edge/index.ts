import type { ApolloServerOptions, ApolloServerPlugin } from '@apollo/server';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import { Config, createRedis, Identity, Keys, Logger } from '@shop/kernel';
import type { GatewayContext } from '../server';
import { BODY_LIMIT_BYTES, formatOutside, gatewayFormatError, httpErrorHandler } from './errors';
import { checkDocument, checkQuerySize, limitRules, parseOptions } from './limits';
import { EdgeRateLimiter, rateLimitedError } from './ratelimit';
import { notOnSafelist, PersistedQueryManifest, Safelist } from './safelist';

export { BODY_LIMIT_BYTES } from './errors';
export * from './limits';
export * from './ratelimit';
export * from './safelist';

type SocketExtra = { identity?: Identity } & Record<PropertyKey, unknown>;

/** What the graphql-ws server of the subscription bridge needs to apply the same edge rules. */
export interface WebSocketEdge {
  maxPayload: number;
  hooks: Pick<ServerOptions<Record<string, unknown>, SocketExtra>, 'onSubscribe' | 'onError' | 'onNext'>;
}

export interface Edge {
  /** Spread into the ApolloServer options. */
  apollo: Pick<ApolloServerOptions<GatewayContext>, 'validationRules' | 'parseOptions' | 'formatError' | 'persistedQueries'>;
  plugins: ApolloServerPlugin<GatewayContext>[];
  /** Express, on /graphql before the body is read: the rate limit. */
  beforeBody: RequestHandler;
  /** Express, on /graphql after the body is parsed: the query size limit. */
  afterBody: RequestHandler;
  /** Express error handler after /graphql: 413 and bad JSON as coded JSON. */
  errorHandler: ErrorRequestHandler;
  websocket(schema: GraphQLSchema): WebSocketEdge;
  /** The `/media` request budget of a client address: seconds to wait when over it, undefined when allowed. */
  mediaRateLimit(ip: string | undefined): Promise<number | undefined>;
  stop(): Promise<void>;
}

/**
 * The gateway's edge protection in one place (README "Security"): document limits (graphql-armor rules, tokens,
 * query size), the request body limit, rate limits in Redis, the optional safelist, and error masking — applied to
 * HTTP through Apollo and Express and to graphql-ws through the bridge's hooks.
 */
export function createEdge(deps: { config: Config; keys: Keys; logger: Logger; safelist?: PersistedQueryManifest }): Edge {
  const { config, keys, logger } = deps;
  const limits = config.edge.limits;
  const rules = limitRules(limits);
  const { perIp, perUser, authPerIp, mediaPerIp } = config.edge.rateLimit;
  // No Redis connection (and no round trip per request) when every rate limit is off.
  const redis = perIp || perUser || authPerIp || mediaPerIp ? createRedis(config) : undefined;
  redis?.on('error', (err) => logger.warn({ err: err.message }, 'rate limiter: redis error'));
  const limiter = new EdgeRateLimiter(redis, config.edge.rateLimit, logger);
  if (config.edge.safelist && !deps.safelist) throw new Error('SAFELIST=on but no persisted-query manifest was loaded');
  const safelist = config.edge.safelist ? new Safelist(deps.safelist!) : undefined;
  const formatError = gatewayFormatError(config, limits, logger);

  return {
    apollo: {
      validationRules: rules,
      parseOptions: parseOptions(limits),
      formatError,
      ...(safelist ? { persistedQueries: { cache: safelist.apqCache(), ttl: null } } : {}),
    },
    plugins: [limiter.plugin(), ...(safelist ? [safelist.plugin() as ApolloServerPlugin<GatewayContext>] : [])],
    beforeBody: limiter.httpMiddleware(keys),
    afterBody: (req, res, next) => {
      const query = req.method === 'GET' ? req.query?.query : (req.body as { query?: unknown } | undefined)?.query;
      const err = checkQuerySize(limits, query);
      if (!err) return next();
      res.status(400).json({ errors: [{ message: err.message, extensions: err.extensions }] });
    },
    errorHandler: httpErrorHandler(logger),
    websocket(schema) {
      return {
        maxPayload: BODY_LIMIT_BYTES,
        hooks: {
          // Every message of the socket passes the same gates as an HTTP request before anything runs.
          onSubscribe: async (ctx, _id, payload) => {
            const retryAfter = await limiter.general(ctx.extra.identity ?? {});
            if (retryAfter !== undefined) return [rateLimitedError(retryAfter)];
            const checked = checkDocument(schema, limits, payload.query, rules);
            if (checked.errors) return checked.errors;
            if (safelist && !safelist.isListed(checked.document, payload.operationName)) return [notOnSafelist()];
            return { schema, document: checked.document, operationName: payload.operationName, variableValues: payload.variables };
          },
          onError: (_ctx, _id, _payload, errors) => formatOutside(formatError, errors),
          onNext: (_ctx, _id, _payload, args, result) => {
            if (!result.errors?.length) return undefined;
            const requestId = (args.contextValue as GatewayContext | undefined)?.requestId;
            return { ...result, errors: formatOutside(formatError, result.errors, requestId) };
          },
        },
      };
    },
    mediaRateLimit: (ip) => limiter.media(ip),
    async stop() {
      // QUIT would wait in the offline queue for a Redis that is not there.
      if (redis?.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis?.disconnect();
    },
  };
}
