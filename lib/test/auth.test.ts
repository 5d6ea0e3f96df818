import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import {
  generateInternalKeyPair,
  generateKeyPair,
  INTERNAL_TOKEN,
  internalTokenAudience,
  keyAlgorithm,
  Keys,
  signAccessToken,
  signInternalToken,
  verifyAccessToken,
  verifyInternalToken,
} from '../src/auth';

/**
 * Token verification remembers tokens it has verified (every subgraph request carries one): that must never
 * change an answer — an expired token is refused even if it was accepted a moment ago, and a token is accepted
 * only under the key that verified it.
 */
const keysA: Keys = { access: generateKeyPair(), internal: generateInternalKeyPair() };
const keysB: Keys = { access: generateKeyPair(), internal: generateInternalKeyPair() };

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
    algorithm: keyAlgorithm(keysA.internal.privateKey!),
    issuer: INTERNAL_TOKEN.issuer,
    audience: internalTokenAudience('product'),
    expiresIn: 1,
    subject: 'u-1',
  });
  expect(verifyInternalToken(keysA, token, 'product')).toEqual({ userId: 'u-1', role: 'USER', ip: undefined });
  expect(verifyInternalToken(keysA, token, 'product')).toEqual({ userId: 'u-1', role: 'USER', ip: undefined });
  await new Promise((r) => setTimeout(r, 2100));
  expect(codeOf(() => verifyInternalToken(keysA, token, 'product'))).toMatchObject({
    code: 'UNAUTHENTICATED',
    reason: 'expired',
  });
});

test('a token verified under one key is refused under another', () => {
  const token = signInternalToken(keysA, { userId: 'u-2', role: 'ADMIN' }, 'user');
  expect(verifyInternalToken(keysA, token, 'user').role).toBe('ADMIN');
  expect(codeOf(() => verifyInternalToken(keysB, token, 'user'))).toMatchObject({
    code: 'UNAUTHENTICATED',
    reason: 'invalid',
  });
});

test('an access token is not accepted as an internal token, nor the other way round', () => {
  const access = signAccessToken(keysA, { sub: 'u-3', role: 'USER' });
  expect(verifyAccessToken(keysA, access)).toEqual({ sub: 'u-3', role: 'USER' });
  const sameKeys: Keys = { access: keysA.access, internal: keysA.access };
  expect(codeOf(() => verifyInternalToken(sameKeys, access, 'user'))).toMatchObject({ code: 'UNAUTHENTICATED' });
  const internal = signInternalToken(sameKeys, { userId: 'u-3', role: 'USER' }, 'user');
  expect(verifyInternalToken(sameKeys, internal, 'user').userId).toBe('u-3');
  expect(codeOf(() => verifyAccessToken(sameKeys, internal))).toMatchObject({ code: 'UNAUTHENTICATED' });
});

describe('internal tokens name the subgraph they are for', () => {
  test('a token minted for product is refused by user — also after product has verified (and cached) it', () => {
    const token = signInternalToken(keysA, { userId: 'u-4', role: 'ADMIN' }, 'product');
    expect(jwt.decode(token)).toMatchObject({ aud: 'shop:subgraph:product', iss: INTERNAL_TOKEN.issuer });
    expect(verifyInternalToken(keysA, token, 'product')).toEqual({ userId: 'u-4', role: 'ADMIN', ip: undefined });
    expect(codeOf(() => verifyInternalToken(keysA, token, 'user'))).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'invalid',
    });
    // The verify cache is keyed by audience: the accepted entry for product answers nothing for user, and vice versa.
    expect(verifyInternalToken(keysA, token, 'product').role).toBe('ADMIN');
    expect(codeOf(() => verifyInternalToken(keysA, token, 'user'))).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'invalid',
    });
  });

  test('a token with the old shared audience (shop:subgraph) or without one is refused by every subgraph', () => {
    const sign = (aud?: string) =>
      jwt.sign({ role: 'ADMIN' }, keysA.internal.privateKey!, {
        algorithm: keyAlgorithm(keysA.internal.privateKey!),
        issuer: INTERNAL_TOKEN.issuer,
        expiresIn: 60,
        subject: 'u-5',
        ...(aud ? { audience: aud } : {}),
      });
    for (const service of ['user', 'product', 'cart', 'order', 'media', 'notification']) {
      expect(codeOf(() => verifyInternalToken(keysA, sign('shop:subgraph'), service))).toMatchObject({
        code: 'UNAUTHENTICATED',
      });
      expect(codeOf(() => verifyInternalToken(keysA, sign(), service))).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(codeOf(() => verifyInternalToken(keysA, sign(`shop:subgraph:${service}x`), service))).toMatchObject({
        code: 'UNAUTHENTICATED',
      });
      expect(verifyInternalToken(keysA, sign(`shop:subgraph:${service}`), service).userId).toBe('u-5');
    }
  });
});

describe('the internal key pair decides the algorithm, and pins it', () => {
  test('internal tokens are ES256 with an EC P-256 pair; an RSA pair (keys written before) still works with RS256', () => {
    const ec = signInternalToken(keysA, { userId: 'u-6', role: 'USER' }, 'cart');
    expect(jwt.decode(ec, { complete: true })?.header.alg).toBe('ES256');
    expect(verifyInternalToken(keysA, ec, 'cart').userId).toBe('u-6');
    const rsaKeys: Keys = { access: keysA.access, internal: generateKeyPair() };
    const rsa = signInternalToken(rsaKeys, { userId: 'u-6', role: 'USER' }, 'cart');
    expect(jwt.decode(rsa, { complete: true })?.header.alg).toBe('RS256');
    expect(verifyInternalToken(rsaKeys, rsa, 'cart').userId).toBe('u-6');
    // Neither pair accepts the other's token.
    expect(codeOf(() => verifyInternalToken(rsaKeys, ec, 'cart'))).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(codeOf(() => verifyInternalToken(keysA, rsa, 'cart'))).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  test('with an EC pair, a token that picks its own algorithm is refused: HS256 keyed with the public key, none', () => {
    const claims = { issuer: INTERNAL_TOKEN.issuer, audience: internalTokenAudience('order'), subject: 'u-7' };
    const hs = jwt.sign({ role: 'ADMIN' }, keysA.internal.publicKey!, { algorithm: 'HS256', ...claims });
    expect(codeOf(() => verifyInternalToken(keysA, hs, 'order'))).toMatchObject({ code: 'UNAUTHENTICATED' });
    const none = jwt.sign({ role: 'ADMIN' }, '', { algorithm: 'none', ...claims });
    expect(codeOf(() => verifyInternalToken(keysA, none, 'order'))).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  test('a key of another type or curve is a configuration error', () => {
    const { publicKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-384',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    expect(() => keyAlgorithm(publicKey)).toThrow(/unsupported signing key/);
    expect(keyAlgorithm(keysA.internal.publicKey!)).toBe('ES256');
    expect(keyAlgorithm(keysA.access.privateKey!)).toBe('RS256');
  });
});
