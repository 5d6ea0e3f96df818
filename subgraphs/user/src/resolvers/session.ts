import type http from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  AppError,
  ErrorCode,
  headerOf,
  REFRESH_COOKIE_HEADER,
  SESSION_COOKIE_MODE_HEADER,
  SESSION_OUTCOME_EXTENSION,
  SessionOutcome,
} from '@shop/kernel';
import type { AuthResult } from '../service/account.service';
import type { UserEntity } from '../store/entities';

/** What `login` and `refreshToken` answer: the tokens are null in cookie mode. */
export interface AuthPayloadValue {
  accessToken: string | null;
  refreshToken: string | null;
  expiresIn: number;
  user: UserEntity;
}

/**
 * The request's side of browser (cookie) sessions. The gateway says whether the request is in cookie mode (an
 * allowed browser origin) and hands over the refresh-token cookie (HTTP only); see docs/security.md. In cookie mode
 * the tokens leave only as the outcome the gateway turns into HttpOnly cookies, never in the body. A refresh or logout
 * that used the cookie is in cookie mode whatever the origin: a token from an HttpOnly cookie is never handed to script.
 */
export class SessionChannel {
  /** Reported to the gateway in the response's extensions (SESSION_OUTCOME_EXTENSION). */
  outcome?: SessionOutcome;

  constructor(
    private readonly cookieMode: boolean,
    private readonly refreshCookie?: string,
  ) {}

  static fromRequest(req?: http.IncomingMessage): SessionChannel {
    const cookie = req && headerOf(req, REFRESH_COOKIE_HEADER);
    return new SessionChannel((req && headerOf(req, SESSION_COOKIE_MODE_HEADER)) === '1', cookie || undefined);
  }

  /** Sign-in: the tokens go to the cookies (cookie mode) or into the body. */
  async issue(result: Promise<AuthResult>): Promise<AuthPayloadValue> {
    return this.deliver(await result, this.cookieMode);
  }

  /** Rotation with the argument, else the cookie. A refused token ends a cookie session (both cookies cleared). */
  async refresh(arg: string | null | undefined, rotate: (token: string) => Promise<AuthResult>) {
    const { token, cookieMode } = this.tokenFrom(arg, 'refresh');
    try {
      return this.deliver(await rotate(token), cookieMode);
    } catch (err) {
      if (cookieMode && (err as AppError).extensions?.code === ErrorCode.INVALID_TOKEN) this.outcome = { ended: true };
      throw err;
    }
  }

  /** Ends the session of the argument's token, else the cookie's; in cookie mode the cookies are cleared either way. */
  async logout(arg: string | null | undefined, end: (token: string) => Promise<boolean>): Promise<boolean> {
    // Cleared even when there is no token left to end (e.g. only the access cookie remains).
    if (this.cookieMode || (!arg && this.refreshCookie)) this.outcome = { ended: true };
    return end(this.tokenFrom(arg, 'end').token);
  }

  private tokenFrom(arg: string | null | undefined, verb: string): { token: string; cookieMode: boolean } {
    if (arg) return { token: arg, cookieMode: this.cookieMode };
    if (this.refreshCookie) return { token: this.refreshCookie, cookieMode: true };
    throw new AppError(
      ErrorCode.UNAUTHENTICATED,
      `No session to ${verb}: pass the refresh token, or send the session cookie (browsers: sign in first)`,
      { reason: 'no_refresh_token' },
    );
  }

  private deliver(result: AuthResult, cookieMode: boolean): AuthPayloadValue {
    if (!cookieMode) return result;
    const { accessToken, refreshToken, expiresIn, refreshExpiresIn, user } = result;
    this.outcome = { issued: { accessToken, refreshToken, expiresIn, refreshExpiresIn } };
    return { accessToken: null, refreshToken: null, expiresIn, user };
  }
}

/** Adds the request's session outcome to the response's extensions, where the gateway (only) reads it. */
export function sessionOutcomePlugin<C extends { session: SessionChannel }>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          const outcome = contextValue.session?.outcome;
          if (!outcome || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, [SESSION_OUTCOME_EXTENSION]: outcome };
        },
      };
    },
  };
}
