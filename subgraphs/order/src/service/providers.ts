import { Config, ConfigError, Logger } from '@shop/kernel';
import { PaymentProvider, SimulatedPaymentProvider } from './payment';
import { StripePaymentProvider } from './stripe';

/**
 * The provider PAYMENT_PROVIDER names (lib/src/config.ts). The simulation never runs in production unless
 * ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true (checked here too, for configurations that did not come from the
 * environment); Stripe needs its key and webhook secret (only this subgraph has them), and in production a live key
 * (a test key moves no money either, so it needs the same explicit allowance) and no STRIPE_API_BASE.
 */
export function createPaymentProvider(
  config: Pick<Config, 'payments' | 'isProduction'>,
  logger?: Logger,
): PaymentProvider {
  const { payments, isProduction } = config;
  switch (payments.provider) {
    case 'simulated':
      if (isProduction && !payments.allowSimulatedInProduction) {
        throw new ConfigError([
          'PAYMENT_PROVIDER=simulated moves no money: refused when NODE_ENV=production unless ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true',
        ]);
      }
      return new SimulatedPaymentProvider();
    case 'stripe': {
      const { secretKey, webhookSecret, apiBase } = payments.stripe;
      const problems: string[] = [];
      if (!secretKey) problems.push('STRIPE_SECRET_KEY is required when PAYMENT_PROVIDER=stripe');
      if (!webhookSecret) problems.push('STRIPE_WEBHOOK_SECRET is required when PAYMENT_PROVIDER=stripe');
      if (isProduction && apiBase)
        problems.push('STRIPE_API_BASE is for tests: refused when NODE_ENV=production (the key would go elsewhere)');
      if (isProduction && secretKey && /^(sk|rk)_test_/.test(secretKey) && !payments.allowSimulatedInProduction)
        problems.push(
          'STRIPE_SECRET_KEY is a test-mode key (no money moves): refused when NODE_ENV=production unless ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=true',
        );
      if (problems.length) throw new ConfigError(problems);
      return new StripePaymentProvider({ secretKey: secretKey!, webhookSecret: webhookSecret!, apiBase }, logger);
    }
  }
}
