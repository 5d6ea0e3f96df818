import { graphql, Identity, INTERNAL_TOKEN_HEADER, signInternalToken, Stack } from '@shop/kernel';
import type { UserService } from '../src';

export const PASSWORD = 'correct horse battery';

export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { id email firstName lastName role emailVerified createdAt } }`;
export const LOGIN = `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken refreshToken expiresIn user { id email role } } }`;
export const REFRESH = `mutation Refresh($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken expiresIn user { id } } }`;
export const VERIFY = `mutation Verify($t: String!) { verifyEmail(token: $t) }`;
export const ME = `{ me { id email firstName lastName role emailVerified } }`;

/**
 * The raw token of the newest email-link event for this address, read from the user subgraph's outbox
 * (tests that run without the notification subgraph; the flow test reads the real email instead).
 */
export async function tokenFromOutbox(stack: Stack, type: string, email: string): Promise<string> {
  const svc = stack.services.user as UserService;
  const rows: { payload: { data: { token: string } } }[] = await svc.orm.em.fork().getConnection().execute(
    `SELECT payload FROM outbox WHERE subject = ? AND payload->'data'->>'email' = ? ORDER BY created_at DESC LIMIT 1`,
    [type, email.toLowerCase()],
  );
  if (!rows.length) throw new Error(`no ${type} event for ${email}`);
  return rows[0].payload.data.token;
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
    const svc = stack.services.user as UserService;
    await svc.orm.em.fork().getConnection().execute(`UPDATE users SET role = 'ADMIN' WHERE email = ?`, [email]);
  }
  const login = await stack.gql(LOGIN, { email, password: PASSWORD });
  if (login.errors) throw new Error(JSON.stringify(login.errors));
  return { email, id: reg.data!.register.id as string, ...(login.data!.login as { accessToken: string; refreshToken: string }) };
}

export function codes(res: { errors?: { extensions?: Record<string, unknown> }[] }): unknown[] {
  return (res.errors ?? []).map((e) => e.extensions?.code);
}

/**
 * GraphQL straight to the user subgraph with an internal token minted for `identity` — as the gateway would send it,
 * but with a chosen client address (tests of the per-address limits).
 */
export async function subgraphGql(stack: Stack, query: string, variables: Record<string, unknown>, identity: Identity) {
  const svc = stack.services.user as UserService;
  return graphql(svc.url, query, variables, { headers: { [INTERNAL_TOKEN_HEADER]: signInternalToken(stack.env.keys, identity) } });
}
