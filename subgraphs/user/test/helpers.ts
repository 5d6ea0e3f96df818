import { Bus, EventEnvelope, SECRET_DOMAIN } from '@shop/kernel';
import { eventually, Stack, subgraphGqlFor } from '@shop/kernel/testing';
import type { StartedUser } from '../src';
import type { LinkEventType, UserEventPayloads } from '../src/events/payloads';

export const PASSWORD = 'correct horse battery';

export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { id email firstName lastName role emailVerified createdAt } }`;
export const LOGIN = `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken refreshToken expiresIn user { id email role } } }`;
export const REFRESH = `mutation Refresh($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken expiresIn user { id } } }`;
export const VERIFY = `mutation Verify($t: String!) { verifyEmail(token: $t) }`;
export const ME = `{ me { id email firstName lastName role emailVerified } }`;

/**
 * The raw token of the newest email link of this kind for this address, as the notification subgraph would get it:
 * from the `secret.email_link` message still waiting in the SECRETS work-queue stream (tests without the notification
 * subgraph), or, once a notification subgraph consumed it, from the email in the test mailbox. (The outbox keeps no
 * token after publishing, and the public `user.*` events never carry one.)
 */
export async function tokenFromOutbox(stack: Stack, type: LinkEventType, email: string): Promise<string> {
  const address = email.toLowerCase();
  const path = type === 'user.password_reset_requested' ? '/reset-password' : '/verify-email';
  const bus = await Bus.connect(stack.env.config);
  try {
    return await eventually(`a ${type} link for ${email}`, async () => {
      const fromStream = (await secretMessages(bus))
        .reverse()
        .find((m) => m.data.email === address && m.data.eventType === type);
      if (fromStream) return fromStream.data.token;
      const mails = stack.env.mail.messages.filter((m) => m.to.includes(address));
      for (const mail of mails) {
        // newest first
        const m = new RegExp(`${path.replace('/', '\\/')}\\?token=([A-Za-z0-9_-]+)`).exec(mail.text);
        if (m) return m[1];
      }
      return undefined;
    });
  } finally {
    await bus.close();
  }
}

/** Every message stored in a stream, oldest first, read without consuming it (direct get by sequence). */
export async function streamMessages(bus: Bus, stream: string): Promise<{ subject: string; text: string }[]> {
  const info = await bus.jsm.streams.info(stream);
  const out: { subject: string; text: string }[] = [];
  if (!info.state.messages) return out;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const msg = await bus.jsm.streams.getMessage(stream, { seq }).catch(() => undefined); // deleted (acked) ones are gone
    if (msg) out.push({ subject: msg.subject, text: new TextDecoder().decode(msg.data) });
  }
  return out;
}

/** The `secret.email_link` messages waiting in the SECRETS stream, oldest first. */
export async function secretMessages(bus: Bus): Promise<EventEnvelope<UserEventPayloads['secret.email_link']>[]> {
  return (await streamMessages(bus, bus.streamName(SECRET_DOMAIN)))
    .map((m) => JSON.parse(m.text) as EventEnvelope<UserEventPayloads['secret.email_link']>)
    .filter((e) => e.type === 'secret.email_link');
}

let seq = 0;
export function uniqueEmail(tag = 'user'): string {
  return `${tag}.${Date.now().toString(36)}.${++seq}@example.com`;
}

/** Registers, verifies (token from the outbox) and signs in; returns the session. */
export async function signedInUser(stack: Stack, opts: { email?: string; role?: 'ADMIN' } = {}) {
  const email = opts.email ?? uniqueEmail();
  const reg = await stack.gql(REGISTER, { input: { email, password: PASSWORD } });
  if (reg.errors) throw new Error(JSON.stringify(reg.errors));
  const token = await tokenFromOutbox(stack, 'user.registered', email);
  await stack.gql(VERIFY, { t: token });
  if (opts.role === 'ADMIN') {
    const svc = stack.services.user as StartedUser;
    await svc.orm.em.fork().getConnection().execute(`UPDATE users SET role = 'ADMIN' WHERE email = ?`, [email]);
  }
  const login = await stack.gql(LOGIN, { email, password: PASSWORD });
  if (login.errors) throw new Error(JSON.stringify(login.errors));
  return {
    email,
    id: reg.data!.register.id as string,
    ...(login.data!.login as { accessToken: string; refreshToken: string }),
  };
}

export { codes } from '@shop/kernel/testing';

/** GraphQL straight to the user subgraph, with a chosen identity and client address (tests of the per-address limits). */
export const subgraphGql = subgraphGqlFor('user');
