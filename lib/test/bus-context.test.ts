import { Writable } from 'node:stream';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Msg, MsgHdrs } from 'nats';
import {
  Bus,
  createLogger,
  createOrm,
  enqueueEvent,
  EventEnvelope,
  makeEvent,
  migrate,
  OutboxRelay,
  REQUEST_ID_HEADER,
  requestContext,
} from '../src';
import { createTestEnv, eventually, TestEnv } from '../src/testing';

// The request context a NATS message carries to its handler: the request id always, the trace context when tracing
// is on. First with tracing off (the OpenTelemetry API's no-ops, as in a process without an OTLP endpoint), then with
// a tracer provider registered in this test's process (what lib/src/tracing.ts registers when it is on).

let env: TestEnv;
let orm: MikroORM;
let bus: Bus;
beforeAll(async () => {
  env = await createTestEnv();
  orm = await createOrm({ config: env.config, service: 'user', entities: [], migrations: [] });
  await migrate(orm);
  bus = await Bus.connect(env.config);
});
afterAll(async () => {
  await bus?.close();
  await orm?.close();
  await env?.cleanup();
});

/** What a handler saw of its context. */
const seen = () => ({
  requestId: requestContext.getStore()?.requestId,
  traceId: trace.getActiveSpan()?.spanContext().traceId,
  spanId: trace.getActiveSpan()?.spanContext().spanId,
});
type Seen = ReturnType<typeof seen>;

/** Headers of the next message on `subject` (a core subscription sees JetStream publishes too). */
function nextHeaders(subject: string): Promise<MsgHdrs | undefined> {
  return new Promise((resolve) => {
    bus.nc.subscribe(bus.subject(subject), { max: 1, callback: (_err, m: Msg) => resolve(m.headers) });
  });
}

async function consumeOne(durable: string, subject: string): Promise<() => Promise<Seen & { event: EventEnvelope }>> {
  let done: (v: Seen & { event: EventEnvelope }) => void;
  const got = new Promise<Seen & { event: EventEnvelope }>((resolve) => (done = resolve));
  await bus.consume({ durable, subjects: [subject], handler: async (event) => done({ ...seen(), event }) });
  return () => got;
}

describe('tracing off', () => {
  it('a command carries x-request-id into the handler’s requestContext, and no trace context', async () => {
    bus.serve('ctx.off', async () => seen());
    const headers = nextHeaders('cmd.ctx.off');
    const reply = await requestContext.run({ requestId: 'req-command-1' }, () =>
      bus.request<object, Seen>('ctx.off', {}),
    );
    expect(reply).toEqual({ requestId: 'req-command-1' });
    expect((await headers)?.get(REQUEST_ID_HEADER)).toBe('req-command-1');
    expect((await headers)?.has('traceparent')).toBe(false);
    // Outside a request: no header block at all, and the handler runs without a request id.
    expect(await bus.request<object, Seen>('ctx.off', {})).toEqual({});
  });

  it('an event carries x-request-id into its consumer’s requestContext, and no trace context', async () => {
    const got = await consumeOne('ctx-off', 'user.ctx_off');
    const headers = nextHeaders('user.ctx_off');
    const event = makeEvent('user.ctx_off', { n: 1 });
    await requestContext.run({ requestId: 'req-event-1' }, () => bus.publish(event));
    expect(await got()).toEqual({ requestId: 'req-event-1', event });
    expect((await headers)?.get(REQUEST_ID_HEADER)).toBe('req-event-1');
    expect((await headers)?.has('traceparent')).toBe(false);
  });

  it('an outbox row keeps the request id of the transaction that wrote it; the relay publishes under it', async () => {
    const got = await consumeOne('ctx-off-outbox', 'user.ctx_outbox_off');
    const event = await requestContext.run({ requestId: 'req-outbox-1' }, () =>
      orm.em.fork().transactional(async (em) => enqueueEvent(em, 'user.ctx_outbox_off', { n: 2 })),
    );
    const [row] = await orm.em
      .fork()
      .getConnection()
      .execute(`SELECT traceparent, request_id FROM outbox WHERE id = ?`, [event.id]);
    expect(row).toEqual({ traceparent: null, request_id: 'req-outbox-1' });
    // The relay's pass runs outside any request; the message still names the one that wrote the row.
    await new OutboxRelay(orm, bus).flush();
    expect(await got()).toMatchObject({ requestId: 'req-outbox-1', traceId: undefined, event: { id: event.id } });
  });
});

