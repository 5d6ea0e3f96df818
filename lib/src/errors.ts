import { GraphQLError, GraphQLFormattedError } from 'graphql';
import { requestContext } from './logger';

/** Every error code the public API uses (CONTRACT.md). */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  EMAIL_NOT_VERIFIED: 'EMAIL_NOT_VERIFIED',
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  EMAIL_TAKEN: 'EMAIL_TAKEN',
  INVALID_TOKEN: 'INVALID_TOKEN',
  INSUFFICIENT_STOCK: 'INSUFFICIENT_STOCK',
  CART_EXPIRED: 'CART_EXPIRED',
  CART_EMPTY: 'CART_EMPTY',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  /**
   * A product's price or deal changed between the cart pricing it and the stock being sold: nothing was charged or
   * sold, `extensions.productId` names the product. Reading the cart again shows the new prices; the same call then succeeds.
   */
  PRICE_CHANGED: 'PRICE_CHANGED',
  IDEMPOTENCY_CONFLICT: 'IDEMPOTENCY_CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  /** A subgraph (named in `extensions.service`) could not be reached; the rest of the answer stands. Retry later. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A GraphQL error whose `extensions.code` clients can switch on. */
export class AppError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extensions } });
  }
  get code(): ErrorCode {
    return this.extensions.code as ErrorCode;
  }
}

export const unauthenticated = (message = 'You must be signed in') => new AppError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message = 'You are not allowed to do this') => new AppError(ErrorCode.FORBIDDEN, message);
export const notFound = (what: string) => new AppError(ErrorCode.NOT_FOUND, `${what} not found`);
/** A validation error naming the offending input field in `extensions.field`. */
export const badInput = (field: string, message: string) => new AppError(ErrorCode.BAD_USER_INPUT, message, { field });
export const invalidToken = (message = 'The token is invalid or has expired') =>
  new AppError(ErrorCode.INVALID_TOKEN, message);
export const serviceUnavailable = (service: string) =>
  new AppError(ErrorCode.SERVICE_UNAVAILABLE, `The ${service} service is unavailable; try again shortly`, { service });
export const rateLimited = (retryAfterSeconds: number) =>
  new AppError(ErrorCode.RATE_LIMITED, `Too many attempts; try again in ${retryAfterSeconds} s`, {
    retryAfter: retryAfterSeconds,
  });

const KNOWN_CODES = new Set<string>([
  ...Object.values(ErrorCode),
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
]);

const CONTRACT_CODES = new Set<string>(Object.values(ErrorCode));

const requestIds = new WeakMap<object, string>();

/**
 * Names the request an error belongs to, for `makeFormatError` (which Apollo calls without the request's context):
 * where the request context is off (the gateway) or the error is formatted outside the request (WebSocket path).
 */
export function tagRequestId(error: unknown, requestId: string | undefined): void {
  if (requestId && typeof error === 'object' && error !== null) requestIds.set(error, requestId);
}

/**
 * Apollo `formatError`: coded errors pass through; anything else is an internal error whose message and
 * stack never reach the client in production (the full error is logged with the request id, which the
 * client gets in `extensions.requestId` to quote).
 */
export function makeFormatError(opts: { isProduction: boolean; log?: (err: unknown, requestId?: string) => void }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    let code = formatted.extensions?.code as string | undefined;
    const original = (error as { originalError?: unknown })?.originalError ?? error;
    // Apollo re-codes every validation error GRAPHQL_VALIDATION_FAILED; a rule that reported a contract code
    // (e.g. the gateway's document limits: BAD_USER_INPUT) keeps it.
    const ruleCode = (original as GraphQLError | undefined)?.extensions?.code;
    if (code === 'GRAPHQL_VALIDATION_FAILED' && typeof ruleCode === 'string' && CONTRACT_CODES.has(ruleCode)) {
      code = ruleCode;
      formatted = { ...formatted, extensions: { ...formatted.extensions, code } };
    }
    if (code && KNOWN_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      if (opts.isProduction) {
        const { stacktrace: _s, exception: _e, ...ext } = formatted.extensions ?? {};
        return { ...formatted, extensions: ext };
      }
      return formatted;
    }
    const requestId =
      (formatted.extensions?.requestId as string | undefined) ??
      (typeof error === 'object' && error !== null ? requestIds.get(error) : undefined) ??
      requestContext.getStore()?.requestId;
    opts.log?.(original, requestId);
    if (!opts.isProduction)
      return {
        ...formatted,
        extensions: { ...formatted.extensions, code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
      };
    return {
      message: 'Internal server error',
      path: formatted.path,
      locations: formatted.locations,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
    };
  };
}
