import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import type { Config } from './config';
import { AppError, ErrorCode } from './errors';

export type Role = 'ADMIN' | 'USER';

/** Who is calling, as the gateway vouches for it. Anonymous callers have no userId. */
export interface Identity {
  userId?: string;
  role?: Role;
  /** The client's address as the gateway saw it (for rate limits). */
  ip?: string;
}

/** The access tokens' algorithm (the user subgraph's RSA key pair). */
export const JWT_ALGORITHM = 'RS256' as const;
/**
 * The asymmetric algorithms a key pair may sign with. Each key pair's algorithm follows from its configured key type
 * (RSA: RS256, EC P-256: ES256) and is pinned: a token claiming any other `alg` (including `none`, or HS256 with the
 * public key as secret) is refused.
 */
export type JwtAlgorithm = 'RS256' | 'ES256';
export const ACCESS_TOKEN = { issuer: 'shop:user', audience: 'shop:gateway', ttlSeconds: 15 * 60 };
/**
 * The gateway's internal token names the one subgraph it is for (`aud: shop:subgraph:<name>`): a subgraph that sees
 * a token (e.g. a compromised media service) cannot replay it to another subgraph.
 */
export const INTERNAL_TOKEN = { issuer: 'shop:gateway', audiencePrefix: 'shop:subgraph:', ttlSeconds: 60 };
export function internalTokenAudience(service: string): string {
  return `${INTERNAL_TOKEN.audiencePrefix}${service}`;
}
/** Header on which the gateway sends its signed internal token to subgraphs. */
export const INTERNAL_TOKEN_HEADER = 'x-gateway-token';
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Browser (cookie) sessions, between the gateway and the user subgraph only: the gateway sends no client header on to
 * a subgraph, and a subgraph serves nothing without the gateway's internal token. The gateway says that a request is
 * in cookie mode and hands over the refresh-token cookie; the user subgraph reports the tokens it issued, or that the
 * session ended, in its response's extensions, which the gateway turns into cookies and never passes on.
 */
export const SESSION_COOKIE_MODE_HEADER = 'x-session-cookie-mode';
export const REFRESH_COOKIE_HEADER = 'x-session-refresh-token';
export const SESSION_OUTCOME_EXTENSION = 'sessionOutcome';
export interface SessionOutcome {
  /** New tokens: the gateway sets both cookies (Max-Age: `expiresIn`, `refreshExpiresIn`). */
  issued?: { accessToken: string; refreshToken: string; expiresIn: number; refreshExpiresIn: number };
  /** The session ended (logout, or a refresh token refused): the gateway clears both cookies. */
  ended?: boolean;
}

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}
export interface Keys {
  /** Signs users' access tokens (user subgraph) and verifies them (gateway). */
  access: Partial<KeyPair>;
  /** Signs the gateway's internal tokens (gateway) and verifies them (subgraphs). */
  internal: Partial<KeyPair>;
}

/**
 * A new PEM key pair: RSA 2048 (RS256) or EC P-256 (ES256). The internal tokens use EC: the gateway signs one per
 * identity and subgraph, and ES256 signs in ~0.05 ms where RS256 takes ~0.3 ms (bench/README.md, issue 19).
 */
export function generateKeyPair(type: 'rsa' | 'ec' = 'rsa'): KeyPair {
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const;
  const { privateKey, publicKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding, privateKeyEncoding })
      : generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding, privateKeyEncoding });
  return { privateKey, publicKey };
}

/** The key pair for the gateway's internal tokens (EC P-256, ES256). */
export function generateInternalKeyPair(): KeyPair {
  return generateKeyPair('ec');
}

function devKeyPair(dir: string, name: string, type: 'rsa' | 'ec'): KeyPair {
  const file = path.join(dir, `${name}.json`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as KeyPair;
  } catch {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = generateKeyPair(type);
    try {
      // 'wx': when two processes start at once, the first writer wins and the other reads its keys.
      fs.writeFileSync(file, JSON.stringify(pair), { flag: 'wx', mode: 0o600 });
      return pair;
    } catch {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as KeyPair;
    }
  }
}

/**
 * Keys from the environment; in development and test, missing ones are generated once into the
 * git-ignored KEYS_DIR so that every local process agrees on them.
 */
export function loadKeys(config: Config): Keys {
  const fromEnv: Keys = {
    access: { privateKey: config.jwt.privateKey, publicKey: config.jwt.publicKey },
    internal: { privateKey: config.jwt.internalPrivateKey, publicKey: config.jwt.internalPublicKey },
  };
  if (config.isProduction) return fromEnv;
  const dir = path.resolve(config.keysDir);
  const access = fromEnv.access.publicKey ? fromEnv.access : devKeyPair(dir, 'access', 'rsa');
  // A key file written before internal tokens moved to EC holds RSA keys: they keep working (RS256).
  const internal = fromEnv.internal.publicKey ? fromEnv.internal : devKeyPair(dir, 'internal', 'ec');
  return { access, internal };
}

function need(key: string | undefined, what: string): string {
  if (!key) throw new Error(`${what} is not configured`);
  return key;
}

export interface AccessClaims {
  sub: string;
  role: Role;
}

/**
 * `iatMs`: the issue time in milliseconds (`iat` has whole seconds), so that the gateway can tell a token issued just
 * before a revocation from one issued just after it in the same second (live sessions, gateway/src/sessions.ts).
 */
export function signAccessToken(keys: Keys, claims: AccessClaims): string {
  const now = Date.now();
  const { key, algorithm } = signingKey(need(keys.access.privateKey, 'JWT_PRIVATE_KEY'), 'private');
  return jwt.sign({ role: claims.role, iat: Math.floor(now / 1000), iatMs: now }, key, {
    algorithm,
    subject: claims.sub,
    issuer: ACCESS_TOKEN.issuer,
    audience: ACCESS_TOKEN.audience,
    expiresIn: ACCESS_TOKEN.ttlSeconds,
    jwtid: randomUUID(),
  });
}

