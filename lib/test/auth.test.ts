import jwt from 'jsonwebtoken';
import { generateKeyPair, INTERNAL_TOKEN, JWT_ALGORITHM, Keys, signAccessToken, signInternalToken, verifyAccessToken, verifyInternalToken } from '../src/auth';

/**
 * Token verification remembers tokens it has verified (every subgraph request carries one): that must never
 * change an answer — an expired token is refused even if it was accepted a moment ago, and a token is accepted
 * only under the key that verified it.
 */
const keysA: Keys = { access: generateKeyPair(), internal: generateKeyPair() };
const keysB: Keys = { access: generateKeyPair(), internal: generateKeyPair() };

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    return (err as { extensions?: { code?: string; reason?: string } }).extensions;
  }
}

test('an internal token is accepted (again and again) until it expires, then refused as expired', async () => {
  const token = jwt.sign({ role: 'USER' }, keysA.internal.privateKey!, {
    algorithm: JWT_ALGORITHM, issuer: INTERNAL_TOKEN.issuer, audience: INTERNAL_TOKEN.audience, expiresIn: 1, subject: 'u-1',
  });
  expect(verifyInternalToken(keysA, token)).toEqual({ userId: 'u-1', role: 'USER', ip: undefined });
  expect(verifyInternalToken(keysA, token)).toEqual({ userId: 'u-1', role: 'USER', ip: undefined });
  await new Promise((r) => setTimeout(r, 2100));
  expect(codeOf(() => verifyInternalToken(keysA, token))).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'expired' });
});

test('a token verified under one key is refused under another', () => {
  const token = signInternalToken(keysA, { userId: 'u-2', role: 'ADMIN' });
  expect(verifyInternalToken(keysA, token).role).toBe('ADMIN');
  expect(codeOf(() => verifyInternalToken(keysB, token))).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'invalid' });
});

test('an access token is not accepted as an internal token, nor the other way round', () => {
  const access = signAccessToken(keysA, { sub: 'u-3', role: 'USER' });
  expect(verifyAccessToken(keysA, access)).toEqual({ sub: 'u-3', role: 'USER' });
  const sameKeys: Keys = { access: keysA.access, internal: keysA.access };
  expect(codeOf(() => verifyInternalToken(sameKeys, access))).toMatchObject({ code: 'UNAUTHENTICATED' });
  const internal = signInternalToken(sameKeys, { userId: 'u-3', role: 'USER' });
  expect(verifyInternalToken(sameKeys, internal).userId).toBe('u-3');
  expect(codeOf(() => verifyAccessToken(sameKeys, internal))).toMatchObject({ code: 'UNAUTHENTICATED' });
});
