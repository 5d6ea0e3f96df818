import type { ErrorRequestHandler } from 'express';
import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { GraphQLError, GraphQLFormattedError } from 'graphql';
import { Config, ErrorCode, Logger, makeFormatError, tagRequestId } from '@shop/kernel';
import { isTokenLimitError, Limits } from './limits';

/** Request bodies above this get HTTP 413 (HTTP and WebSocket messages alike). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

export type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/**
 * The gateway's formatError: the kernel's masking (coded errors pass, anything else — including errors coming
 * back from subgraphs — becomes INTERNAL_SERVER_ERROR with the request id, logged in full, message and stack
 * hidden in production), plus: the token limit coded like the other document limits, and no field suggestions
 * in production (they would reveal the schema that introspection hides).
 */
export function gatewayFormatError(config: Config, limits: Limits, logger: Logger): FormatError {
  const base = makeFormatError({
    isProduction: config.isProduction,
    log: (err, requestId) => logger.error({ err, requestId }, 'unexpected error'),
  });
  return (formatted, error) => {
    if (formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' && isTokenLimitError(formatted.message)) {
      formatted = {
        message: `Token limit of ${limits.maxTokens} exceeded.`,
        extensions: { code: ErrorCode.BAD_USER_INPUT, limit: 'tokens', max: limits.maxTokens },
      };
    }
    const out = base(formatted, error);
    if (!config.isProduction) return out;
    return { ...out, message: out.message.replace(/ ?Did you mean .*\?$/, '') };
  };
}

/** What the error plugin needs of the operation's context. */
interface WithRequestId {
  requestId?: string;
}

const tagErrors: GraphQLRequestListener<WithRequestId> = {
  async didEncounterErrors({ errors, contextValue }) {
    for (const error of errors) tagRequestId(error, contextValue.requestId);
  },
};

/**
 * Names the operation's request id on its errors before Apollo formats them (formatError sees no context): a masked
 * internal error then carries the id the client quotes, and its log line the same id, without the request context
 * (which the gateway turns off: main.ts). One shared listener, nothing allocated per request.
 */
export function errorRequestIdPlugin<C extends WithRequestId>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return tagErrors as GraphQLRequestListener<C>;
    },
  };
}

/** The same formatting for errors that do not pass through Apollo (the WebSocket path), under the operation's request id. */
export function formatOutside(
  format: FormatError,
  errors: readonly (GraphQLError | GraphQLFormattedError)[],
  requestId?: string,
): GraphQLFormattedError[] {
  return errors.map((e) => {
    if (!(e instanceof GraphQLError)) return e; // already formatted by Apollo (queries over the socket)
    tagRequestId(e, requestId);
    const { http: _http, ...extensions } = e.extensions ?? {};
    const formatted: GraphQLFormattedError = { ...e.toJSON(), extensions };
    return format(formatted, e);
  });
}

/** JSON answers, with a code, for what Express rejects before Apollo sees the request (body too large, bad JSON). */
export function httpErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
    const status = e.status ?? e.statusCode ?? 500;
    let body: GraphQLFormattedError;
    if (e.type === 'entity.too.large') {
      body = {
        message: `Request body too large (limit ${BODY_LIMIT_BYTES} bytes)`,
        extensions: { code: ErrorCode.BAD_USER_INPUT, limit: 'body', max: BODY_LIMIT_BYTES },
      };
    } else if (status >= 400 && status < 500) {
      body = {
        message: e.type === 'entity.parse.failed' ? 'The request body is not valid JSON' : 'Bad request',
        extensions: { code: 'BAD_REQUEST' },
      };
    } else {
      // Set by the request-id step of the GraphQL chain (graphql.ts), when the error came after it.
      const requestId = (req as { requestId?: string }).requestId;
      logger.error({ err, requestId }, 'unexpected error before GraphQL');
      body = {
        message: 'Internal server error',
        extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
      };
    }
    res.status(status >= 400 && status < 600 ? status : 500).json({ errors: [body] });
  };
}
