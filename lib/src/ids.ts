/**
 * The textual form of a UUID (RFC 9562 §4): 32 hex digits in groups of 8-4-4-4-12, either case. Any version and
 * variant: the check answers "can this name a row" — every such string is a valid PostgreSQL `uuid`, and what ids
 * we mint (`randomUUID`, `gen_random_uuid()`: version 4) or import is for the owner to decide, not for a caller to
 * second-guess. Other spellings PostgreSQL would also take (no hyphens, braces, a `urn:uuid:` prefix) are refused:
 * ids are also compared as text (Redis keys, MongoDB documents, URLs), so only the one canonical spelling passes.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its hyphenated textual form; anything else can never name a stored row (or reach a `uuid` column). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
