import pino, { Logger } from 'pino';
import { AsyncLocalStorage } from 'node:async_hooks';

export type { Logger };

/** Carries the request id through async work so every log line of a request can be correlated. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

/** `destination`: where lines go instead of stdout (tests that assert on what was logged). */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', 'newPassword', 'currentPassword', 'token', '*.password', '*.token', 'authorization'], censor: '[redacted]' },
    mixin() {
      const ctx = requestContext.getStore();
      return ctx ? { requestId: ctx.requestId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
