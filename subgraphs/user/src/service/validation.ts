import { badInput } from '@shop/kernel';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Emails are compared case-insensitively: stored trimmed and lower-cased. */
export function normalizeEmail(raw: string, field = 'email'): string {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw badInput(field, 'Enter a valid email address');
  return email;
}

/** Optional name: trimmed, empty becomes null, at most 100 characters, no control characters. */
export function normalizeName(raw: string | null | undefined, field: string): string | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === null) return null;
  const name = raw.trim();
  if (!name) return null;
  if ([...name].length > 100) throw badInput(field, `${field} must be at most 100 characters`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw badInput(field, `${field} must not contain control characters`);
  return name;
}

export function requireUuid(raw: string, field: string): string {
  if (!UUID.test(raw)) throw badInput(field, `${field} is not a valid id`);
  return raw.toLowerCase();
}

/** Bounded secret input: anything that is not a plausible token is simply an invalid token. */
export function plausibleToken(raw: string): boolean {
  return raw.length >= 20 && raw.length <= 200;
}
