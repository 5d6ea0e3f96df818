import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { parseSetCookie } from 'cookie';
import { eventually, graphql, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import userSubgraph from '../../subgraphs/user/src';
import { LOGIN, PASSWORD, REFRESH, signedInUser } from '../../subgraphs/user/test/helpers';
import { tickerSubgraph } from './fixtures/ticker';
import { closeCode, rawSocket, RawSocket, UpgradeRefused } from './fixtures/ws';

/**
 * Browsers as clients (docs/security.md "Browser clients: CORS and cookie sessions"): the CORS allowlist, HttpOnly
 * session cookies set by login/refreshToken/logout, the session taken from the cookie over HTTP and the WebSocket,
 * cross-site cookie requests refused, and bearer clients unchanged. The gateway runs in development mode here
 * (CORS_ORIGINS unset: http://localhost:5173 and the gateway's own origins are allowed).
 */
let stack: Stack;
const sockets: RawSocket[] = [];
const disposers: (() => unknown)[] = [];
beforeAll(async () => {
  stack = await startStack({ subgraphs: [userSubgraph, tickerSubgraph], gateway: startGateway });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  for (const d of disposers) await d();
  await stack?.stop();
});

const DEV_ORIGIN = 'http://localhost:5173';
const EVIL = 'http://evil.example';
const ME = '{ me { id firstName } }';
const LOGIN_ALIASED = `mutation L($email: String!, $password: String!) {
  signIn: login(email: $email, password: $password) { expiresIn user { id } }
}`;
const REFRESH_COOKIE = `mutation { refreshToken { accessToken refreshToken expiresIn user { id } } }`;
const LOGOUT_COOKIE = `mutation { logout }`;
const UPDATE = `mutation U($n: String) { updateProfile(input: { firstName: $n }) { firstName } }`;

interface Jar {
  shop_session?: string;
  shop_refresh?: string;
}
interface Answer {
  status: number;
  headers: Headers;
  body: { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] };
  setCookies: ReturnType<typeof parseSetCookie>[];
}

/** POSTs like a browser would: JSON, with an Origin and the jar's cookies (both optional). */
async function post(
  query: string,
  variables: Record<string, unknown> = {},
  opts: { origin?: string; jar?: Jar; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const cookie = Object.entries(opts.jar ?? {})
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
  const res = await fetch(stack.gatewayUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.origin ? { origin: opts.origin } : {}),
      ...(cookie ? { cookie } : {}),
      ...opts.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: await res.json(),
    setCookies: res.headers.getSetCookie().map((c) => parseSetCookie(c)),
  };
}

/** The jar after a response: set cookies replace, cleared ones (Max-Age=0) go. */
function update(jar: Jar, answer: Answer): Jar {
  const next: Jar = { ...jar };
  for (const c of answer.setCookies) {
    const name = c.name as keyof Jar;
    if (c.maxAge === 0) delete next[name];
    else next[name] = c.value;
  }
  return next;
}

const codeOf = (a: { body?: Answer['body']; errors?: Answer['body']['errors'] }) =>
  (a.body?.errors ?? a.errors)?.[0]?.extensions?.code;

/** A verified account signed in by a browser on `origin`: the cookie jar and the user's id. */
async function browserSession(origin = DEV_ORIGIN): Promise<{ jar: Jar; id: string; email: string }> {
  const u = await signedInUser(stack);
  const login = await post(LOGIN, { email: u.email, password: PASSWORD }, { origin });
  expect(login.body.errors).toBeUndefined();
  return { jar: update({}, login), id: u.id, email: u.email };
}

function preflight(origin: string) {
  return fetch(stack.gatewayUrl, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });
}

