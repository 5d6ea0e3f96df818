import { ErrorCode, NatsError } from 'nats';

/**
 * nats.js settles a request (a JetStream publish is one too) by resolving its promise and then cancelling the request,
 * and the cancel rejects the settled promise with a new "cancelled" NatsError, which the promise ignores. Making that
 * Error captured a stack trace each time: 13–20 µs of a 30–40 µs request round trip (requester and responder in one
 * process, bench/README.md "Fourteenth round"), and a checkout makes seven (three requests, four event publishes).
 * Here a CANCELLED error is made without a stack (`Error.stackTraceLimit = 0` while nats.js makes it): a request that
 * is really cancelled still rejects with a NatsError of code CANCELLED and its message, only without nats.js's own
 * frames. Every other error keeps its stack. Applied by `Bus.connect` (once per process, however often it is called).
 */
export function stacklessCancelledErrors(): void {
  const errors = NatsError as unknown as {
    errorForCode: (code: string, chained?: Error) => NatsError;
    __stackless?: true;
  };
  if (errors.__stackless) return;
  const make = errors.errorForCode;
  errors.errorForCode = function (this: unknown, code: string, chained?: Error) {
    if (code !== ErrorCode.Cancelled) return make.call(this, code, chained);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return make.call(this, code, chained);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  errors.__stackless = true;
}
