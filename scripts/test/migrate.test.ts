import { createTestEnv, TestEnv } from '@shop/kernel/testing';
import { runMigrations } from '../lib/migrate';
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
