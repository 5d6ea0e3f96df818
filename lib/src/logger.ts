import pino, { Logger } from 'pino';
import { AsyncLocalStorage } from 'node:async_hooks';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';

export type { Logger };

interface RequestStore {
  requestId: string;
}

/**
 * Carries the request id through async work so every log line of a request can be correlated (an
 * AsyncLocalStorage). A process that passes its request data explicitly can turn it off (`disable`): on Node 20 an
 * AsyncLocalStorage, once entered, turns on promise hooks for every promise of the process — in the gateway that was
 * ~16 % of its CPU per uncached request (bench/README.md). `run` then just calls, `getStore` answers undefined.
 */
class RequestContext {
  private readonly storage = new AsyncLocalStorage<RequestStore>();
  private enabled = true;
  run<R>(store: RequestStore, fn: () => R): R {
    return this.enabled ? this.storage.run(store, fn) : fn();
  }
  getStore(): RequestStore | undefined {
    return this.enabled ? this.storage.getStore() : undefined;
  }
  /** For the whole process, before any request. */
  disable(): void {
    this.enabled = false;
  }
}
export const requestContext = new RequestContext();

/**
 * Secret fields never reach a log line, at the top level or nested up to three objects deep (an event's `data.token`
 * logged as `{ event }` is three deep): passwords, email link tokens, refresh/access tokens, the authorization header.
 */
export const LOG_SECRET_KEYS = [
  'password',
  'newPassword',
  'currentPassword',
  'token',
  'refreshToken',
  'accessToken',
  'authorization',
  'x-gateway-token',
];
const REDACT_PATHS = LOG_SECRET_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const join = (prefix: string) => (key.startsWith('[') ? `${prefix}${key}` : prefix ? `${prefix}.${key}` : key);
  return [join(''), join('*'), join('*.*'), join('*.*.*')];
});

/**
 * A request id a client (or the gateway, for a subgraph) may choose: a UUID or a short token of letters, digits,
 * `.`, `_` and `-`. Anything else (too long, spaces, control characters, a log-injection attempt) is replaced.
 */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The given request id when it is acceptable, else a fresh UUID. */
export function acceptRequestId(given: string | undefined | null): string {
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export interface LoggerOptions {
  /** Also ship every line to the central log store (a LogShipper, logship.ts); stdout (or `destination`) still gets them. */
  ship?: pino.DestinationStream;
  /** Level of the stdout (or `destination`) copy when shipping, if it must be quieter than the shipped one (tests). */
  destinationLevel?: pino.Level | 'silent';
}

/**
 * `destination`: where lines go instead of stdout (tests that assert on what was logged). With `ship`, each line
 * pino serialized (and redacted) goes to both: the shipper only appends it to its buffer.
 */
export function createLogger(
  service: string,
  level = 'info',
  destination?: pino.DestinationStream,
  opts: LoggerOptions = {},
): Logger {
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
  if (opts.ship) {
    // pino's default destination, made explicit so that a second stream can sit beside it.
    const primary = destination ?? pino.destination({ dest: process.stdout.fd || 1, sync: false });
    return pino(
      options,
      pino.multistream([
        { level: opts.destinationLevel ?? 'trace', stream: primary },
        { level: 'trace', stream: opts.ship },
      ]),
    );
  }
  return destination ? pino(options, destination) : pino(options);
}
