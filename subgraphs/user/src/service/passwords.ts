import argon2 from 'argon2';
import { badInput } from '@shop/kernel';

/** OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN = 10;
/** Long inputs cost the hash function nothing useful and invite denial of service. */
export const PASSWORD_MAX = 128;

// The most common passwords that satisfy the length rule (from public breach corpora top lists).
const COMMON = new Set([
  'password123',
  'password1234',
  '1234567890',
  '12345678910',
  'qwertyuiop',
  '1q2w3e4r5t',
  'iloveyou123',
  'qwerty1234',
  'passwordpassword',
  'letmein123',
  'welcome123',
  'administrator',
  'abcdefghij',
  '0123456789',
  '1111111111',
  'qwerty123456',
  'football123',
  'monkey1234',
  'dragon1234',
  'baseball123',
  'sunshine123',
  'princess123',
  'superman123',
  'trustno1234',
  'changeme123',
  'zaq12wsxcde',
  'asdfghjkl1',
  'q1w2e3r4t5',
  'p@ssw0rd123',
  'passw0rd123',
]);

/** Length-based policy (NIST SP 800-63B): 10–128 characters, not a known common password, not built from the email. */
export function checkPasswordPolicy(password: string, field: string, email?: string): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN) throw badInput(field, `Password must be at least ${PASSWORD_MIN} characters long`);
  if (length > PASSWORD_MAX) throw badInput(field, `Password must be at most ${PASSWORD_MAX} characters long`);
  const lower = password.toLowerCase();
  if (COMMON.has(lower) || new Set(lower).size < 4)
    throw badInput(field, 'Password is too common or too simple; choose a less guessable one');
  const local = email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && lower.includes(local))
    throw badInput(field, 'Password must not contain your email address');
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

export function needsRehash(hash: string): boolean {
  return argon2.needsRehash(hash, ARGON2_OPTIONS);
}

/** A real hash of a random password: verifying against it when the account does not exist keeps timing uniform. */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(`dummy-${Math.random()}-${Date.now()}`);
  return dummy;
}
