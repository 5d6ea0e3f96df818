import type http from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { AppError, SessionOutcome } from '@shop/kernel';

/**
 * The session cookies (docs/security.md "Browser clients"). Both HttpOnly (script never reads a token), SameSite=Lax,
 * scoped to `/graphql`: HTTP requests and the WebSocket upgrade carry them, page loads, images and media do not.
 * No `__Host-` prefix: it requires Path=/, which would send the tokens with every request to the origin.
 */
export const ACCESS_COOKIE = 'shop_session';
export const REFRESH_COOKIE = 'shop_refresh';
export const COOKIE_PATH = '/graphql';

export interface SessionCookies {
  access?: string;
  refresh?: string;
}

/** The session cookies a request carries (HTTP or the WebSocket upgrade). */
export function sessionCookiesOf(req: http.IncomingMessage): SessionCookies {
  const header = req.headers.cookie;
  if (!header) return {};
  const c = parseCookie(header);
  return { access: c[ACCESS_COOKIE] || undefined, refresh: c[REFRESH_COOKIE] || undefined };
}

/** `Set-Cookie` values for the user subgraph's outcome: both cookies set (new tokens) or both cleared. */
export function setCookieHeaders(outcome: SessionOutcome, secure: boolean): string[] {
  const attrs = { httpOnly: true, sameSite: 'lax' as const, path: COOKIE_PATH, secure };
  if (outcome.issued) {
    const { accessToken, refreshToken, expiresIn, refreshExpiresIn } = outcome.issued;
    return [
      stringifySetCookie({ name: ACCESS_COOKIE, value: accessToken, maxAge: expiresIn, ...attrs }),
      stringifySetCookie({ name: REFRESH_COOKIE, value: refreshToken, maxAge: refreshExpiresIn, ...attrs }),
    ];
  }
  if (outcome.ended)
    return [ACCESS_COOKIE, REFRESH_COOKIE].map((name) =>
      stringifySetCookie({ name, value: '', maxAge: 0, expires: new Date(0), ...attrs }),
    );
  return [];
}

/** The browser side of one HTTP request, on its GatewayContext (WebSocket operations have none). */
export interface BrowserSession {
  /** Cookie mode (an allowed Origin): the user subgraph sets tokens as cookies and answers null in the body. */
  cookieMode: boolean;
  /** The refresh cookie, handed to the user subgraph for `refreshToken`/`logout` without an argument. */
  refreshCookie?: string;
  /**
   * The access cookie was refused (expired, revoked, invalid). The request then runs anonymously only if it signs in
   * or out (ACCOUNT_ENTRY_FIELDS); anything else gets this error, as a bad bearer token would.
   */
  sessionError?: AppError;
  /** Turns the user subgraph's outcome into Set-Cookie headers on this request's response. */
  apply(outcome: SessionOutcome): void;
}
