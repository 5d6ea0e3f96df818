import type http from 'node:http';
import cors from 'cors';
import vary from 'vary';
import type { OperationDefinitionNode } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { Config, ErrorCode, HttpStep, REQUEST_ID_HEADER, sendJson } from '@shop/kernel';
import type { GatewayContext } from '../context';
import { BrowserSession, sessionCookiesOf, setCookieHeaders } from './cookies';
import { OriginPolicy } from './origins';

/** Preflight answers are cached this long by the browser (seconds). */
export const PREFLIGHT_MAX_AGE = 600;

/**
 * Mutations that sign in, out or up: they run (anonymously) even when the access cookie is expired or revoked, so a
 * browser can always refresh or sign in again. Any other operation with a refused access cookie is UNAUTHENTICATED.
 */
export const ACCOUNT_ENTRY_FIELDS = new Set([
  '__typename',
  'login',
  'refreshToken',
  'logout',
  'register',
  'verifyEmail',
  'resendVerificationEmail',
  'requestPasswordReset',
  'resetPassword',
]);

export interface BrowserEdge {
  origins: OriginPolicy;
  /** First on `/graphql` and `/media`: CORS for allowed origins; a preflight from any other gets 403. */
  cors: HttpStep;
  /** On `/graphql` before the body: the session cookies with a disallowed Origin → 403 FORBIDDEN. */
  csrf: HttpStep;
  /** The browser side of an HTTP request (cookie mode, cookies) and its access cookie, if any. */
  session(req: http.IncomingMessage, res: http.ServerResponse): { browser: BrowserSession; accessCookie?: string };
  /** Apollo plugin: a refused access cookie stops every operation but signing in or out. */
  plugin: ApolloServerPlugin<GatewayContext>;
}

/** `trust`: Express's "trust proxy" function, for the request's own origin behind a proxy. */
export function createBrowserEdge(config: Config, trust: (addr: string, i: number) => boolean): BrowserEdge {
  const origins = new OriginPolicy(config.browser.corsOrigins, trust);
  const corsHandler = cors((req, done) =>
    done(null, {
      origin: origins.allows(req.headers.origin, req as http.IncomingMessage),
      credentials: true,
      maxAge: PREFLIGHT_MAX_AGE,
      methods: ['GET', 'HEAD', 'POST', 'PUT'],
      exposedHeaders: [REQUEST_ID_HEADER, 'Retry-After'],
    }),
  );
  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, message: string) =>
    sendJson(req, res, 403, { errors: [{ message, extensions: { code: ErrorCode.FORBIDDEN } }] });

  return {
    origins,
    cors: (req, res, next) => {
      // The answer differs by Origin, allowed or not: shared caches must key on it.
      vary(res, 'Origin');
      // An allowed preflight is answered by `cors` (204) and never reaches `next`.
      corsHandler(req, res, (err?: unknown) => {
        if (err) return next(err);
        if (req.method === 'OPTIONS' && req.headers.origin) {
          res.statusCode = 403;
          return void res.end();
        }
        next();
      });
    },
    csrf: (req, res, next) => {
      const origin = req.headers.origin;
      if (!origin || origins.allows(origin, req)) return next();
      const cookies = sessionCookiesOf(req);
      // Without the session cookies a foreign page can do nothing a script could not do with curl.
      if (!cookies.access && !cookies.refresh) return next();
      refuse(req, res, 'Requests with the session cookies are accepted only from allowed origins');
    },
    session(req, res) {
      const cookies = sessionCookiesOf(req);
      const secure = config.isProduction;
      const browser: BrowserSession = {
        cookieMode: origins.allows(req.headers.origin, req),
        refreshCookie: cookies.refresh,
        apply: (outcome) => {
          if (res.headersSent) return;
          for (const c of setCookieHeaders(outcome, secure)) res.appendHeader('set-cookie', c);
        },
      };
      return { browser, accessCookie: cookies.access };
    },
    plugin: {
      async requestDidStart() {
        return {
          async didResolveOperation({ contextValue, operation }) {
            const err = contextValue.browser?.sessionError;
            if (err && !onlyAccountEntry(operation)) throw err;
          },
        };
      },
    },
  };
}

function onlyAccountEntry(operation: OperationDefinitionNode | undefined): boolean {
  return !!operation?.selectionSet.selections.every(
    (s) =>
      s.kind === 'Field' &&
      (s.name.value === '__typename' || operation.operation === 'mutation') &&
      ACCOUNT_ENTRY_FIELDS.has(s.name.value),
  );
}
