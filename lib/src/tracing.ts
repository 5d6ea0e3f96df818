import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { IncomingMessage } from 'node:http';

// OpenTelemetry tracing of one process (`@shop/kernel/tracing`). Every process entry calls `startTracing(name)` as its
// FIRST statement, before anything loads express, pg, ioredis or http: the instrumentations patch those modules when
// they are required. This file therefore imports nothing of the kernel (its index loads them all) and loads the SDK
// itself only when an OTLP endpoint is configured: without one, nothing is loaded, nothing is patched, and the
// `@opentelemetry/api` calls elsewhere (bus, logger) stay the API's no-ops.

let sdk: NodeSDK | undefined;

/** The protocols of `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf` when unset, as the OTLP specification says). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

type Env = Record<string, string | undefined>;

/** Whether the environment names an OTLP endpoint for traces: the one switch that turns tracing on. */
export function tracingConfigured(env: Env = process.env): boolean {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED ?? '')) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** Whether this process started the SDK (and registered a tracer provider). */
export function tracingStarted(): boolean {
  return sdk !== undefined;
}

/** `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`; anything else throws. */
export function otlpProtocol(env: Env = process.env): OtlpProtocol {
  const raw = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(raw))
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL must be one of ${OTLP_PROTOCOLS.join(', ')} (got "${raw}")`);
  return raw as OtlpProtocol;
}

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on demand: tracing off must load none of it */
function exporterFor(protocol: OtlpProtocol): SpanExporter {
  // Each exporter reads its endpoint, headers, timeout and compression from the standard OTEL_EXPORTER_OTLP_* variables.
  switch (protocol) {
    case 'http/json':
      return new (
        require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http')
      ).OTLPTraceExporter();
    case 'http/protobuf':
      return new (
        require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto')
      ).OTLPTraceExporter();
    case 'grpc': {
      let grpc: { OTLPTraceExporter: new () => SpanExporter };
      try {
        grpc = require('@opentelemetry/exporter-trace-otlp-grpc');
      } catch {
        throw new Error(
          'OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs @opentelemetry/exporter-trace-otlp-grpc, which is not installed: use http/protobuf or http/json',
        );
      }
      return new grpc.OTLPTraceExporter();
    }
  }
}

/** Probes and scrapes are not requests anyone wants a trace of. */
const UNTRACED_PATHS = /^\/(health|ready|metrics)(\?|$)/;

/**
 * Starts OpenTelemetry tracing for the process named `service` when an OTLP endpoint is configured
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); otherwise does nothing and returns false.
 * `OTEL_SERVICE_NAME` overrides `service`; the sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`), the batch
 * processor (`OTEL_BSP_*`) and the propagators (`OTEL_PROPAGATORS`, W3C trace context + baggage by default) come from
 * the environment as the SDK reads them. Call it before anything else is required; calling it again does nothing.
 */
export function startTracing(service: string, env: Env = process.env): boolean {
  if (sdk) return true;
  if (!tracingConfigured(env)) return false;
  const exporter = exporterFor(otlpProtocol(env));
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } =
    require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici');
  const { ExpressInstrumentation } =
    require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { GraphQLInstrumentation } =
    require('@opentelemetry/instrumentation-graphql') as typeof import('@opentelemetry/instrumentation-graphql');
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } =
    require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME || service,
    traceExporter: exporter,
    // Traces only: metrics are prom-client's (/metrics) and logs are pino's; the SDK must not start its own exporters.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED_PATHS.test(req.url ?? ''),
        // Outgoing calls outside any request (health probes, pollers) would each start a trace of one span.
        requireParentforOutgoingSpans: true,
      }),
      new UndiciInstrumentation({ requireParentforSpans: true }),
      new ExpressInstrumentation(),
      // A span per resolver that only reads a property would drown the interesting ones.
      new GraphQLInstrumentation({ ignoreTrivialResolveSpans: true, mergeItems: true }),
      // Background pollers (outbox relays, the email queue, sweepers) query every few hundred milliseconds: their
      // statements are traced only inside a span (a request, a NATS message), never as traces of their own.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  return true;
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Exports the spans still buffered and stops the SDK (a process's shutdown awaits it last, after its own work has
 * stopped, so the spans of that work are sent). A no-op when tracing is off; never throws.
 */
export async function stopTracing(): Promise<void> {
  const s = sdk;
  sdk = undefined;
  await s?.shutdown().catch((err: unknown) => console.error(`tracing: could not flush spans: ${String(err)}`));
}
