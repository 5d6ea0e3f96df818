import type { EntityManager } from '@mikro-orm/postgresql';
import { enqueueEvent, EventEnvelope } from '@shop/kernel';

/**
 * Payloads (`data`) of the user subgraph's events, published through its outbox: `user.*` on the USER stream and
 * `secret.email_link` on the work-queue stream SECRETS. Envelope: `{ v: 1, id, type, occurredAt, data }` (kernel
 * `makeEvent`). Domain events are kept for days and go to every consumer, the audit log included: they never carry
 * a secret. A raw single-use secret for an email link travels only in a `secret.*` message.
 */
export interface UserEventPayloads {
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
  /**
   * The name changed (updateProfile; nothing is published when it did not). Carries the whole contact so a reader
   * keeping its own copy (the order subgraph's buyer directory) needs nothing else.
   */
  'user.profile_updated': { userId: string; email: string; firstName: string | null; lastName: string | null };
  /** The password was changed (changePassword or resetPassword); all refresh tokens were revoked. */
  'user.password_changed': { userId: string; email: string; firstName: string | null; via: 'change' | 'reset' };
  'user.role_changed': { userId: string; email: string; role: 'ADMIN' | 'USER'; changedBy: string };
  /**
   * Sessions of the user were revoked without a password change: a spent refresh token was presented again, so its
   * family was revoked (theft suspected). Gateways refuse the user's earlier access tokens and close their sockets.
   */
  'user.sessions_revoked': { userId: string; reason: 'refresh_token_reuse' };
}
export type UserEventType = keyof UserEventPayloads;
/** The public events whose email carries a link (its token travels in the `secret.email_link` twin). */
export type LinkEventType = 'user.registered' | 'user.verification_requested' | 'user.password_reset_requested';

/** Adds a typed user event to the outbox of the caller's transaction. */
export function emitUserEvent<T extends UserEventType>(
  em: EntityManager,
  type: T,
  data: UserEventPayloads[T],
): EventEnvelope<UserEventPayloads[T]> {
  return enqueueEvent(em, type, data);
}
