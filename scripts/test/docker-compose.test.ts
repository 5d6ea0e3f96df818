import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import {
  loadConfig,
  loadKeys,
  signAccessToken,
  signInternalToken,
  verifyAccessToken,
  verifyInternalToken,
} from '@shop/kernel';
import { publicSecretReason } from '../../subgraphs/media/src/service/signing';
import { ensureSecretsFile } from '../production-secrets';

/**
 * docker-compose.yml publishes the gateway: it and every process behind it run in production mode, without development
 * defaults (secrets generated per deployment, no fallback mail catcher, simulated payments only when allowed).
 * docker-compose.dev.yml switches back to development mode.
 */
const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => parse(fs.readFileSync(path.join(ROOT, file), 'utf8'), { merge: true });
const compose = read('docker-compose.yml');
const APP_SERVICES = ['migrate', 'user', 'product', 'cart', 'order', 'media', 'notification', 'gateway'];

test('the gateway service (and every application service) sets NODE_ENV=production', () => {
  expect(compose.services.gateway.environment.NODE_ENV).toBe('production');
  for (const s of APP_SERVICES)
    expect({ s, env: compose.services[s].environment.NODE_ENV }).toEqual({ s, env: 'production' });
});

test('no development default is published: no media secret, no mail catcher, payments not allowed by default', () => {
  const env = compose.services.gateway.environment;
  expect(env.MEDIA_SIGNING_SECRET).toBeUndefined();
  expect(env.SMTP_HOST).toBe('${SMTP_HOST:-}');
  expect(env.ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION).toBe('${ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION:-false}');
  expect(compose.services.mailpit).toBeUndefined();
  // Every application process reads the generated secrets before it starts.
  for (const s of APP_SERVICES)
    expect(compose.services[s].command.join(' ')).toMatch(/\. \/app\/\.keys\/production\.env && exec node /);
});

test('docker-compose.dev.yml switches every application service to development mode with Mailpit', () => {
  const dev = read('docker-compose.dev.yml');
  for (const s of APP_SERVICES)
    expect({ s, env: dev.services[s].environment }).toMatchObject({
      s,
      env: { NODE_ENV: 'development', SMTP_HOST: 'mailpit' },
    });
  expect(dev.services.mailpit.ports).toEqual(['127.0.0.1:8025:8025']);
});

test('the generated secrets file, sourced as the containers do, gives a production configuration that starts', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-secrets-'));
  try {
    const file = path.join(dir, 'production.env');
    expect(ensureSecretsFile(file)).toBe(true);
    const first = fs.readFileSync(file, 'utf8');
    expect(ensureSecretsFile(file)).toBe(false); // kept across restarts
    expect(fs.readFileSync(file, 'utf8')).toBe(first);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const names = [
      'JWT_PRIVATE_KEY',
      'JWT_PUBLIC_KEY',
      'INTERNAL_JWT_PRIVATE_KEY',
      'INTERNAL_JWT_PUBLIC_KEY',
      'MEDIA_SIGNING_SECRET',
    ];
    const dump = `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, process.env[n]]))))`;
    const sourced = (preset: Record<string, string> = {}) =>
      JSON.parse(
        execFileSync('sh', ['-c', `set -a && . "${file}" && exec "${process.execPath}" -e '${dump}'`], {
          env: { PATH: process.env.PATH, ...preset },
        }).toString(),
      ) as Record<string, string>;
    const env = sourced();
    const config = loadConfig({
      ...env,
      NODE_ENV: 'production',
      SMTP_HOST: 'smtp.example.net',
      ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'true',
    });
    const keys = loadKeys(config);
    expect(verifyAccessToken(keys, signAccessToken(keys, { sub: 'u-1', role: 'USER' })).sub).toBe('u-1');
    expect(verifyInternalToken(keys, signInternalToken(keys, { userId: 'u-1' }, 'user'), 'user').userId).toBe('u-1');
    expect(env.MEDIA_SIGNING_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(publicSecretReason(env.MEDIA_SIGNING_SECRET)).toBeUndefined();
    // A value set in the container's environment wins over the file.
    expect(sourced({ MEDIA_SIGNING_SECRET: 'from-the-environment' }).MEDIA_SIGNING_SECRET).toBe('from-the-environment');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
