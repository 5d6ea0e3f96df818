/**
 * The benchmark's own deployment on the local PostgreSQL / Redis / NATS: databases `bench_<service>`, Redis prefix
 * `bench:`, NATS prefix `bench`, files and keys under bench/.data (git-ignored). Seeded once and reused.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import {
  ACCESS_TOKEN,
  Config,
  generateInternalKeyPair,
  generateKeyPair,
  Identity,
  INTERNAL_TOKEN,
  INTERNAL_TOKEN_HEADER,
  internalTokenAudience,
  JWT_ALGORITHM,
  keyAlgorithm,
  KeyPair,
  Keys,
  loadConfig,
  Role,
} from '@shop/kernel';

export const ROOT = path.resolve(__dirname, '../../..');
export const DATA_DIR = path.join(ROOT, 'bench/.data');
export const RESULTS_DIR = path.join(ROOT, 'bench/results');
export const PEERS_DIR = path.join(ROOT, 'bench/peers');
export const DB_PREFIX = process.env.BENCH_DB_PREFIX ?? 'bench';

interface Secrets {
  access: KeyPair;
  internal: KeyPair;
  mediaSecret: string;
}

/** Signing keys and the media secret of the bench deployment, generated once (production mode reads them from the environment). */
export function benchSecrets(): Secrets {
  const file = path.join(DATA_DIR, 'secrets.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Secrets;
  } catch {
    fs.mkdirSync(DATA_DIR, { recursive: true });
    const s: Secrets = {
      access: generateKeyPair(),
      internal: generateInternalKeyPair(),
      mediaSecret: randomBytes(32).toString('hex'),
    };
    fs.writeFileSync(file, JSON.stringify(s), { mode: 0o600 });
    return s;
  }
}

export function benchKeys(): Keys {
  const s = benchSecrets();
  return { access: s.access, internal: s.internal };
}

/** Environment of every bench process (subgraphs, gateways, the in-process seeder). */
export function benchEnv(extra: Record<string, string> = {}): Record<string, string> {
  const s = benchSecrets();
  const pg = (process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/x').replace(/\/[^/]*$/, '');
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    POSTGRES_URL: `${pg}/${DB_PREFIX}`,
    // The bench deployment creates its own databases (production leaves that to `npm run migrate`).
    POSTGRES_CREATE_DATABASE: 'true',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `${DB_PREFIX}:`,
    NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    NATS_PREFIX: DB_PREFIX,
    MEDIA_DIR: path.join(DATA_DIR, 'media'),
    MEDIA_SIGNING_SECRET: s.mediaSecret,
    JWT_PRIVATE_KEY: s.access.privateKey,
    JWT_PUBLIC_KEY: s.access.publicKey,
    INTERNAL_JWT_PRIVATE_KEY: s.internal.privateKey,
    INTERNAL_JWT_PUBLIC_KEY: s.internal.publicKey,
    PUBLIC_URL: 'http://shop.bench',
    // Seeded carts must stay ACTIVE (holding their stock) across runs; holds may last at most 7 days, and their
    // absolute lifetime (from a cart's first hold) is raised to that too.
    CART_HOLD_SECONDS: String(6 * 24 * 3600),
    CART_HOLD_MAX_SECONDS: String(7 * 24 * 3600),
    CART_HOLD_MAX_SECONDS_USER: String(7 * 24 * 3600),
    // Production refuses its development defaults; the bench names what it runs on instead. No bench process sends
    // mail (the notification subgraph is not started): a local SMTP target, never the development mailbox.
    SMTP_HOST: process.env.BENCH_SMTP_HOST ?? '127.0.0.1',
    SMTP_PORT: process.env.BENCH_SMTP_PORT ?? '1025',
    // Orders are paid by the simulation (tok_visa): allowed explicitly.
    PAYMENT_PROVIDER: 'simulated',
    ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION: 'true',
    ...extra,
  };
}

export function benchConfig(extra: Record<string, string> = {}): Config {
  return loadConfig(benchEnv(extra));
}

/**
 * A user's access token as the user subgraph would sign it, but valid for `ttlSeconds` (a run outlasts the
 * 15-minute production lifetime). Same key, algorithm, issuer and audience: the gateway verifies it as usual.
 */
export function mintAccessToken(keys: Keys, userId: string, role: Role, ttlSeconds = 4 * 3600): string {
  return jwt.sign({ role }, keys.access.privateKey!, {
    algorithm: JWT_ALGORITHM,
    subject: userId,
    issuer: ACCESS_TOKEN.issuer,
    audience: ACCESS_TOKEN.audience,
    expiresIn: ttlSeconds,
  });
}

/**
 * The gateway's internal token for an identity and one subgraph, valid for `ttlSeconds`: what Hive Gateway forwards
 * (header propagation) and what the direct-to-subgraph runs send. Subgraphs verify it exactly like our gateway's, and
 * each accepts only a token minted for itself.
 */
export function mintInternalToken(keys: Keys, identity: Identity, service: string, ttlSeconds = 4 * 3600): string {
  const payload: Record<string, unknown> = {};
  if (identity.role) payload.role = identity.role;
  if (identity.ip) payload.ip = identity.ip;
  return jwt.sign(payload, keys.internal.privateKey!, {
    algorithm: keyAlgorithm(keys.internal.privateKey!),
    issuer: INTERNAL_TOKEN.issuer,
    audience: internalTokenAudience(service),
    expiresIn: ttlSeconds,
    ...(identity.userId ? { subject: identity.userId } : {}),
  });
}

/**
 * Header (to Hive Gateway) carrying the internal token for subgraph `service`: Hive's `propagateHeaders` hook
 * (bench/peers/gateway.config.mjs) sends it to that subgraph as `x-gateway-token`.
 */
export function peerTokenHeader(service: string): string {
  return `${INTERNAL_TOKEN_HEADER}-${service}`;
}

/** One internal token per subgraph, each in its own header, for an identity (what the harness sends Hive). */
export function peerTokenHeaders(
  keys: Keys,
  identity: Identity,
  services: string[],
  ttlSeconds?: number,
): Record<string, string> {
  return Object.fromEntries(
    services.map((s) => [peerTokenHeader(s), mintInternalToken(keys, identity, s, ttlSeconds)]),
  );
}
