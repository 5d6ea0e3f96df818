/**
 * The payloads (`data`) of the domain events on NATS, by subject. Envelopes are `{ v: 1, id, type, occurredAt, data }`.
 * Domain events are kept for days (stream per domain) and go to every consumer, the audit log included: they never
 * carry a secret. A raw single-use secret for an email link travels only in a `secret.*` message (below).
 */
export interface EventPayloads {
  'user.registered': { userId: string; email: string; firstName: string | null; expiresAt: string };
  /** A new verification link was asked for (resendVerificationEmail). */
  'user.verification_requested': { userId: string; email: string; firstName: string | null; expiresAt: string };
  'user.email_verified': { userId: string; email: string };
  'user.password_reset_requested': { userId: string; email: string; firstName: string | null; expiresAt: string };
  /**
   * The secret half of the three link events above, written in the same transaction: the raw link token for the
   * notification subgraph only. `secret.*` subjects live in the work-queue stream SECRETS (a message is deleted when
   * its consumer acks it, and after SECRET_MESSAGE_MAX_AGE_SECONDS at the latest); the outbox row loses `token` once
   * published. Never log or store `token` anywhere else.
   */
  'secret.email_link': {
    eventId: string;
    eventType: LinkEventType;
    purpose: 'VERIFY_EMAIL' | 'RESET_PASSWORD';
    userId: string;
    email: string;
    firstName: string | null;
    token: string;
    expiresAt: string;
  };
  /** The password was changed (changePassword or resetPassword); all refresh tokens were revoked. */
  'user.password_changed': { userId: string; email: string; firstName: string | null; via: 'change' | 'reset' };
  'user.role_changed': { userId: string; email: string; role: 'ADMIN' | 'USER'; changedBy: string };
  /**
   * Sessions of the user were revoked without a password change: a spent refresh token was presented again, so its
   * family was revoked (theft suspected). Gateways refuse the user's earlier access tokens and close their sockets.
   */
  'user.sessions_revoked': { userId: string; reason: 'refresh_token_reuse' };
  /** A cart's lines or status changed (best effort: carts are ephemeral; the holds in the product store are the truth). */
  'cart.updated': {
    cartId: string; userId: string | null; status: 'ACTIVE' | 'EXPIRED' | 'CHECKED_OUT'; version: number;
    lines: { productId: string; quantity: number }[]; expiresAt: string | null; reason: CartChangeReason;
  };
  /** The hold window ran out: the holds were released and the cart emptied. Msg id = cart + deadline (retries dedupe). */
  'cart.expired': { cartId: string; userId: string | null; deadline: string; lines: { productId: string; quantity: number }[] };
}

export type CartChangeReason = 'created' | 'item_added' | 'item_updated' | 'item_removed' | 'merged' | 'checked_out';
export type EventType = keyof EventPayloads;
export type LinkEventType = 'user.registered' | 'user.verification_requested' | 'user.password_reset_requested';

/** Keys whose values are secrets: replaced before an event is written to the audit log or any log line. */
export const SECRET_FIELDS = new Set(['token', 'password', 'refreshToken', 'accessToken']);

export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? '[redacted]' : redactSecrets(v)]));
  }
  return value;
}
