import jwt from 'jsonwebtoken';
import { ACCESS_TOKEN, composeModules, StartedGateway, StartedService } from '@shop/kernel';
import { createTestEnv, graphql, Stack, TestEnv } from '@shop/kernel/testing';
import { startGateway } from '../src';
import userSubgraph from '../../subgraphs/user/src';
import { LOGIN, PASSWORD, REFRESH, signedInUser, tokenFromOutbox } from '../../subgraphs/user/test/helpers';
import { tickerState, tickerSubgraph } from './fixtures/ticker';
import { closeCode, rawSocket, RawSocket } from './fixtures/ws';

/**
 * Live sessions follow the account: a socket lives only as long as its access token, and when a user's sessions are
 * revoked (password changed or reset, refresh token reused) or their role changes, every gateway instance closes that
 * user's sockets (4401) and refuses their earlier access tokens, over HTTP too. Two gateways share the deployment's
 * NATS; a third starts after the fact.
 */
let env: TestEnv;
const services: StartedService[] = [];
const gateways: StartedGateway[] = [];
let supergraphSdl: string;
let urls: Record<string, string>;
let stack: Stack; // gateway A, for the user helpers
let other: StartedGateway; // gateway B
const sockets: RawSocket[] = [];

async function gateway(): Promise<StartedGateway> {
  const gw = await startGateway({
    config: env.config,
    keys: env.keys,
    logger: env.logger.child({ service: 'gateway' }),
    port: 0,
    supergraphSdl,
    subgraphUrls: urls,
  });
  gateways.push(gw);
  return gw;
}

beforeAll(async () => {
  env = await createTestEnv();
  const user = await userSubgraph.start({ config: env.config, keys: env.keys, logger: env.logger, port: 0 });
  services.push(user);
  const ticker = await tickerSubgraph.start({ config: env.config, keys: env.keys, logger: env.logger, port: 0 });
  services.push(ticker);
  urls = { user: user.url, ticker: ticker.url };
  ({ supergraphSdl } = await composeModules([userSubgraph, tickerSubgraph], urls));
  const a = await gateway();
  other = await gateway();
  stack = {
    env,
    gatewayUrl: a.url,
    services: { user, ticker },
    gql: (query, variables, token) => graphql(a.url, query, variables, { token }),
    stop: async () => undefined,
  };
});
afterAll(async () => {
  for (const s of sockets) s.close();
  for (const g of gateways) await g.stop();
  for (const s of services.reverse()) await s.stop();
  await env?.cleanup();
});

