import type { ApolloServerPlugin } from '@apollo/server';
import { DocumentNode, GraphQLError, Kind, OperationDefinitionNode, SelectionSetNode } from 'graphql';
import { RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import {
  clientAddressKey,
  EdgeConfig,
  ErrorCode,
  headerOf,
  HttpStep,
  Identity,
  Keys,
  Logger,
  rateLimiter,
  Redis,
  retryAfterSeconds,
  sendJson,
} from '@shop/kernel';
import { sessionCookiesOf } from '../browser/cookies';
import { clientIp, identityFromAuthorization } from '../identity';
import type { GatewayContext } from '../context';
import type { GatewayRequest } from '../http';

/**
 * Mutations that check a password or send an email: a tighter budget per client IP (RATE_LIMIT_AUTH_PER_IP), on
 * top of the general one. Matched by root field name, so renaming the operation, aliasing the field or hiding it
 * in a fragment does not escape the count; every occurrence counts.
 */
export const AUTH_ROOT_FIELDS = new Set([
  'login',
  'register',
  'resendVerificationEmail',
  'requestPasswordReset',
  'resetPassword',
]);

/** Names of an operation's root fields (through fragments), one entry per occurrence. */
export function rootFieldNames(document: DocumentNode, operation: OperationDefinitionNode): string[] {
  const fragments = new Map(
    document.definitions
      .filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d.selectionSet] as const),
  );
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) out.push(s.name.value);
      else if (s.kind === Kind.INLINE_FRAGMENT) walk(s.selectionSet);
      else if (!seen.has(s.name.value) && fragments.has(s.name.value)) {
        seen.add(s.name.value);
        walk(fragments.get(s.name.value)!);
      }
    }
  };
  walk(operation.selectionSet);
  return out;
}

export function rateLimitedError(retryAfter: number): GraphQLError {
  return new GraphQLError(`Too many requests; try again in ${retryAfter} s`, {
    extensions: {
      code: ErrorCode.RATE_LIMITED,
      retryAfter,
      http: { status: 429, headers: new Map([['retry-after', String(retryAfter)]]) },
    },
  });
}

/**
 * Fixed-window request budgets in Redis (rate-limiter-flexible through the kernel's `rateLimiter`), shared by every gateway instance:
 * anonymous callers per IP (IPv6 per /64: `clientAddressKey`), signed-in callers per user (so people behind one address do not starve each other
 * and a user's budget follows them across addresses), sign-in and email mutations additionally per IP.
 * If Redis does not answer within `timeoutMs` the request goes through (logged): the limiter protects the
 * service, it must not take it down.
 */
export class EdgeRateLimiter {
  constructor(
    private readonly redis: Redis | undefined,
    private readonly cfg: EdgeConfig['rateLimit'],
    private readonly logger: Logger,
    private readonly timeoutMs = 250,
  ) {}

  /** One limiter per budget shape, each call bounded by `timeoutMs`. */
  private readonly limiters = new Map<string, RLWrapperTimeouts>();

  /** Seconds to wait when over the limit, undefined when allowed. `points`: units this request costs. */
  private async hit(key: string, limit: number, windowSeconds: number, points = 1): Promise<number | undefined> {
    if (!limit || !this.redis) return undefined;
    const shape = `${limit}/${windowSeconds}`;
    let limiter = this.limiters.get(shape);
    if (!limiter) {
      limiter = new RLWrapperTimeouts({
        limiter: rateLimiter(this.redis, limit, windowSeconds),
        timeoutMs: this.timeoutMs,
      });
      this.limiters.set(shape, limiter);
    }
    try {
      await limiter.consume(key, points);
      return undefined;
    } catch (err) {
      if (err instanceof RateLimiterRes) return retryAfterSeconds(err);
      this.logger.warn({ err }, 'rate limiter unavailable; request allowed');
      return undefined;
    }
  }

  /** The general budget: per user when signed in, per IP otherwise. */
  general(identity: Identity): Promise<number | undefined> {
    return identity.userId
      ? this.hit(`rl:user:${identity.userId}`, this.cfg.perUser, this.cfg.windowSeconds)
      : this.hit(`rl:ip:${clientAddressKey(identity.ip)}`, this.cfg.perIp, this.cfg.windowSeconds);
  }

  /** The sign-in / email budget, one hit per sensitive root field of the operation. */
  auth(ip: string | undefined, hits: number): Promise<number | undefined> {
    return this.hit(`rl:auth:${clientAddressKey(ip)}`, this.cfg.authPerIp, this.cfg.authWindowSeconds, hits);
  }

  /** WebSocket connection attempts per client address (WS_CONNECT_RATE_PER_IP per WS_CONNECT_WINDOW_SECONDS). */
  wsConnect(ip: string | undefined, ws: EdgeConfig['websocket']): Promise<number | undefined> {
    return this.hit(`rl:ws:${clientAddressKey(ip)}`, ws.connectRatePerIp, ws.connectWindowSeconds);
  }

  /** The `/media` budget (RATE_LIMIT_MEDIA_PER_IP), per client address with IPv6 per /64. */
  media(ip: string | undefined): Promise<number | undefined> {
    return this.hit(`rl:media:${clientAddressKey(ip)}`, this.cfg.mediaPerIp, this.cfg.windowSeconds);
  }

  /** Express middleware before the body is read: over-budget requests cost one Redis round trip and nothing else. */
  httpMiddleware(keys: Keys): HttpStep<GatewayRequest> {
    if (!this.redis || (!this.cfg.perIp && !this.cfg.perUser)) return (_req, _res, next) => next();
    return async (req, res, next) => {
      let identity: Identity;
      try {
        identity = identityFromAuthorization(
          keys,
          headerOf(req, 'authorization'),
          clientIp(req),
          sessionCookiesOf(req).access,
        );
      } catch {
        identity = { ip: clientIp(req) }; // a bad token is answered 401 later; it still spends its IP's budget
      }
      const retryAfter = await this.general(identity);
      if (retryAfter === undefined) return next();
      const e = rateLimitedError(retryAfter);
      sendJson(
        req,
        res,
        429,
        { errors: [{ message: e.message, extensions: { code: ErrorCode.RATE_LIMITED, retryAfter } }] },
        { 'retry-after': String(retryAfter) },
      );
    };
  }

  /** Apollo plugin: the sensitive mutations, found after parsing (HTTP and queries/mutations over WebSocket). */
  plugin(): ApolloServerPlugin<GatewayContext> {
    if (!this.redis || !this.cfg.authPerIp) return {};
    return {
      requestDidStart: async () => ({
        didResolveOperation: async (rc) => {
          if (rc.operation?.operation !== 'mutation') return;
          const hits = rootFieldNames(rc.document, rc.operation).filter((f) => AUTH_ROOT_FIELDS.has(f)).length;
          if (!hits) return;
          const retryAfter = await this.auth(rc.contextValue.identity?.ip, hits);
          if (retryAfter !== undefined) throw rateLimitedError(retryAfter);
        },
      }),
    };
  }
}
