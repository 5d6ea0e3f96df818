import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '@shop/kernel';

export const SIGNING_SECRET_ENV = 'MEDIA_SIGNING_SECRET';
const MIN_SECRET_LENGTH = 32;

/** Values published with this project (docker-compose.yml's former development default, documentation examples). */
const PUBLIC_SECRETS = new Set(['dev-only-media-signing-secret-change-me-0123456789']);
const PLACEHOLDER = /change[-_ ]?me|dev[-_ ]?only|example|placeholder|not[-_ ]?secret|insecure/i;
/** Fewer distinct characters than this is no random secret ('x' × 40, 'abab…'); 32 random hex digits have ~14. */
const MIN_DISTINCT_CHARACTERS = 8;

/** Why `secret` is not secret (known, a placeholder, or far too regular), or undefined. */
export function publicSecretReason(secret: string): string | undefined {
  if (PUBLIC_SECRETS.has(secret)) return 'is a value published with this project';
  if (PLACEHOLDER.test(secret)) return 'looks like a placeholder';
  if (new Set(secret).size < MIN_DISTINCT_CHARACTERS)
    return `has fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters`;
  return undefined;
}

/**
 * The HMAC key of upload URLs. MEDIA_SIGNING_SECRET (at least 32 characters) wins; production refuses to start
 * without it, or with a value published with the project, a placeholder or a far too regular one. In development and
 * test a random one is generated once into `<KEYS_DIR>/media-secret`, like the development JWT keys, so every local
 * media instance agrees on it. It is not derived from the JWT keys: subgraphs only hold the gateway's *public* key,
 * and a secret derived from public material would be no secret.
 */
export function loadSigningSecret(config: Pick<Config, 'isProduction' | 'keysDir'>, explicit?: string): Buffer {
  if (explicit !== undefined && explicit !== '') {
    if (explicit.length < MIN_SECRET_LENGTH)
      throw new Error(`${SIGNING_SECRET_ENV} must be at least ${MIN_SECRET_LENGTH} characters`);
    const weak = config.isProduction ? publicSecretReason(explicit) : undefined;
    if (weak)
      throw new Error(
        `${SIGNING_SECRET_ENV} ${weak}: refused when NODE_ENV=production (generate one, e.g. openssl rand -base64 48)`,
      );
    return Buffer.from(explicit, 'utf8');
  }
  if (config.isProduction) throw new Error(`${SIGNING_SECRET_ENV} is required when NODE_ENV=production`);
  const dir = path.resolve(config.keysDir);
  const file = path.join(dir, 'media-secret');
  try {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'utf8');
  } catch {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const secret = randomBytes(32).toString('base64url');
    try {
      // 'wx': when two processes start at once, the first writer wins and the other reads its secret.
      fs.writeFileSync(file, secret, { flag: 'wx', mode: 0o600 });
      return Buffer.from(secret, 'utf8');
    } catch {
      return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'utf8');
    }
  }
}

export type SignatureCheck = 'ok' | 'invalid' | 'expired';

/** Signs and checks upload URLs: `sig` = base64url(HMAC-SHA256(secret, "<imageId>.<expires>")), expires in Unix seconds. */
export class UploadSigner {
  constructor(private readonly secret: Buffer) {}

  sign(imageId: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${imageId}.${expires}`).digest('base64url');
  }

  url(publicUrl: string, imageId: string, expires: number): string {
    return `${publicUrl}/media/uploads/${imageId}?expires=${expires}&sig=${this.sign(imageId, expires)}`;
  }

  /** The signature is checked before the expiry, so an expired-but-genuine URL is told apart from a forged one. */
  verify(imageId: string, expires: unknown, sig: unknown, now = Date.now()): SignatureCheck {
    if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires) || typeof sig !== 'string') return 'invalid';
    const expected = Buffer.from(this.sign(imageId, Number(expires)), 'utf8');
    const given = Buffer.from(sig, 'utf8');
    // timingSafeEqual needs equal lengths; the length of a valid signature is public anyway.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return Number(expires) * 1000 <= now ? 'expired' : 'ok';
  }
}
