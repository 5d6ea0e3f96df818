import { badInput, isUuid } from '@shop/kernel';

/**
 * A plain `local@domain` address, nothing a mail library could read as a list, a display name, a group or a comment:
 * the local part is RFC 5322 `atext` (letters, digits, ``!#$%&'*+/=?^_`{|}~-``) in dot-separated atoms, the domain
 * dot-separated labels of letters, digits and hyphens. So `,` `;` `<` `>` `"` `(` `)` `:` `[` `]` `\`, whitespace and
 * control characters are refused. (The apostrophe stays: it is ordinary atext, as in o'brien@example.com.)
 */
const EMAIL =
  /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+$/u;

/** Emails are compared case-insensitively: stored trimmed and lower-cased. */
export function normalizeEmail(raw: string, field = 'email'): string {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw badInput(field, 'Enter a valid email address (just name@domain)');
  return email;
}

export const NAME_MAX = 50;
/** Letters (any script, with their combining marks), single spaces, hyphens and apostrophes: a name, never a message. */
const NAME = /^[\p{L}\p{M}]+(?:(?: |-|'|\u2019)[\p{L}\p{M}]+)*$/u;

/**
 * Optional name: trimmed, empty becomes null; at most NAME_MAX characters of letters, spaces, hyphens and apostrophes.
 * It is shown in the emails the shop sends, so it must not be able to carry a link, a number or a sentence of markup
 * ("Click http://evil.example to claim your prize").
 */
export function normalizeName(raw: string | null | undefined, field: string): string | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === null) return null;
  const name = raw.trim();
  if (!name) return null;
  if ([...name].length > NAME_MAX) throw badInput(field, `${field} must be at most ${NAME_MAX} characters`);
  if (!NAME.test(name))
    throw badInput(field, `${field} may contain only letters, single spaces, hyphens and apostrophes`);
  return name;
}

export function requireUuid(raw: string, field: string): string {
  if (!isUuid(raw)) throw badInput(field, `${field} is not a valid id`);
  return raw.toLowerCase();
}

/** Bounded secret input: anything that is not a plausible token is simply an invalid token. */
export function plausibleToken(raw: string): boolean {
  return raw.length >= 20 && raw.length <= 200;
}
