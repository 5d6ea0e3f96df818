import type http from 'node:http';
import type { TLSSocket } from 'node:tls';

/**
 * Which browser origins may use the API with the user's cookies: the CORS allowlist (`CORS_ORIGINS`) plus the
 * gateway's own origin (the storefront it serves), whatever host name it is reached by. One policy for HTTP (CORS,
 * cookie mode, CSRF) and the WebSocket upgrade.
 */
export class OriginPolicy {
  private readonly allowlist: Set<string>;

  /** `trust`: Express's "trust proxy" function (TRUST_PROXY), to believe `X-Forwarded-Proto` only from a proxy. */
  constructor(
    origins: readonly string[],
    private readonly trust: (addr: string, i: number) => boolean = () => false,
  ) {
    this.allowlist = new Set(origins.map((o) => o.toLowerCase()));
  }

  /** True for an allowlisted origin or the request's own origin; false for a missing, `null` or other one. */
  allows(origin: string | undefined, req: http.IncomingMessage): boolean {
    if (!origin) return false;
    const o = origin.toLowerCase();
    return this.allowlist.has(o) || o === this.ownOrigin(req);
  }

  /** The origin the request was sent to: its scheme (through a trusted proxy: X-Forwarded-Proto) and Host header. */
  private ownOrigin(req: http.IncomingMessage): string | undefined {
    const host = req.headers.host;
    if (!host) return undefined;
    let scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
    const forwarded = req.headers['x-forwarded-proto'];
    if (forwarded && req.socket.remoteAddress && this.trust(req.socket.remoteAddress, 0))
      scheme = String(forwarded).split(',')[0].trim();
    return `${scheme}://${host}`.toLowerCase();
  }
}
