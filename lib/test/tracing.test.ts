import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src';
import { otlpProtocol, startTracing, tracingConfigured, tracingStarted } from '../src/tracing';
import { OtlpReceiver, REPO_ROOT, startOtlpReceiver } from '../src/testing';

// `@shop/kernel/tracing` as a process entry runs it: in a fresh Node process (the built lib/dist/tracing.js), since
// what it must (or must not) do is patch modules and register globals before anything else is loaded.

const TRACING_JS = path.join(REPO_ROOT, 'lib/dist/tracing.js');
const run = promisify(execFile);

/** Runs `body` in a fresh Node process after `startTracing(<service>)`; resolves with what it printed as JSON. */
async function inProcess(service: string, env: Record<string, string>, body: string): Promise<any> {
  if (!fs.existsSync(TRACING_JS))
    throw new Error('lib/dist/tracing.js is missing: run `npx tsc -b tsconfig.build.json`');
  const script = `
    const { startTracing, stopTracing, tracingStarted } = require(${JSON.stringify(TRACING_JS)});
    const started = startTracing(${JSON.stringify(service)});
    (async () => { ${body} })().then((out) => console.log(JSON.stringify({ started, ...out })));`;
  const { stdout } = await run(process.execPath, ['-e', script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver?.stop());

it('without an OTLP endpoint it loads nothing, patches nothing and registers nothing', async () => {
  const out = await inProcess(
    'cart',
    { OTEL_SERVICE_NAME: 'ignored', OTEL_TRACES_SAMPLER: 'always_on' },
    `
    const otel = Object.keys(require.cache).filter((f) => f.includes('@opentelemetry'));
    const http = require('node:http');
    const api = require('@opentelemetry/api');
    const span = api.trace.getTracer('t').startSpan('s');
    return { otel, tracing: tracingStarted(), httpPatched: Boolean(http.request.__wrapped || http.get.__wrapped), recording: span.isRecording() };`,
  );
  expect(out).toEqual({ started: false, otel: [], tracing: false, httpPatched: false, recording: false });
  // The same in this process: no endpoint here either.
  expect(tracingConfigured({})).toBe(false);
  expect(startTracing('test', {})).toBe(false);
  expect(tracingStarted()).toBe(false);
});

it('with an endpoint it traces: http patched, spans exported over OTLP/JSON under the service name, flushed on stop', async () => {
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'always_on',
  };
  const body = `
    const http = require('node:http');
    const api = require('@opentelemetry/api');
    const traceId = await api.trace.getTracer('t').startActiveSpan('unit-span', async (span) => {
      span.end();
      return span.spanContext().traceId;
    });
    await stopTracing();
    return { traceId, httpPatched: Boolean(http.request.__wrapped), stopped: !tracingStarted() };`;
  const named = await inProcess('cart', env, body);
  expect(named).toMatchObject({ started: true, httpPatched: true, stopped: true });
  // No batch delay to wait for: stopTracing() exported the span before the process ended.
  expect(receiver.spans().find((s) => s.traceId === named.traceId)).toMatchObject({
    name: 'unit-span',
    service: 'cart',
  });

  // OTEL_SERVICE_NAME wins over the process's own name.
  const renamed = await inProcess('cart', { ...env, OTEL_SERVICE_NAME: 'cart-eu-1' }, body);
  expect(receiver.spans().find((s) => s.traceId === renamed.traceId)?.service).toBe('cart-eu-1');
});

it('refuses an unknown protocol with a message naming the variable, at start and in the configuration', () => {
  expect(otlpProtocol({})).toBe('http/protobuf');
  expect(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBe('http/json');
  expect(() => otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' })).toThrow(
    'OTEL_EXPORTER_OTLP_PROTOCOL must be one of http/protobuf, http/json, grpc (got "udp")',
  );
  expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'udp', OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(
    /OTEL_EXPORTER_OTLP_PROTOCOL must be one of http\/protobuf, http\/json, grpc[\s\S]*OTEL_TRACES_SAMPLER must be one of/,
  );
});
