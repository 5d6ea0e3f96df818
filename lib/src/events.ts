/**
 * The kernel keeps only what every event shares: the envelope, subject and stream naming (`bus.ts`), the outbox
 * (`outbox.ts`) and the redaction below. Each payload type lives next to the service that publishes it
 * (`subgraphs/<name>/src/events/payloads.ts`); consumers import it from there (type-only).
 */

/** Keys whose values are secrets: replaced before an event is written to the audit log or any log line. */
export const SECRET_FIELDS = new Set(['token', 'password', 'refreshToken', 'accessToken']);

export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? '[redacted]' : redactSecrets(v)]),
    );
  }
  return value;
}
