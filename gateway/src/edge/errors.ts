import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { GraphQLError, GraphQLFormattedError } from 'graphql';
import type http from 'node:http';
import { answerHttpError, Config, ErrorCode, Logger, makeFormatError, tagRequestId } from '@shop/kernel';
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

/** JSON answers, with a code, for what fails before Apollo sees the request (body too large, bad JSON). */
export function httpErrorHandler(
  logger: Logger,
): (err: unknown, req: http.IncomingMessage & { requestId?: string }, res: http.ServerResponse) => void {
  return (err, req, res) => answerHttpError(logger, BODY_LIMIT_BYTES, err, req, res);
}
