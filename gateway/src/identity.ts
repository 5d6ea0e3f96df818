import type { Request } from 'express';
import { AppError, ErrorCode, Identity, Keys, signInternalToken, verifyAccessToken } from '@shop/kernel';

/** Reads `Authorization: Bearer <accessToken>`; no header = anonymous, a bad token = UNAUTHENTICATED (never silently anonymous). */
export function identityFromAuthorization(keys: Keys, header: string | undefined, ip: string | undefined): Identity {
  if (!header) return { ip };
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!m) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Authorization must be "Bearer <access token>"', { http: { status: 401 } });
  const claims = verifyAccessToken(keys, m[1]);
  return { userId: claims.sub, role: claims.role, ip };
}

export function clientIp(req: Request): string | undefined {
  return req.ip ?? req.socket.remoteAddress ?? undefined;
}

/**
 * Internal tokens are cached per identity for half their lifetime: signing RS256 on every request would
 * cost more CPU than the rest of a small query plan.
 */
export class InternalTokenCache {
  private cache = new Map<string, { token: string; renewAt: number }>();
  constructor(private readonly keys: Keys, private readonly max = 10_000) {}

  tokenFor(identity: Identity): string {
    const key = `${identity.userId ?? ''}|${identity.role ?? ''}|${identity.ip ?? ''}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.renewAt > now) return hit.token;
    if (this.cache.size >= this.max) this.cache.clear();
    const token = signInternalToken(this.keys, identity);
    this.cache.set(key, { token, renewAt: now + 30_000 });
    return token;
  }
}
