import { Config } from '@shop/kernel';
import { createTestEnv, TestEnv } from '@shop/kernel/testing';
import orderSubgraph from '../src';

/**
 * The order subgraph takes payments through a simulation today (no money moves): a production deployment refuses to
 * start with it unless ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true says so explicitly (a demo, the benchmarks).
 */
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env?.cleanup());

function production(allowSimulatedInProduction: boolean): Config {
  return {
    ...env.config,
    nodeEnv: 'production',
    isProduction: true,
    payments: { provider: 'simulated', allowSimulatedInProduction },
  };
}

/** 'started' (then stopped again), or the error it refused with. */
async function start(config: Config): Promise<string> {
  return orderSubgraph.start({ config, keys: env.keys, logger: env.logger, port: 0 }).then(
    async (s) => {
      await s.stop();
      return 'started';
    },
    (err: Error) => err.message,
  );
}

test('production with the simulated payment provider: start refused, naming ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION', async () => {
  expect(await start(production(false))).toMatch(
    /PAYMENT_PROVIDER=simulated .*refused when NODE_ENV=production unless ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true/,
  );
});

test('production with ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true: starts', async () => {
  expect(await start(production(true))).toBe('started');
});