const TICKER = `subscription T($u: ID!) { ticker(userId: $u, count: 0) { n } }`;
const ME = `{ me { id role } }`;
const CHANGE = `mutation C($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A signed-in socket with a running subscription (ticker events arriving). */
async function live(url: string, token: string, userId: string): Promise<RawSocket> {
  const s = await rawSocket(url, { token });
  sockets.push(s);
  expect(s.acked).toBe(true);
  s.subscribe('t', TICKER, { u: userId });
  expect((await s.next('t')).type).toBe('next');
  return s;
}

async function expectRevokedOverHttp(url: string, token: string) {
  const r = await graphql(url, ME, {}, { token });
  expect(r.status).toBe(401);
  expect(r.errors?.[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'revoked' });
}

async function expectRefusedOnConnect(url: string, token: string) {
  const s = await rawSocket(url, { token });
  sockets.push(s);
  expect(s.acked).toBe(false);
  expect(await s.closed).toBe(4401);
}

test('an access token that expires closes its socket (4401), subscription included; it cannot reconnect with it', async () => {
  const userId = 'expiring-user';
  const token = jwt.sign({ role: 'USER' }, env.keys.access.privateKey!, {
    algorithm: 'RS256',
    subject: userId,
    issuer: ACCESS_TOKEN.issuer,
    audience: ACCESS_TOKEN.audience,
    expiresIn: 3,
  });
  const openBefore = tickerState.open;
  const s = await live(stack.gatewayUrl, token, userId);
  s.subscribe('q', ME);
  expect((await s.next('q')).payload.data).toEqual({ me: null }); // the ticker's user is not in the user subgraph
  expect(await closeCode(s, 6000)).toBe(4401);
  await sleep(200);
  expect(tickerState.open).toBe(openBefore); // the upstream subscription ended with the socket
  await expectRefusedOnConnect(stack.gatewayUrl, token);
});

test("changePassword closes the user's open sockets on every gateway; the old token is refused; a new sign-in works", async () => {
  const u = await signedInUser(stack);
  const onA = await live(stack.gatewayUrl, u.accessToken, u.id);
  const onB = await live(other.url, u.accessToken, u.id);
  const other2 = await signedInUser(stack); // someone else's socket stays open
  const bystander = await live(other.url, other2.accessToken, other2.id);

  const changed = await stack.gql(CHANGE, { c: PASSWORD, n: 'a brand new passphrase' }, u.accessToken);
  expect(changed.data).toEqual({ changePassword: true });
  expect(await closeCode(onA, 5000)).toBe(4401);
  expect(await closeCode(onB, 5000)).toBe(4401);
  expect(await closeCode(bystander, 300)).toBeUndefined();

  await expectRevokedOverHttp(stack.gatewayUrl, u.accessToken);
  await expectRevokedOverHttp(other.url, u.accessToken);
  await expectRefusedOnConnect(other.url, u.accessToken);

  // A gateway that starts now replays the revocation.
  const late = await gateway();
  await expectRevokedOverHttp(late.url, u.accessToken);

  const again = await stack.gql(LOGIN, { email: u.email, password: 'a brand new passphrase' });
  const fresh = again.data!.login.accessToken as string;
  expect((await graphql(other.url, ME, {}, { token: fresh })).data).toEqual({ me: { id: u.id, role: 'USER' } });
  await live(late.url, fresh, u.id);
});

test("resetPassword closes the user's sockets too", async () => {
  const u = await signedInUser(stack);
  const s = await live(other.url, u.accessToken, u.id);
  await stack.gql(`mutation R($e: String!) { requestPasswordReset(email: $e) }`, { e: u.email });
  const token = await tokenFromOutbox(stack, 'user.password_reset_requested', u.email);
  const reset = await stack.gql(`mutation P($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }`, {
    t: token,
    p: 'reset to something else',
  });
  expect(reset.data).toEqual({ resetPassword: true });
  expect(await closeCode(s, 5000)).toBe(4401);
  await expectRevokedOverHttp(other.url, u.accessToken);
});

test("a role change closes the user's sockets; the old token is refused, a refreshed one carries the new role", async () => {
  const admin = await signedInUser(stack, { role: 'ADMIN' });
  const u = await signedInUser(stack);
  const s = await live(other.url, u.accessToken, u.id);
  const set = await stack.gql(
    `mutation S($u: ID!) { setUserRole(userId: $u, role: ADMIN) { id role } }`,
    { u: u.id },
    admin.accessToken,
  );
  expect(set.data).toEqual({ setUserRole: { id: u.id, role: 'ADMIN' } });
  expect(await closeCode(s, 5000)).toBe(4401);
  await expectRevokedOverHttp(other.url, u.accessToken);

  const refreshed = await stack.gql(REFRESH, { t: u.refreshToken });
  expect(refreshed.errors).toBeUndefined();
  const r = await graphql(other.url, ME, {}, { token: refreshed.data!.refreshToken.accessToken });
  expect(r.data).toEqual({ me: { id: u.id, role: 'ADMIN' } });
});

test("a reused refresh token revokes its family, which closes the user's sockets (user.sessions_revoked)", async () => {
  const u = await signedInUser(stack);
  const rotated = await stack.gql(REFRESH, { t: u.refreshToken });
  const session = rotated.data!.refreshToken as { accessToken: string; refreshToken: string };
  const s = await live(other.url, session.accessToken, u.id);

  const reuse = await stack.gql(REFRESH, { t: u.refreshToken }); // the spent token again: theft suspected
  expect(reuse.errors?.[0].extensions?.code).toBe('INVALID_TOKEN');
  expect(await closeCode(s, 5000)).toBe(4401);
  await expectRevokedOverHttp(stack.gatewayUrl, session.accessToken);
  expect((await stack.gql(REFRESH, { t: session.refreshToken })).errors?.[0].extensions?.code).toBe('INVALID_TOKEN');
});
