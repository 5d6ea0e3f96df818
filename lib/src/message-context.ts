import {
  Attributes,
  context,
  Context,
  propagation,
  ROOT_CONTEXT,
  Span,
  SpanKind,
  SpanStatusCode,
  TextMapGetter,
  TextMapSetter,
  trace,
} from '@opentelemetry/api';
import { headers as natsHeaders, Match, MsgHdrs } from 'nats';
import { REQUEST_ID_HEADER } from './auth';
import { requestContext } from './logger';

// The request context a NATS message carries from its sender to its handler: W3C trace context (`traceparent`,
// `tracestate`, injected by the registered propagator) and the request id (`x-request-id`), as message headers.
// With tracing off (lib/src/tracing.ts) the OpenTelemetry API is a no-op: no propagator writes anything, spans are
// non-recording shells, and only the request id travels.

/** What an outbox row stores of the transaction that wrote it, and what a message carries of its sender. */
export interface MessageOrigin {
  traceparent?: string;
  tracestate?: string;
  requestId?: string;
}

const tracer = trace.getTracer('@shop/kernel/bus');

const setter: TextMapSetter<MsgHdrs> = { set: (h, key, value) => h.set(key, value) };
const getter: TextMapGetter<MsgHdrs | undefined> = {
  get: (h, key) => h?.get(key, Match.IgnoreCase) || undefined,
  keys: (h) => h?.keys() ?? [],
};

/** The current request's origin: the active trace context and request id (enqueueEvent stores it with the row). */
export function currentOrigin(): MessageOrigin {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const origin: MessageOrigin = {};
  if (carrier.traceparent) origin.traceparent = carrier.traceparent;
  if (carrier.tracestate) origin.tracestate = carrier.tracestate;
  const requestId = requestContext.getStore()?.requestId;
  if (requestId) origin.requestId = requestId;
  return origin;
}

/** Attributes of the OpenTelemetry messaging conventions; `type` is the subject without the deployment prefix. */
export function messagingAttributes(
  subject: string,
  operation: { type: 'send' | 'process'; name: string },
  extra: Attributes = {},
): Attributes {
  return {
    'messaging.system': 'nats',
    'messaging.destination.name': subject,
    'messaging.operation.type': operation.type,
    'messaging.operation.name': operation.name,
    ...extra,
  };
}

/**
 * Sends a message in a span of `kind` (PRODUCER for an event, CLIENT for a command), child of the origin's trace
 * context (an outbox row's) or else of the active one, with the headers `send` must put on the message.
 */
export async function sendWithContext<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  origin: MessageOrigin | undefined,
  send: (headers: MsgHdrs | undefined) => Promise<T>,
): Promise<T> {
  const parent = origin ? propagation.extract(ROOT_CONTEXT, origin) : context.active();
  const requestId = origin ? origin.requestId : requestContext.getStore()?.requestId;
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  let h: MsgHdrs | undefined;
  if (requestId) (h = natsHeaders()).set(REQUEST_ID_HEADER, requestId);
  if (span.isRecording() || trace.getSpanContext(parent)) {
    const carrier = h ?? natsHeaders();
    propagation.inject(trace.setSpan(parent, span), carrier, setter);
    if (carrier.keys().length) h = carrier;
  }
  return ended(span, () => send(h));
}

/**
 * Runs a message's handler in a span of `kind` (CONSUMER for an event, SERVER for a command), child of the trace
 * context the message carries, and inside `requestContext` with its request id, so every log line of the handler
 * names the request (and trace) that caused it.
 */
export function handleWithContext<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  headers: MsgHdrs | undefined,
  handle: () => Promise<T>,
): Promise<T> {
  const parent: Context = headers ? propagation.extract(ROOT_CONTEXT, headers, getter) : ROOT_CONTEXT;
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  const requestId = headers?.get(REQUEST_ID_HEADER, Match.IgnoreCase).slice(0, 100);
  const run = () => context.with(trace.setSpan(parent, span), () => ended(span, handle));
  return requestId ? requestContext.run({ requestId }, run) : run();
}

/**
 * Runs work that was queued by a request and is done later in the background (an email the queue sends) in a span
 * that continues that request's trace, under its request id.
 */
export function continueOrigin<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  origin: MessageOrigin,
  fn: () => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, origin);
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  const run = () => context.with(trace.setSpan(parent, span), () => ended(span, fn));
  return origin.requestId ? requestContext.run({ requestId: origin.requestId }, run) : run();
}

/** Marks the active span failed with `err` (a handler's failure its wrapper catches and answers itself). */
export function failActiveSpan(err: unknown): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  span.recordException(err as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: String((err as Error)?.message ?? err) });
}

/** Ends `span` when `fn` settles, recording a failure. */
async function ended<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (span.isRecording()) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: String((err as Error)?.message ?? err) });
    }
    throw err;
  } finally {
    span.end();
  }
}
