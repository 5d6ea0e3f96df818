import type { ApolloServerPlugin } from '@apollo/server';
import type { Identity } from './auth';
import type { Logger } from './logger';

/**
 * One log line per GraphQL operation: `{ operationName, durationMs, outcome, requestId, userId }`, message
 * `graphql request`. `outcome` is `ok`, or the distinct `extensions.code`s of the errors the client got (as sent:
 * after masking), comma-separated. The gateway logs it at info (its access log), subgraphs at debug (so one
 * request's lines can be followed through every service in the central log store).
 */
export function accessLogPlugin<C extends { requestId?: string; identity?: Identity }>(
  logger: Logger,
  level: 'info' | 'debug',
): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      if (!logger.isLevelEnabled(level)) return;
      const started = performance.now();
      return {
        async willSendResponse({ response, contextValue, operationName, request }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : undefined;
          const codes = [...new Set((errors ?? []).map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))];
          logger[level](
            {
              operationName: (operationName ?? request.operationName ?? null)?.slice(0, 100) ?? null,
              durationMs: Math.round((performance.now() - started) * 10) / 10,
              outcome: codes.length ? codes.join(',') : 'ok',
              requestId: contextValue?.requestId,
              userId: contextValue?.identity?.userId,
            },
            'graphql request',
          );
        },
      };
    },
  };
}
