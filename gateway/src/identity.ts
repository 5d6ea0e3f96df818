import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { AppError, ErrorCode, Identity, Keys, signInternalToken, verifyAccessToken } from '@shop/kernel';
import type { LiveSessions, TokenTimes } from './sessions';

/**
 * Reads `Authorization: Bearer <accessToken>`; no header = anonymous, a bad token = UNAUTHENTICATED (never silently
 * anonymous). With `sessions`, a token issued before the user's sessions were revoked (or their role changed) is
 * UNAUTHENTICATED too (reason `revoked`). `token` carries the access token's issue and expiry times.
 */
export function authenticate(
  keys: Keys,
  header: string | undefined,
  ip: string | undefined,
  sessions?: LiveSessions,
): { identity: Identity; token?: TokenTimes } {
  if (!header) return { identity: { ip } };
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!m)
    throw new AppError(ErrorCode.UNAUTHENTICATED, 'Authorization must be "Bearer <access token>"', {
      http: { status: 401 },
    });
  return authenticateToken(keys, m[1], ip, sessions);
}

/** The same for the access token itself (the browser's session cookie): verified, and checked against revocations. */
export function authenticateToken(
  keys: Keys,
  accessToken: string,
  ip: string | undefined,
  sessions?: LiveSessions,
): { identity: Identity; token?: TokenTimes } {
  const claims = verifyAccessToken(keys, accessToken);
  const identity: Identity = { userId: claims.sub, role: claims.role, ip };
  if (!sessions) return { identity };
  const token = tokenTimes(accessToken);
  sessions.assertCurrent(claims.sub, token);
  return { identity, token };
}

/**
 * A verified token's issue and expiry times. The kernel's verifier returns sub and role only; decoding again costs
 * ~5 µs, so the answer is kept per token text (bounded, like the kernel's verified-token cache).
 */
const times = new Map<string, TokenTimes>();
function tokenTimes(token: string): TokenTimes {
  let t = times.get(token);
  if (!t) {
    const { iat, iatMs, exp } = jwt.decode(token) as jwt.JwtPayload;
    t = { issuedMs: typeof iatMs === 'number' ? iatMs : Number(iat ?? 0) * 1000, exp: Number(exp ?? 0) };
    if (times.size >= 10_000) times.clear();
    times.set(token, t);
  }
  return t;
}

/**
 * The identity alone, revocations not consulted (the rate limiter's key): the Authorization header, else the
 * browser's access cookie.
 */
export function identityFromAuthorization(
  keys: Keys,
  header: string | undefined,
  ip: string | undefined,
  accessCookie?: string,
): Identity {
  if (!header && accessCookie) return authenticateToken(keys, accessCookie, ip).identity;
  return authenticate(keys, header, ip).identity;
}

/** The caller's address: the one resolved under TRUST_PROXY (Express's `req.ip`, the GraphQL front's step), else the socket's. */
export function clientIp(req: { ip?: string; socket: { remoteAddress?: string } }): string | undefined {
  return req.ip ?? req.socket.remoteAddress ?? undefined;
}

/**
 * Internal tokens are cached per identity and subgraph for half their lifetime: signing RS256 on every request would
 * cost more CPU than the rest of a small query plan. Each token names the one subgraph it is for (lib/src/auth.ts).
 */
export class InternalTokenCache {
  private readonly cache: LRUCache<string, string>;
  /** `max` counts identity × subgraph pairs: a request usually reaches one to three subgraphs. */
  constructor(
    private readonly keys: Keys,
    max = 30_000,
  ) {
    this.cache = new LRUCache({ max, ttl: 30_000 });
  }

  tokenFor(identity: Identity, service: string): string {
    const key = `${service}|${identity.userId ?? ''}|${identity.role ?? ''}|${identity.ip ?? ''}`;
    let token = this.cache.get(key);
    if (token === undefined) {
      token = signInternalToken(this.keys, identity, service);
      this.cache.set(key, token);
    }
    return token;
  }
}