describe('tracing on (a provider registered in this process)', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
  });
  afterAll(() => {
    trace.disable();
    propagation.disable();
    context.disable();
  });
  const tracer = () => trace.getTracer('test');
  const spans = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
  // A handler's span ends after the handler returns (and after its reply or ack goes out), so the test can see the
  // handler's result a moment before the span is exported.
  const finished = (name: string) =>
    eventually(`span "${name}" finished`, async () => exporter.getFinishedSpans().find((s) => s.name === name));

  it('a command continues the caller’s trace: CLIENT span → SERVER span → the handler', async () => {
    bus.serve('ctx.on', async () => seen());
    const { reply, traceId } = await tracer().startActiveSpan('caller', async (span) => {
      const r = await requestContext.run({ requestId: 'req-command-2' }, () => bus.request<object, Seen>('ctx.on', {}));
      span.end();
      return { reply: r, traceId: span.spanContext().traceId };
    });
    const [client] = spans('send cmd.ctx.on');
    const server = await finished('process cmd.ctx.on');
    expect(client.kind).toBe(SpanKind.CLIENT);
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(client.spanContext().traceId).toBe(traceId);
    expect(server.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    expect(server.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': bus.subject('cmd.ctx.on'),
      'messaging.operation.type': 'process',
    });
    expect(reply).toEqual({ requestId: 'req-command-2', traceId, spanId: server.spanContext().spanId });
  });

  it('an event continues the publisher’s trace: PRODUCER span → CONSUMER span → the handler, whose log lines name it', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger(
      'test',
      'info',
      new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk))), cb()) }),
    );
    let consumed: (v: Seen) => void;
    const got = new Promise<Seen>((resolve) => (consumed = resolve));
    await bus.consume({
      durable: 'ctx-on',
      subjects: ['user.ctx_on'],
      handler: async () => {
        logger.info('handled');
        consumed(seen());
      },
    });
    const event = makeEvent('user.ctx_on', { n: 3 });
    const traceId = await tracer().startActiveSpan('publisher', async (span) => {
      await requestContext.run({ requestId: 'req-event-2' }, () => bus.publish(event));
      span.end();
      return span.spanContext().traceId;
    });
    const handled = await got;
    const [producer] = spans('publish user.ctx_on');
    const consumer = await finished('process user.ctx_on');
    expect(producer.kind).toBe(SpanKind.PRODUCER);
    expect(producer.attributes['messaging.message.id']).toBe(event.id);
    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(handled).toEqual({ requestId: 'req-event-2', traceId, spanId: consumer.spanContext().spanId });
    expect(lines.find((l) => l.msg === 'handled')).toMatchObject({
      requestId: 'req-event-2',
      traceId,
      spanId: consumer.spanContext().spanId,
    });
  });

  it('the relay publishes an outbox row as part of the trace that wrote it, not of its own pass', async () => {
    const got = await consumeOne('ctx-on-outbox', 'user.ctx_outbox_on');
    const { event, traceId, spanId } = await tracer().startActiveSpan('transaction', async (span) => {
      const e = await requestContext.run({ requestId: 'req-outbox-2' }, () =>
        orm.em.fork().transactional(async (em) => enqueueEvent(em, 'user.ctx_outbox_on', { n: 4 })),
      );
      span.end();
      return { event: e, ...span.spanContext() };
    });
    const [row] = await orm.em
      .fork()
      .getConnection()
      .execute(`SELECT traceparent, request_id FROM outbox WHERE id = ?`, [event.id]);
    expect(row).toEqual({ traceparent: `00-${traceId}-${spanId}-01`, request_id: 'req-outbox-2' });
    // A pass inside an unrelated span (as when a later request kicks the relay) still uses the row's context.
    await tracer().startActiveSpan('unrelated', async (span) => {
      await new OutboxRelay(orm, bus).flush();
      span.end();
    });
    const handled = await got();
    const [producer] = spans('publish user.ctx_outbox_on');
    expect(producer.parentSpanContext?.spanId).toBe(spanId);
    expect(producer.spanContext().traceId).toBe(traceId);
    expect(handled).toMatchObject({ requestId: 'req-outbox-2', traceId });
  });
});
