import { createHash, randomBytes } from 'node:crypto';

/** 32 random bytes, URL-safe: the secret handed to the user (email link or refresh token). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Only this digest is stored; a leaked table cannot be replayed. SHA-256 suffices for 256-bit random secrets. */
export function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export const VERIFY_EMAIL_TTL_MS = 24 * 3600 * 1000;
export const RESET_PASSWORD_TTL_MS = 3600 * 1000;
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;
