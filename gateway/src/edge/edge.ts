import type http from 'node:http';
import querystring from 'node:querystring';
import type { ApolloServerOptions, ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, GraphQLSchema } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import type { VerifyClientCallbackAsync } from 'ws';
import {
  clientAddressKey,
  Config,
  createRedis,
  DocumentCache,
  ErrorCode,
  HttpStep,
  Identity,
  Keys,
  Logger,
  sendJson,
} from '@shop/kernel';
import type { GatewayContext } from '../context';
import type { GatewayRequest } from '../http';
import { BODY_LIMIT_BYTES, errorRequestIdPlugin, formatOutside, gatewayFormatError, httpErrorHandler } from './errors';
import { checkDocument, checkQuerySize, checkVariableCost, limitError, limitRules, parseOptions } from './limits';
import { EdgeRateLimiter, rateLimitedError } from './ratelimit';
import { notOnSafelist, PersistedQueryManifest, Safelist } from './safelist';

type SocketExtra = { identity?: Identity } & Record<PropertyKey, unknown>;

/** What the graphql-ws server of the subscription bridge needs to apply the same edge rules. */
export interface WebSocketEdge {
  maxPayload: number;
  /** `ws` verifyClient: refuses an upgrade over the per-address connection cap or connect rate (HTTP 429, JSON body). */
  verifyClient: VerifyClientCallbackAsync<http.IncomingMessage>;
  hooks: Pick<ServerOptions<Record<string, unknown>, SocketExtra>, 'onSubscribe' | 'onError' | 'onNext'>;
}