describe('CORS', () => {
  test('a preflight from an allowed origin is answered with credentials, cached for 600 s, varying by Origin', async () => {
    const r = await preflight(DEV_ORIGIN);
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe(DEV_ORIGIN);
    expect(r.headers.get('access-control-allow-credentials')).toBe('true');
    expect(r.headers.get('access-control-max-age')).toBe('600');
    expect(r.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(r.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
    expect(r.headers.get('vary')).toMatch(/Origin/);
  });

  test('a preflight from another origin gets no CORS headers', async () => {
    const r = await preflight(EVIL);
    expect(r.status).toBe(403);
    const cors: string[] = [];
    r.headers.forEach((_v, k) => k.startsWith('access-control-') && cors.push(k));
    expect(cors).toEqual([]);
    expect(r.headers.get('vary')).toMatch(/Origin/);
  });

  test('a request from another origin is answered without CORS headers (the browser hides the answer)', async () => {
    const r = await post('{ __typename }', {}, { origin: EVIL });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();
  });

  test('the allowed origin and the gateway’s own origin get the CORS headers', async () => {
    const own = new URL(stack.gatewayUrl).origin;
    for (const origin of [DEV_ORIGIN, own]) {
      const r = await post('{ __typename }', {}, { origin });
      expect(r.headers.get('access-control-allow-origin')).toBe(origin);
      expect(r.headers.get('access-control-allow-credentials')).toBe('true');
    }
  });

  test("Apollo's CSRF prevention stays on: a simple (text/plain) request is refused", async () => {
    const r = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: DEV_ORIGIN },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(r.status).toBe(400);
  });
});

describe('cookie sessions over HTTP', () => {
  test('login from an allowed origin sets both HttpOnly cookies and answers no token', async () => {
    const u = await signedInUser(stack);
    const r = await post(LOGIN, { email: u.email, password: PASSWORD }, { origin: DEV_ORIGIN });
    expect(r.body.data.login).toMatchObject({ accessToken: null, refreshToken: null, expiresIn: 900 });
    const byName = Object.fromEntries(r.setCookies.map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['shop_refresh', 'shop_session']);
    for (const c of Object.values(byName)) {
      expect(c).toMatchObject({ httpOnly: true, sameSite: 'lax', path: '/graphql' });
      expect(c.secure).toBeFalsy(); // development: Secure only in production (browser-sessions-production.test.ts)
      expect(c.value?.length).toBeGreaterThan(20);
    }
    expect(byName.shop_session.maxAge).toBe(900);
    expect(byName.shop_refresh.maxAge).toBe(30 * 24 * 3600);
  });

  test('from the gateway’s own origin (the storefront it serves) it is cookie mode too', async () => {
    const { jar } = await browserSession(new URL(stack.gatewayUrl).origin);
    expect(jar.shop_session).toBeDefined();
    expect(jar.shop_refresh).toBeDefined();
  });

  test('an aliased login that selects no token still sets the cookies', async () => {
    const u = await signedInUser(stack);
    const r = await post(LOGIN_ALIASED, { email: u.email, password: PASSWORD }, { origin: DEV_ORIGIN });
    expect(r.body.data.signIn.user.id).toBe(u.id);
    const jar = update({}, r);
    expect(jar.shop_session).toBeDefined();
    const me = await post(ME, {}, { origin: DEV_ORIGIN, jar });
    expect(me.body.data.me.id).toBe(u.id);
  });

  test('the access cookie is the session when no Authorization header is sent', async () => {
    const { jar, id } = await browserSession();
    expect((await post(ME, {}, { origin: DEV_ORIGIN, jar })).body.data.me.id).toBe(id);
    // Without the cookie: anonymous.
    expect((await post(ME, {}, { origin: DEV_ORIGIN })).body.data.me).toBeNull();
    // A bearer header wins over the cookie.
    const other = await signedInUser(stack);
    const r = await post(
      ME,
      {},
      { origin: DEV_ORIGIN, jar, headers: { authorization: `Bearer ${other.accessToken}` } },
    );
    expect(r.body.data.me.id).toBe(other.id);
  });

  test('a forged access cookie is UNAUTHENTICATED, but signing in still works', async () => {
    const jar = { shop_session: 'not.a.jwt' };
    const me = await post(ME, {}, { origin: DEV_ORIGIN, jar });
    expect(me.status).toBe(401);
    expect(codeOf(me)).toBe('UNAUTHENTICATED');
    const u = await signedInUser(stack);
    const login = await post(LOGIN, { email: u.email, password: PASSWORD }, { origin: DEV_ORIGIN, jar });
    expect(login.body.errors).toBeUndefined();
    expect(update(jar, login).shop_session).not.toBe('not.a.jwt');
  });

  test('refreshToken with the cookie alone rotates both cookies; the spent cookie is INVALID_TOKEN and clears them', async () => {
    const { jar, id } = await browserSession();
    const r = await post(REFRESH_COOKIE, {}, { origin: DEV_ORIGIN, jar });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.refreshToken).toMatchObject({
      accessToken: null,
      refreshToken: null,
      expiresIn: 900,
      user: { id },
    });
    const rotated = update(jar, r);
    expect(rotated.shop_refresh).toBeDefined();
    expect(rotated.shop_refresh).not.toBe(jar.shop_refresh);
    expect(r.setCookies.find((c) => c.name === 'shop_refresh')).toMatchObject({
      httpOnly: true,
      sameSite: 'lax',
      path: '/graphql',
      maxAge: 30 * 24 * 3600,
    });
    expect((await post(ME, {}, { origin: DEV_ORIGIN, jar: rotated })).body.data.me.id).toBe(id);

    // The old refresh cookie again (e.g. stolen and replayed): refused, and the answer clears both cookies.
    const replay = await post(REFRESH_COOKIE, {}, { origin: DEV_ORIGIN, jar: { shop_refresh: jar.shop_refresh } });
    expect(codeOf(replay)).toBe('INVALID_TOKEN');
    expect(replay.setCookies.map((c) => [c.name, c.maxAge]).sort()).toEqual([
      ['shop_refresh', 0],
      ['shop_session', 0],
    ]);
  });

  test('a refresh or logout that used the cookie never puts tokens in the body, even without Origin', async () => {
    const { jar } = await browserSession();
    const r = await post(REFRESH_COOKIE, {}, { jar });
    expect(r.body.data.refreshToken).toMatchObject({ accessToken: null, refreshToken: null });
    expect(update(jar, r).shop_session).toBeDefined();
  });

  test('logout with the cookie alone ends the session and clears both cookies', async () => {
    const { jar } = await browserSession();
    const out = await post(LOGOUT_COOKIE, {}, { origin: DEV_ORIGIN, jar });
    expect(out.body).toEqual({ data: { logout: true } });
    expect(out.setCookies.map((c) => [c.name, c.value, c.maxAge]).sort()).toEqual([
      ['shop_refresh', '', 0],
      ['shop_session', '', 0],
    ]);
    const again = await post(REFRESH_COOKIE, {}, { origin: DEV_ORIGIN, jar: { shop_refresh: jar.shop_refresh } });
    expect(codeOf(again)).toBe('INVALID_TOKEN');
  });

  test('refreshToken and logout with no token at all are UNAUTHENTICATED', async () => {
    for (const q of [REFRESH_COOKIE, LOGOUT_COOKIE]) {
      const r = await post(q, {}, { origin: DEV_ORIGIN });
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
      expect(r.body.errors![0].message).toMatch(/refresh token|session cookie/);
    }
  });
});

