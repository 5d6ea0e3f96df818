import jwt from 'jsonwebtoken';
import {
  ACCESS_TOKEN,
  generateKeyPair,
  INTERNAL_TOKEN_HEADER,
  keyAlgorithm,
  signAccessToken,
  signInternalToken,
} from '@shop/kernel';
import { graphql, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import userSubgraph from '../../subgraphs/user/src';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ subgraphs: [userSubgraph], gateway: startGateway });
});
afterAll(() => stack?.stop());

const ME = '{ me { id } }';
const USER_ID = '11111111-1111-4111-8111-111111111111';
const codeOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.code;

describe('access tokens at the gateway', () => {
  test('a valid token is accepted', async () => {
    const token = signAccessToken(stack.env.keys, { sub: USER_ID, role: 'USER' });
    const res = await stack.gql(ME, {}, token);
    expect(res.errors).toBeUndefined();
  });

  test.each([
    [
      'signed with another key',
      () => signAccessToken({ access: generateKeyPair(), internal: {} }, { sub: USER_ID, role: 'ADMIN' }),
    ],
    [
      'expired',
      () =>
        jwt.sign({ role: 'USER', exp: Math.floor(Date.now() / 1000) - 10 }, stack.env.keys.access.privateKey!, {
          algorithm: 'RS256',
          subject: USER_ID,
          issuer: ACCESS_TOKEN.issuer,
          audience: ACCESS_TOKEN.audience,
        }),
    ],
    [
      'alg none',
      () =>
        `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: USER_ID, role: 'ADMIN', iss: ACCESS_TOKEN.issuer, aud: ACCESS_TOKEN.audience, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}.`,
    ],
    [
      'HS256 with the public key as secret (algorithm confusion)',
      () =>
        jwt.sign({ role: 'ADMIN' }, stack.env.keys.access.publicKey!, {
          algorithm: 'HS256',
          subject: USER_ID,
          issuer: ACCESS_TOKEN.issuer,
          audience: ACCESS_TOKEN.audience,
        }),
    ],
    [
      'wrong audience',
      () =>
        jwt.sign({ role: 'ADMIN' }, stack.env.keys.access.privateKey!, {
          algorithm: 'RS256',
          subject: USER_ID,
          issuer: ACCESS_TOKEN.issuer,
          audience: 'someone-else',
        }),
    ],
    [
      'wrong issuer',
      () =>
        jwt.sign({ role: 'ADMIN' }, stack.env.keys.access.privateKey!, {
          algorithm: 'RS256',
          subject: USER_ID,
          issuer: 'evil',
          audience: ACCESS_TOKEN.audience,
        }),
    ],
    [
      'an internal token presented as an access token',
      () => signInternalToken(stack.env.keys, { userId: USER_ID, role: 'ADMIN' }, 'user'),
    ],
    ['garbage', () => 'not.a.jwt'],
  ])('%s → 401 UNAUTHENTICATED', async (_label, make) => {
    const res = await stack.gql(ME, {}, make());
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
    expect(res.data ?? null).toBeNull();
  });

  test('an expired token says so', async () => {
    const token = jwt.sign(
      { role: 'USER', exp: Math.floor(Date.now() / 1000) - 10 },
      stack.env.keys.access.privateKey!,
      { algorithm: 'RS256', subject: USER_ID, issuer: ACCESS_TOKEN.issuer, audience: ACCESS_TOKEN.audience },
    );
    const res = await stack.gql(ME, {}, token);
    expect(res.errors![0].message).toMatch(/expired/);
  });

  test('a malformed Authorization header → UNAUTHENTICATED', async () => {
    const res = await graphql(stack.gatewayUrl, ME, {}, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
  });
});

describe('subgraphs trust only the gateway', () => {
  const userUrl = () => stack.services.user.url;

  test('a direct call without the gateway token → 401 UNAUTHENTICATED', async () => {
    const res = await graphql(userUrl(), ME);
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
  });

  test('a user access token sent straight to a subgraph is not a gateway token', async () => {
    const token = signAccessToken(stack.env.keys, { sub: USER_ID, role: 'ADMIN' });
    const res = await graphql(userUrl(), ME, {}, { headers: { [INTERNAL_TOKEN_HEADER]: token } });
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
  });

  test('an internal token signed by another key or expired → UNAUTHENTICATED', async () => {
    const forged = signInternalToken(
      { access: {}, internal: generateKeyPair() },
      { userId: USER_ID, role: 'ADMIN' },
      'user',
    );
    expect(codeOf(await graphql(userUrl(), ME, {}, { headers: { [INTERNAL_TOKEN_HEADER]: forged } }))).toBe(
      'UNAUTHENTICATED',
    );
    const expired = jwt.sign(
      { role: 'ADMIN', exp: Math.floor(Date.now() / 1000) - 1 },
      stack.env.keys.internal.privateKey!,
      {
        algorithm: keyAlgorithm(stack.env.keys.internal.privateKey!),
        issuer: 'shop:gateway',
        audience: 'shop:subgraph:user',
        subject: USER_ID,
      },
    );
    expect(codeOf(await graphql(userUrl(), ME, {}, { headers: { [INTERNAL_TOKEN_HEADER]: expired } }))).toBe(
      'UNAUTHENTICATED',
    );
  });

  test('a valid gateway token is accepted', async () => {
    const token = signInternalToken(stack.env.keys, {}, 'user');
    const res = await graphql(userUrl(), ME, {}, { headers: { [INTERNAL_TOKEN_HEADER]: token } });
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ me: null });
  });

  test('/health and /ready answer without a token; ready checks the real dependencies', async () => {
    const base = new URL(userUrl()).origin;
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect((await ready.json()).checks.map((c: { name: string; ok: boolean }) => `${c.name}:${c.ok}`)).toEqual([
      'postgres:true',
      'redis:true',
      'nats:true',
    ]);
    const gw = new URL(stack.gatewayUrl).origin;
    expect((await fetch(`${gw}/ready`)).status).toBe(200);
  });
});
