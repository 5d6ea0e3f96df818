import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Config } from '@shop/kernel';
import { createTestEnv, TestEnv } from '@shop/kernel/testing';
import { createMediaSubgraph } from '../src';
import { loadSigningSecret } from '../src/service/signing';

/**
 * MEDIA_SIGNING_SECRET signs upload URLs: in production a missing, short, published (docker-compose.yml's former
 * development default) or placeholder secret would let anyone forge them. The media subgraph refuses to start, naming it.
 */
let env: TestEnv;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'media-production-'));
beforeAll(async () => {
  env = await createTestEnv({ MEDIA_DIR: path.join(dir, 'media'), KEYS_DIR: path.join(dir, 'keys') });
});
afterAll(async () => {
  await env?.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

const production = (): Config => ({ ...env.config, nodeEnv: 'production', isProduction: true });

/** 'started' (then stopped again), or the error it refused with. */
async function start(config: Config, signingSecret: string | undefined): Promise<string> {
  return createMediaSubgraph({ signingSecret: signingSecret ?? '' })
    .start({ config, keys: env.keys, logger: env.logger, port: 0 })
    .then(
      async (s) => {
        await s.stop();
        return 'started';
      },
      (err: Error) => err.message,
    );
}

test.each([
  ['missing', undefined],
  ['too short', 'abcdefghijklmnop'],
  ["docker-compose.yml's former development default", 'dev-only-media-signing-secret-change-me-0123456789'],
  ['a placeholder', 'please-change-me-to-something-long-and-random'],
  ['one character repeated', 'x'.repeat(40)],
  ['two characters alternating', 'ab'.repeat(24)],
])('production, MEDIA_SIGNING_SECRET %s: start refused, naming the variable', async (_label, secret) => {
  expect(await start(production(), secret)).toMatch(/^MEDIA_SIGNING_SECRET /);
});

test('production with a random secret: starts', async () => {
  expect(await start(production(), randomBytes(32).toString('base64url'))).toBe('started');
  // 32 random hex digits (the shortest accepted length) are never mistaken for a regular one.
  for (let i = 0; i < 200; i++)
    expect(() =>
      loadSigningSecret({ isProduction: true, keysDir: dir }, randomBytes(16).toString('hex')),
    ).not.toThrow();
});

test('development still accepts any secret of 32 characters or more', () => {
  expect(
    loadSigningSecret({ isProduction: false, keysDir: dir }, 'dev-only-media-signing-secret-change-me-0123456789')
      .length,
  ).toBe(50);
});
