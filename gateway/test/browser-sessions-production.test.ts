import { parseSetCookie } from 'cookie';
import type { Stack } from '@shop/kernel/testing';
import userSubgraph from '../../subgraphs/user/src';
import { LOGIN, PASSWORD, signedInUser } from '../../subgraphs/user/test/helpers';
import { EdgeStack, startEdgeStack } from './fixtures/edge-stack';

// The gateway in production mode, CORS_ORIGINS unset (production's default: no other origin; lib/test/config.test.ts).
let stack: EdgeStack;
beforeAll(async () => {
  stack = await startEdgeStack({
    subgraphs: [userSubgraph],
    production: true,
    gatewayConfig: (c) => ({ ...c, browser: { corsOrigins: [] } }),
  });
});
afterAll(() => stack?.stop());

test('the session cookies are Secure in production', async () => {
  const u = await signedInUser(stack as unknown as Stack);
  const own = new URL(stack.gatewayUrl).origin;
  const res = await fetch(stack.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: own },
    body: JSON.stringify({ query: LOGIN, variables: { email: u.email, password: PASSWORD } }),
  });
  const body = await res.json();
  expect(body.data.login).toMatchObject({ accessToken: null, refreshToken: null });
  const cookies = res.headers.getSetCookie().map((c) => parseSetCookie(c));
  expect(cookies.map((c) => c.name).sort()).toEqual(['shop_refresh', 'shop_session']);
  for (const c of cookies) expect(c).toMatchObject({ secure: true, httpOnly: true, sameSite: 'lax', path: '/graphql' });
});

test("without CORS_ORIGINS only the gateway's own origin is allowed", async () => {
  const preflight = (origin: string) =>
    fetch(stack.gatewayUrl, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
  const dev = await preflight('http://localhost:5173');
  expect(dev.status).toBe(403);
  expect(dev.headers.get('access-control-allow-origin')).toBeNull();
  const own = new URL(stack.gatewayUrl).origin;
  expect((await preflight(own)).headers.get('access-control-allow-origin')).toBe(own);
});
