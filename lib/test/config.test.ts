import { ConfigError, loadConfig } from '../src/config';

test('defaults follow CONTRACT.md', () => {
  const c = loadConfig({});
  expect(c).toMatchObject({ gatewayPort: 4000, cartHoldSeconds: 600, cartTimerTickSeconds: 1, dealsTtlSeconds: 86400, dealsCount: 10, dealsDiscountPercent: 20, dbPrefix: 'shop' });
  expect(c.ports).toEqual({ user: 4001, product: 4002, cart: 4003, order: 4004, media: 4005, notification: 4006 });
});

test('every bad variable is named in one error', () => {
  let err: unknown;
  try {
    loadConfig({ GATEWAY_PORT: 'eighty', POSTGRES_URL: 'mysql://x', CART_HOLD_SECONDS: '-5', NODE_ENV: 'staging' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const msg = (err as Error).message;
  for (const name of ['GATEWAY_PORT', 'POSTGRES_URL', 'CART_HOLD_SECONDS', 'NODE_ENV']) expect(msg).toContain(name);
});

test('production refuses to start without real keys', () => {
  expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_PUBLIC_KEY is required when NODE_ENV=production/);
});