/**
 * Parsed keys by PEM text, with the algorithm each signs or verifies with: jsonwebtoken would otherwise parse the PEM
 * on every sign and verify (createPublicKey was ~4 % of a subgraph's CPU under load). Keys come from configuration,
 * so the map stays tiny.
 */
interface SigningKey {
  key: KeyObject;
  algorithm: JwtAlgorithm;
}
const signingKeys = new Map<string, SigningKey>();
function signingKey(pem: string, kind: 'public' | 'private'): SigningKey {
  let k = signingKeys.get(pem);
  if (!k) {
    const key = kind === 'public' ? createPublicKey(pem) : createPrivateKey(pem);
    k = { key, algorithm: algorithmOf(key) };
    signingKeys.set(pem, k);
  }
  return k;
}

/** RS256 for RSA, ES256 for EC P-256; any other key type is a configuration error. */
function algorithmOf(key: KeyObject): JwtAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(
    `unsupported signing key (${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}): use RSA or EC P-256`,
  );
}

/** The algorithm a PEM key (private or public) signs or verifies with (tests and the bench mint tokens with it). */
export function keyAlgorithm(pem: string): JwtAlgorithm {
  return signingKey(pem, pem.includes('PRIVATE KEY') ? 'private' : 'public').algorithm;
}

/**
 * Tokens already verified, by key and exact token text, until they expire: every subgraph request verifies one
 * (RS256, ~3 % of a subgraph's CPU under load) and the same token comes back on every request of a page and for the
 * rest of its lifetime. The same text under the same key gives the same answer until `exp`, so this changes no
 * outcome; failures are never kept. Bounded: the least recently used entry goes when full. (Before, a full map was
 * scanned for expired entries on every insert: under a steady stream of new tokens, with a few expiring between two
 * inserts, each new token cost a walk of all 10,000 entries.)
 */
const verified = new LRUCache<string, { payload: jwt.JwtPayload; expiresAt: number }>({ max: 10_000 });

function verify(token: string, publicKey: string, opts: { issuer: string; audience: string }): jwt.JwtPayload {
  const cacheKey = `${opts.issuer}\n${opts.audience}\n${publicKey}\n${token}`;
  const hit = verified.get(cacheKey);
  if (hit) {
    if (hit.expiresAt > Date.now()) return hit.payload;
    verified.delete(cacheKey);
  }
  try {
    const { key, algorithm } = signingKey(publicKey, 'public');
    const payload = jwt.verify(token, key, {
      algorithms: [algorithm],
      issuer: opts.issuer,
      audience: opts.audience,
    });
    if (typeof payload === 'string') throw new Error('unexpected payload');
    if (typeof payload.exp === 'number') {
      verified.set(cacheKey, { payload: Object.freeze(payload), expiresAt: payload.exp * 1000 });
    }
    return payload;
  } catch (err) {
    const expired = err instanceof jwt.TokenExpiredError;
    throw new AppError(
      ErrorCode.UNAUTHENTICATED,
      expired ? 'The access token has expired' : 'The access token is invalid',
      {
        http: { status: 401 },
        reason: expired ? 'expired' : 'invalid',
      },
    );
  }
}

/** Verifies a user's access token (gateway). Throws UNAUTHENTICATED for anything but a valid, unexpired token. */
export function verifyAccessToken(keys: Keys, token: string): AccessClaims {
  const p = verify(token, need(keys.access.publicKey, 'JWT_PUBLIC_KEY'), ACCESS_TOKEN);
  if (typeof p.sub !== 'string' || (p.role !== 'ADMIN' && p.role !== 'USER')) {
    throw new AppError(ErrorCode.UNAUTHENTICATED, 'The access token is invalid', { http: { status: 401 } });
  }
  return { sub: p.sub, role: p.role };
}

/** Signs the gateway's internal token for one subgraph (`service` is its name in the supergraph). */
export function signInternalToken(keys: Keys, identity: Identity, service: string): string {
  const payload: Record<string, unknown> = {};
  if (identity.role) payload.role = identity.role;
  if (identity.ip) payload.ip = identity.ip;
  const { key, algorithm } = signingKey(need(keys.internal.privateKey, 'INTERNAL_JWT_PRIVATE_KEY'), 'private');
  return jwt.sign(payload, key, {
    algorithm,
    issuer: INTERNAL_TOKEN.issuer,
    audience: internalTokenAudience(service),
    expiresIn: INTERNAL_TOKEN.ttlSeconds,
    ...(identity.userId ? { subject: identity.userId } : {}),
  });
}

/**
 * Verifies the gateway's internal token in subgraph `service`. Anything else — including a token minted for another
 * subgraph — is UNAUTHENTICATED.
 */
export function verifyInternalToken(keys: Keys, token: string | undefined, service: string): Identity {
  if (!token)
    throw new AppError(ErrorCode.UNAUTHENTICATED, 'Subgraphs accept requests from the gateway only', {
      http: { status: 401 },
    });
  const p = verify(token, need(keys.internal.publicKey, 'INTERNAL_JWT_PUBLIC_KEY'), {
    issuer: INTERNAL_TOKEN.issuer,
    audience: internalTokenAudience(service),
  });
  return {
    userId: typeof p.sub === 'string' ? p.sub : undefined,
    role: p.role === 'ADMIN' || p.role === 'USER' ? p.role : undefined,
    ip: typeof p.ip === 'string' ? p.ip : undefined,
  };
}
