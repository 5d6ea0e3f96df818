import { Config } from '@shop/kernel';
import { createTestEnv, TestEnv } from '@shop/kernel/testing';
import orderSubgraph from '../src';

/**
 * The simulated provider moves no money: a production deployment refuses to start with it unless
 * ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true says so explicitly (a demo, the benchmarks). Stripe needs its key and
 * webhook secret; in production a live key (a test-mode key needs the same allowance) and no STRIPE_API_BASE.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env?.cleanup());

const NO_STRIPE = { secretKey: undefined, webhookSecret: undefined, apiBase: undefined };

function production(allowSimulatedInProduction: boolean, stripe?: Partial<Config['payments']['stripe']>): Config {
  return {
    ...env.config,
    nodeEnv: 'production',
    isProduction: true,
    payments: {
      provider: stripe ? 'stripe' : 'simulated',
      allowSimulatedInProduction,
      actionTimeoutSeconds: 3600,
      stripe: { ...NO_STRIPE, ...stripe },
    },
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

test('PAYMENT_PROVIDER=stripe without its key and webhook secret: start refused, naming both', async () => {
  const refused = await start(production(false, {}));
  expect(refused).toContain('STRIPE_SECRET_KEY is required when PAYMENT_PROVIDER=stripe');
  expect(refused).toContain('STRIPE_WEBHOOK_SECRET is required when PAYMENT_PROVIDER=stripe');
});

test('production with a Stripe test-mode key or STRIPE_API_BASE: refused; a live key starts', async () => {
  const secrets = { webhookSecret: 'whsec_abc123' };
  expect(await start(production(false, { ...secrets, secretKey: 'sk_test_abc123' }))).toMatch(
    /STRIPE_SECRET_KEY is a test-mode key .*ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true/,
  );
  expect(await start(production(true, { ...secrets, secretKey: 'sk_test_abc123' }))).toBe('started');
  expect(
    await start(production(false, { ...secrets, secretKey: 'sk_live_abc123', apiBase: 'http://127.0.0.1:1' })),
  ).toMatch(/STRIPE_API_BASE is for tests: refused when NODE_ENV=production/);
  expect(await start(production(false, { ...secrets, secretKey: 'sk_live_abc123' }))).toBe('started');
});