export interface Edge {
  /** Spread into the ApolloServer options. */
  apollo: Pick<
    ApolloServerOptions<GatewayContext>,
    'validationRules' | 'parseOptions' | 'formatError' | 'persistedQueries'
  >;
  plugins: ApolloServerPlugin<GatewayContext>[];
  /** A step of /graphql before the body is read: the rate limit. */
  beforeBody: HttpStep<GatewayRequest>;
  /** A step of /graphql after the body is parsed: the query size limit. */
  afterBody: HttpStep<GatewayRequest>;
  /** /graphql's answer to what failed before Apollo: 413 and bad JSON as coded JSON. */
  errorHandler: (err: unknown, req: GatewayRequest, res: http.ServerResponse) => void;
  /** `clientAddress`: the caller's address under the same TRUST_PROXY rules as HTTP's `req.ip`. */
  websocket(schema: GraphQLSchema, clientAddress: (req: http.IncomingMessage) => string | undefined): WebSocketEdge;
  /** The `/media` request budget of a client address: seconds to wait when over it, undefined when allowed. */
  mediaRateLimit(ip: string | undefined): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** A GET request's `query` parameter, as Express's query parser gave it (an array when repeated). */
function queryParam(url: string | undefined): unknown {
  const q = url?.indexOf('?') ?? -1;
  if (q < 0) return undefined;
  const hash = url!.indexOf('#', q);
  return querystring.parse(url!.slice(q + 1, hash < 0 ? undefined : hash)).query;
}

/** The per-address WebSocket cap (this instance): the upgrade is refused with HTTP 429. */
function wsConnectionsError(max: number): GraphQLError {
  return new GraphQLError(`Too many open WebSocket connections from this address (limit ${max})`, {
    extensions: { code: ErrorCode.RATE_LIMITED, limit: 'connections', max },
  });
}

/** The cost limit with the variables' values (`first: $n`), which validation rules cannot see. */
function variableCostPlugin(limits: Config['edge']['limits']): ApolloServerPlugin<GatewayContext> {
  if (!limits.maxCost) return {};
  return {
    requestDidStart: async () => ({
      didResolveOperation: async (rc) => {
        const err = checkVariableCost(limits, rc.document, rc.operationName, rc.request.variables);
        if (err) throw err;
      },
    }),
  };
}

/**
 * The gateway's edge protection in one place (docs/security.md): document limits (graphql-armor rules, tokens,
 * query size), the request body limit, rate limits in Redis, the optional safelist, and error masking — applied to
 * HTTP through Apollo and Express and to graphql-ws through the bridge's hooks.
 */
export function createEdge(deps: {
  config: Config;
  keys: Keys;
  logger: Logger;
  safelist?: PersistedQueryManifest;
}): Edge {
  const { config, keys, logger } = deps;
  const limits = config.edge.limits;
  const rules = limitRules(limits);
  const { perIp, perUser, authPerIp, mediaPerIp } = config.edge.rateLimit;
  const wsLimits = config.edge.websocket;
  // No Redis connection (and no round trip per request) when every rate limit is off.
  const redis =
    perIp || perUser || authPerIp || mediaPerIp || wsLimits.connectRatePerIp ? createRedis(config) : undefined;
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
    plugins: [
      errorRequestIdPlugin(),
      variableCostPlugin(limits),
      limiter.plugin(),
      ...(safelist ? [safelist.plugin() as ApolloServerPlugin<GatewayContext>] : []),
    ],
    beforeBody: limiter.httpMiddleware(keys),
    afterBody: (req, res, next) => {
      const query = req.method === 'GET' ? queryParam(req.url) : (req.body as { query?: unknown } | undefined)?.query;
      const err = checkQuerySize(limits, query);
      if (!err) return next();
      sendJson(req, res, 400, { errors: [{ message: err.message, extensions: err.extensions }] });
    },
    errorHandler: httpErrorHandler(logger),
    websocket(schema, clientAddress) {
      /** Open sockets per client address key, this instance only (a reservation is taken before the upgrade completes). */
      const open = new Map<string, number>();
      // Parsed and validated once per operation text: every subscriber of one operation shares its document.
      const documents = new DocumentCache((query) => checkDocument(schema, limits, query, rules));
      const refuse = (
        done: Parameters<VerifyClientCallbackAsync>[1],
        status: number,
        error: GraphQLError,
        headers: Record<string, string> = {},
      ) => {
        const { http: _http, ...extensions } = error.extensions ?? {};
        const body = JSON.stringify({ errors: [{ message: error.message, extensions }] });
        done(false, status, body, { 'Content-Type': 'application/json', ...headers });
      };
      return {
        maxPayload: BODY_LIMIT_BYTES,
        verifyClient: (info, done) => {
          const ip = clientAddress(info.req);
          const key = clientAddressKey(ip);
          const max = wsLimits.maxConnectionsPerIp;
          let release = () => undefined as void;
          if (max) {
            const n = open.get(key) ?? 0;
            if (n >= max) {
              return refuse(done, 429, wsConnectionsError(max));
            }
            open.set(key, n + 1);
            let released = false;
            release = () => {
              if (released) return;
              released = true;
              const left = (open.get(key) ?? 1) - 1;
              if (left > 0) open.set(key, left);
              else open.delete(key);
            };
            // The TCP socket's close covers every ending: refused below, failed handshake, or the WebSocket closing later.
            info.req.socket.once('close', release);
          }
          void limiter.wsConnect(ip, wsLimits).then((retryAfter) => {
            if (retryAfter === undefined) return done(true);
            release();
            refuse(done, 429, rateLimitedError(retryAfter), { 'Retry-After': String(retryAfter) });
          });
        },
        hooks: {
          // Every message of the socket passes the same gates as an HTTP request before anything runs.
          onSubscribe: async (ctx, _id, payload) => {
            // Operations in flight on this socket, this one included (graphql-ws registers it before this hook).
            const maxSubs = wsLimits.maxSubscriptionsPerConnection;
            if (maxSubs && Object.keys(ctx.subscriptions).length > maxSubs) {
              return [
                limitError('subscriptions', maxSubs, `Subscription limit of ${maxSubs} per connection exceeded.`),
              ];
            }
            const retryAfter = await limiter.general(ctx.extra.identity ?? {});
            if (retryAfter !== undefined) return [rateLimitedError(retryAfter)];
            const checked = documents.get(payload.query);
            if (checked.errors) return checked.errors;
            const tooCostly = checkVariableCost(limits, checked.document, payload.operationName, payload.variables);
            if (tooCostly) return [tooCostly];
            if (safelist && !safelist.isListed(checked.document, payload.operationName)) return [notOnSafelist()];
            return {
              schema,
              document: checked.document,
              operationName: payload.operationName,
              variableValues: payload.variables,
            };
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
