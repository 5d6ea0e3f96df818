import { Client } from 'pg';
import { dropDatabase, loadConfig } from '@shop/kernel';
import { createTestEnv, TestEnv } from '@shop/kernel/testing';
import { parseMigrateArgs, runMigrations } from '../lib/migrate';
import { subgraphs } from '../subgraphs';

/** `npm run migrate`: every module's `migrate` (kernel `migrator`) opens its database, migrates it and closes it. */
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env?.cleanup());

test('every subgraph with a database migrates a fresh one; a second run finds them all up to date', async () => {
  const first = await runMigrations(subgraphs, env.config, env.logger);
  expect(first.map((r) => r.name)).toEqual(['user', 'product', 'media', 'notification', 'order']);
  for (const r of first) expect(r.applied.length).toBeGreaterThan(0);
  const second = await runMigrations(subgraphs, env.config, env.logger);
  expect(second.map((r) => [r.name, r.applied])).toEqual(first.map((r) => [r.name, []]));
});

const PEM = '-----BEGIN PUBLIC KEY-----\nunused\n-----END PUBLIC KEY-----';

test('with createDatabase off (production) a subgraph does not create its database; migrating (on) does', async () => {
  const off = { ...env.config, dbPrefix: `${env.id}_nocreate`, createDatabase: false };
  const user = subgraphs.find((m) => m.name === 'user')!;
  await expect(user.migrate!(off, env.logger)).rejects.toThrow(/does not exist/);
  expect(await databaseExists(`${env.id}_nocreate_user`)).toBe(false);
  // `npm run migrate` (createDatabase on) creates it; then a service with the switch off opens it.
  const on = { ...off, createDatabase: true };
  try {
    expect((await user.migrate!(on, env.logger)).length).toBeGreaterThan(0);
    expect(await user.migrate!(off, env.logger)).toEqual([]);
  } finally {
    await dropDatabase(env.config.postgresUrl, `${env.id}_nocreate_user`);
  }
});

test('the switch defaults to off in production and on elsewhere; migrate --service picks databases', () => {
  const keys = { JWT_PUBLIC_KEY: PEM, INTERNAL_JWT_PUBLIC_KEY: PEM, SMTP_HOST: 'smtp.example.com' };
  const prodEnv = { ...keys, NODE_ENV: 'production', ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'true' };
  expect(loadConfig(prodEnv).createDatabase).toBe(false);
  expect(loadConfig({ ...prodEnv, POSTGRES_CREATE_DATABASE: 'true' }).createDatabase).toBe(true);
  expect(loadConfig({ NODE_ENV: 'development' }).createDatabase).toBe(true);
  expect(loadConfig({ NODE_ENV: 'development', POSTGRES_CREATE_DATABASE: 'off' }).createDatabase).toBe(false);

  const known = ['user', 'product', 'order'];
  expect(parseMigrateArgs([], known)).toEqual({ ensureDevKeys: false });
  expect(parseMigrateArgs(['--service', 'user', '--service=order', '--ensure-dev-keys'], known)).toEqual({
    services: ['user', 'order'],
    ensureDevKeys: true,
  });
  expect(parseMigrateArgs(['--service', 'cart'], known)).toEqual({
    error: '--service needs one of user, product, order (got "cart")',
  });
  expect(parseMigrateArgs(['--service'], known)).toMatchObject({ error: expect.stringContaining('got ""') });
  expect(parseMigrateArgs(['--all'], known)).toEqual({ error: 'unknown argument: --all' });
});

async function databaseExists(name: string): Promise<boolean> {
  const url = new URL(env.config.postgresUrl);
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return !!(await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount;
  } finally {
    await client.end();
  }
}
