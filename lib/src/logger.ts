import pino, { Logger } from 'pino';
import { AsyncLocalStorage } from 'node:async_hooks';
import { isSpanContextValid, trace } from '@opentelemetry/api';

export type { Logger };

/** Carries the request id through async work so every log line of a request can be correlated. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

/**
 * Secret fields never reach a log line, at the top level or nested up to three objects deep (an event's `data.token`
 * logged as `{ event }` is three deep): passwords, email link tokens, refresh/access tokens, the authorization header.
 */
const SECRET_KEYS = [
  'password',
  'newPassword',
  'currentPassword',
  'token',
  'refreshToken',
  'accessToken',
  'authorization',
  'x-gateway-token',
];
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const join = (prefix: string) => (key.startsWith('[') ? `${prefix}${key}` : prefix ? `${prefix}.${key}` : key);
  return [join(''), join('*'), join('*.*'), join('*.*.*')];
});

/** `destination`: where lines go instead of stdout (tests that assert on what was logged). */
export function createLogger(service: string, level = 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    mixin() {
      const ctx = requestContext.getStore();
      const fields: { requestId?: string; traceId?: string; spanId?: string } = ctx ? { requestId: ctx.requestId } : {};
      // The active span's ids (lib/src/tracing.ts), sampled or not: they still tie one request's lines together across
      // services. With tracing off the API has no active span and this adds nothing.
      const span = trace.getActiveSpan()?.spanContext();
      if (span && isSpanContextValid(span)) {
        fields.traceId = span.traceId;
        fields.spanId = span.spanId;
      }
      return fields;
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