describe('bearer clients (no Origin) are unchanged', () => {
  test('login, refreshToken(refreshToken:) and Authorization work as before, and no cookie is set', async () => {
    const u = await signedInUser(stack);
    const login = await post(LOGIN, { email: u.email, password: PASSWORD });
    expect(login.body.data.login.accessToken).toEqual(expect.any(String));
    expect(login.body.data.login.refreshToken).toEqual(expect.any(String));
    expect(login.setCookies).toEqual([]);
    const refreshed = await post(REFRESH, { t: login.body.data.login.refreshToken });
    expect(refreshed.body.data.refreshToken.accessToken).toEqual(expect.any(String));
    expect(refreshed.setCookies).toEqual([]);
    const me = await stack.gql(ME, {}, refreshed.body.data.refreshToken.accessToken);
    expect(me.data!.me.id).toBe(u.id);
  });
});

describe('cross-site requests with the session cookies', () => {
  test('a JSON mutation with the cookies from a disallowed origin gets 403 FORBIDDEN and changes nothing', async () => {
    const { jar, id } = await browserSession();
    const r = await post(UPDATE, { n: 'Mallory' }, { origin: EVIL, jar });
    expect(r.status).toBe(403);
    expect(codeOf(r)).toBe('FORBIDDEN');
    expect(r.body.data).toBeUndefined();
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const me = await post(ME, {}, { origin: DEV_ORIGIN, jar });
    expect(me.body.data.me).toEqual({ id, firstName: null });
    // The refresh cookie alone is refused too (the session would otherwise be rotated by a foreign page).
    expect((await post(REFRESH_COOKIE, {}, { origin: EVIL, jar: { shop_refresh: jar.shop_refresh } })).status).toBe(
      403,
    );
  });

  test('the same mutation from the allowed origin, or without Origin (not a browser), goes through', async () => {
    const { jar } = await browserSession();
    const ok = await post(UPDATE, { n: 'Alice' }, { origin: DEV_ORIGIN, jar });
    expect(ok.body.data.updateProfile.firstName).toBe('Alice');
    const noOrigin = await post(UPDATE, { n: 'Bob' }, { jar });
    expect(noOrigin.body.data.updateProfile.firstName).toBe('Bob');
  });

  test('a disallowed origin without cookies is not refused (nothing to protect), and gets no cookies', async () => {
    const u = await signedInUser(stack);
    const r = await post(LOGIN, { email: u.email, password: PASSWORD }, { origin: EVIL });
    expect(r.status).toBe(200);
    expect(r.setCookies).toEqual([]);
  });
});

