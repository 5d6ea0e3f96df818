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
 * Internal tokens are cached per identity and subgraph for half their lifetime: signing RS256 on every request would
 * cost more CPU than the rest of a small query plan. Each token names the one subgraph it is for (lib/src/auth.ts).
 */
export class InternalTokenCache {
  private cache = new Map<string, { token: string; renewAt: number }>();
  /** `max` counts identity × subgraph pairs: a request usually reaches one to three subgraphs. */
  constructor(private readonly keys: Keys, private readonly max = 30_000) {}

  tokenFor(identity: Identity, service: string): string {
    const key = `${service}|${identity.userId ?? ''}|${identity.role ?? ''}|${identity.ip ?? ''}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.renewAt > now) return hit.token;
    if (this.cache.size >= this.max) this.cache.clear();
    const token = signInternalToken(this.keys, identity, service);
    this.cache.set(key, { token, renewAt: now + 30_000 });
    return token;
  }
}
