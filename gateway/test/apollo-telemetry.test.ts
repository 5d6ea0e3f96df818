import fs from 'node:fs';
import path from 'node:path';
import { createLogger, loadConfig } from '@shop/kernel';
import { createPerf } from '../src/perf/setup';
import { createSubgraphs } from '../src/subgraphs';

// @apollo/gateway exports usage metrics to Apollo every hour unless APOLLO_TELEMETRY_DISABLED is set when it is built.
// A self-hosted shop calls no third party on its own: off unless APOLLO_TELEMETRY=true.

const supergraphSdl = fs.readFileSync(path.resolve(__dirname, '../../schema/supergraph.graphql'), 'utf8');
const logger = createLogger('gateway', 'silent');
const before = process.env.APOLLO_TELEMETRY_DISABLED;
afterEach(() => {
  if (before === undefined) delete process.env.APOLLO_TELEMETRY_DISABLED;
  else process.env.APOLLO_TELEMETRY_DISABLED = before;
});

/** The gateway as the server builds it: how many things it registered to shut down (the telemetry's meter provider). */
async function build(env: Record<string, string>): Promise<{ disposers: number }> {
  delete process.env.APOLLO_TELEMETRY_DISABLED;
  const config = loadConfig({ ...env, GATEWAY_OPERATION_REUSE: 'false' });
  const deps = { config, logger, supergraphSdl };
  const { gateway } = createSubgraphs(deps, createPerf(deps, config.perf));
  const toDispose = (gateway as unknown as { toDispose: (() => Promise<void>)[] }).toDispose;
  const disposers = toDispose.length;
  await Promise.all(toDispose.map((dispose) => dispose()));
  return { disposers };
}

test('by default the gateway sends Apollo nothing: no telemetry exporter is created', async () => {
  expect((await build({})).disposers).toBe(0);
  expect(process.env.APOLLO_TELEMETRY_DISABLED).toBe('true');
});

test('APOLLO_TELEMETRY=true lets the library export its usage telemetry', async () => {
  const { disposers } = await build({ APOLLO_TELEMETRY: 'true' });
  expect(process.env.APOLLO_TELEMETRY_DISABLED).toBe('false');
  expect(disposers).toBe(1);
});