/** A graphql-ws client whose upgrade request carries these headers (a browser sends its cookies and Origin). */
function wsClient(headers: Record<string, string>) {
  class HeaderSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers });
    }
  }
  const client = createClient({
    url: stack.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: HeaderSocket,
    retryAttempts: 0,
    lazy: true,
  });
  disposers.push(() => client.dispose());
  return client;
}
const cookieHeader = (jar: Jar) => `shop_session=${jar.shop_session}; shop_refresh=${jar.shop_refresh}`;

describe('cookie sessions over WebSocket', () => {
  test('the upgrade’s access cookie is the socket’s session (queries and subscriptions)', async () => {
    const { jar, id } = await browserSession();
    const client = wsClient({ origin: DEV_ORIGIN, cookie: cookieHeader(jar) });
    const me = await new Promise<any>((resolve, reject) => {
      let result: any;
      client.subscribe({ query: ME }, { next: (v) => (result = v), error: reject, complete: () => resolve(result) });
    });
    expect(me.data.me.id).toBe(id);
    const iter = client.iterate({
      query: `subscription T($u: ID!) { ticker(userId: $u, count: 2) { n } }`,
      variables: { u: id },
    });
    const ticks: number[] = [];
    for await (const e of iter) ticks.push((e.data as any).ticker.n);
    expect(ticks).toEqual([1, 2]);
  });

  test('connectionParams authorization still wins over the cookie', async () => {
    const { jar } = await browserSession();
    const other = await signedInUser(stack);
    const s = await rawSocket(stack.gatewayUrl, { token: other.accessToken, headers: { cookie: cookieHeader(jar) } });
    sockets.push(s);
    s.subscribe('me', ME);
    expect((await s.next('me')).payload.data.me.id).toBe(other.id);
  });

  test('an upgrade from a disallowed origin is refused with 403', async () => {
    const { jar } = await browserSession();
    const err = await rawSocket(stack.gatewayUrl, { headers: { origin: EVIL, cookie: cookieHeader(jar) } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UpgradeRefused);
    expect((err as UpgradeRefused).status).toBe(403);
    expect(JSON.parse((err as UpgradeRefused).body).errors[0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('revoked sessions', () => {
  test('a password change elsewhere makes the cookie session UNAUTHENTICATED and closes its socket (4401)', async () => {
    const { jar, id, email } = await browserSession();
    const s = await rawSocket(stack.gatewayUrl, { headers: { origin: DEV_ORIGIN, cookie: cookieHeader(jar) } });
    sockets.push(s);
    expect(s.acked).toBe(true);
    s.subscribe('t', `subscription T($u: ID!) { ticker(userId: $u, count: 0) { n } }`, { u: id });
    expect((await s.next('t')).type).toBe('next');

    // Signed in elsewhere (bearer), the user changes the password: every earlier session ends.
    await new Promise((r) => setTimeout(r, 5)); // the new token's issue time is after the cookie's
    const elsewhere = await post(LOGIN, { email, password: PASSWORD });
    const changed = await stack.gql(
      `mutation { changePassword(currentPassword: "${PASSWORD}", newPassword: "another horse battery") }`,
      {},
      elsewhere.body.data.login.accessToken,
    );
    expect(changed.errors).toBeUndefined();

    expect(await closeCode(s, 10_000)).toBe(4401);
    const me = await eventually('the cookie session refused', async () => {
      const r = await post(ME, {}, { origin: DEV_ORIGIN, jar });
      return r.status === 401 ? r : undefined;
    });
    expect(codeOf(me)).toBe('UNAUTHENTICATED');
    expect(me.body.errors![0].extensions!.reason).toBe('revoked');
    // The refresh cookie's family was revoked too; the refresh is refused and the cookies cleared.
    const refresh = await post(REFRESH_COOKIE, {}, { origin: DEV_ORIGIN, jar });
    expect(codeOf(refresh)).toBe('INVALID_TOKEN');
    expect(update(jar, refresh)).toEqual({});
    // A revoked access cookie upgrade: refused with 4401 like a revoked bearer token.
    const again = await rawSocket(stack.gatewayUrl, { headers: { origin: DEV_ORIGIN, cookie: cookieHeader(jar) } });
    sockets.push(again);
    expect(again.acked).toBe(false);
    expect(await again.closed).toBe(4401);
  });

  test('graphql() without a cookie is unaffected by all this', async () => {
    expect((await graphql(stack.gatewayUrl, '{ __typename }')).data).toEqual({ __typename: 'Query' });
  });
});
