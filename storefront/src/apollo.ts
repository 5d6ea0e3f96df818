import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import type { ErrorLike } from '@apollo/client';
import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { from, of, switchMap, throwError } from 'rxjs';
import { GRAPHQL_HTTP_URL, graphqlWsUrl } from './config';
import { MeDocument, RefreshSessionDocument } from './gql/graphql';

/**
 * What the rest of the app may do with the browser session. The session itself is two HttpOnly cookies set by the
 * gateway (never readable here); this only tracks whether the app believes it is signed in and coordinates refreshes.
 */
export interface SessionControls {
  /** True while the app believes it is signed in (a user was loaded or sign-in succeeded). */
  readonly signedIn: boolean;
  /** After sign-in (true) or sign-out (false): remembers it and reconnects the socket with the new cookies. */
  setSignedIn(signedIn: boolean): void;
  /**
   * Renews the session with `refreshToken` (the gateway reads the refresh cookie). Concurrent callers share one
   * request. True: new cookies are set. False: the session could not be renewed; when the gateway refused it, the
   * session is over and the `onEnded` listeners run.
   */
  refresh(): Promise<boolean>;
  /** Runs `listener` when a refresh is refused (the session is over); returns the unsubscribe function. */
  onEnded(listener: () => void): () => void;
}

/**
 * A hint, not a secret: "this browser had a session". It lets a reload try the refresh cookie when the short-lived
 * access cookie has already gone, without sending a refresh for every guest.
 */
const SIGNED_IN_HINT = 'shop.signedIn';

function readHint(): boolean {
  try {
    return window.localStorage.getItem(SIGNED_IN_HINT) === '1';
  } catch {
    return false;
  }
}
function writeHint(signedIn: boolean): void {
  try {
    if (signedIn) window.localStorage.setItem(SIGNED_IN_HINT, '1');
    else window.localStorage.removeItem(SIGNED_IN_HINT);
  } catch {
    // Storage disabled: the hint lives for this page only.
  }
}

/** Operations that are themselves the session's: a failure there is the answer, never a reason to refresh. */
const SESSION_OPERATIONS = new Set(['Login', 'RefreshSession', 'SignOut', 'RefreshToken', 'Logout']);

/** The gateway closes a signed-in socket with 4401 when its access token expires or is revoked. */
const SOCKET_UNAUTHORIZED = /Socket closed with event 4401\b/;

/** UNAUTHENTICATED: in the GraphQL errors, as HTTP 401, or as the socket's 4401 close. */
export function isUnauthenticated(error: ErrorLike | undefined): boolean {
  if (!error) return false;
  if (CombinedGraphQLErrors.is(error)) return error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
  if (ServerError.is(error)) return error.statusCode === 401;
  return SOCKET_UNAUTHORIZED.test(error.message);
}

/**
 * An access token was sent and refused as expired or revoked (`extensions.reason`): this browser has a session cookie
 * even if the app did not know (another tab signed in), so a refresh is worth one try.
 */
function presentedTokenRefused(error: ErrorLike): boolean {
  return (
    CombinedGraphQLErrors.is(error) &&
    error.errors.some(
      (e) => e.extensions?.code === 'UNAUTHENTICATED' && ['expired', 'revoked'].includes(String(e.extensions?.reason)),
    )
  );
}

/** The gateway refused the refresh cookie (missing, spent, expired, revoked): the session is over. */
function isRefusal(error: unknown): boolean {
  if (CombinedGraphQLErrors.is(error))
    return error.errors.some((e) =>
      ['UNAUTHENTICATED', 'INVALID_TOKEN', 'FORBIDDEN'].includes(String(e.extensions?.code)),
    );
  return ServerError.is(error) && (error.statusCode === 401 || error.statusCode === 403);
}

/**
 * graphql-ws with a restart: the socket authenticates once, from the cookies sent with its upgrade request, so after
 * sign-in, sign-out or a refresh an open socket is closed with 4205 and graphql-ws reconnects at once and
 * resubscribes (graphql-ws's documented "graceful restart" recipe).
 */
function restartableWsClient(): { client: Client; restart(): void } {
  let socket: WebSocket | undefined;
  let connecting = false;
  let restartWhenOpen = false;
  let lastCloseCode: number | undefined;
  const client = createClient({
    url: graphqlWsUrl(),
    lazy: true,
    retryAttempts: 5,
    // A restart is ours and immediate; anything else backs off exponentially with jitter (graphql-ws's default curve).
    retryWait: async (retries) => {
      if (lastCloseCode === 4205) return;
      const ms = 2 ** retries * 1000 + 300 + Math.floor(Math.random() * 2700);
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    on: {
      connecting: () => {
        connecting = true;
      },
      opened: (opened) => {
        connecting = false;
        socket = opened as WebSocket;
        if (restartWhenOpen) {
          restartWhenOpen = false;
          socket.close(4205, 'Client Restart');
        }
      },
      closed: (event) => {
        connecting = false;
        socket = undefined;
        lastCloseCode = (event as CloseEvent | undefined)?.code;
      },
    },
  });
  return {
    client,
    restart() {
      if (socket?.readyState === WebSocket.OPEN) socket.close(4205, 'Client Restart');
      // Upgrade in flight with the old cookies: close it as soon as it opens. No socket: the next one is fresh anyway.
      else if (connecting) restartWhenOpen = true;
    },
  };
}

const controlsByClient = new WeakMap<ApolloClient, SessionControls>();

/** The session controls of the app's client (a no-op stand-in for a client made elsewhere, e.g. in tests). */
export function sessionControls(client: ApolloClient): SessionControls {
  return (
    controlsByClient.get(client) ?? {
      signedIn: false,
      setSignedIn: () => undefined,
      refresh: async () => false,
      onEnded: () => () => undefined,
    }
  );
}

/**
 * One Apollo Client for the app. The session lives in HttpOnly cookies the gateway sets (never readable here), so
 * every request goes with `credentials: 'include'` and no Authorization header; the WebSocket upgrade carries the
 * same cookies. Requests are JSON POSTs, which Apollo Server's CSRF prevention accepts.
 *
 * Link chain: refresh (ErrorLink) → stamp (when each attempt leaves) → split (subscriptions over graphql-ws, the rest
 * over HTTP). The access cookie is short-lived: when an operation fails with UNAUTHENTICATED while the app believes
 * it is signed in, the refresh link renews the session (`refreshToken` with no argument: the gateway uses the refresh
 * cookie) and sends the operation again, once. Concurrent failures wait for the same refresh; one that was sent
 * before a refresh that has already succeeded is simply sent again (the refresh cookie is single-use, so a second
 * refresh would only rotate it). A refused refresh ends the session: the user is cleared and the original error
 * goes to the page.
 */
export function createApolloClient(): ApolloClient {
  const http = new HttpLink({ uri: GRAPHQL_HTTP_URL, credentials: 'include' });
  const ws = restartableWsClient();
  const transport = ApolloLink.split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    new GraphQLWsLink(ws.client),
    http,
  );

  let signedIn = readHint();
  let inflight: Promise<boolean> | undefined;
  /** When the last refresh set new cookies (performance.now()): a failure of an operation sent earlier needs none. */
  let renewedAt = -1;
  const endedListeners = new Set<() => void>();

  const renew = async (): Promise<boolean> => {
    try {
      const { data } = await client.mutate({ mutation: RefreshSessionDocument, fetchPolicy: 'no-cache' });
      const user = data?.refreshToken.user;
      if (!user) throw new Error('refreshToken answered no user');
      renewedAt = performance.now();
      // The role may have changed since sign-in (that is one reason tokens get revoked): the session follows it.
      client.writeQuery({ query: MeDocument, data: { me: user } });
      ws.restart();
      return true;
    } catch (error) {
      // Offline, rate limited or the gateway down: the session may be fine, only this attempt failed. A refusal ends it.
      if (isRefusal(error)) {
        signedIn = false;
        writeHint(false);
        client.writeQuery({ query: MeDocument, data: { me: null } });
        endedListeners.forEach((listener) => listener());
      }
      return false;
    }
  };

  const controls: SessionControls = {
    get signedIn() {
      return signedIn;
    },
    setSignedIn(value) {
      signedIn = value;
      writeHint(value);
      ws.restart();
    },
    refresh() {
      inflight ??= renew().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    onEnded(listener) {
      endedListeners.add(listener);
      return () => endedListeners.delete(listener);
    },
  };

  const refreshLink = new ErrorLink(({ error, result, operation, forward }) => {
    const context = operation.getContext() as { retriedAfterRefresh?: boolean; sentAt?: number };
    if (
      !(signedIn || presentedTokenRefused(error)) ||
      context.retriedAfterRefresh ||
      SESSION_OPERATIONS.has(operation.operationName ?? '') ||
      !isUnauthenticated(error)
    )
      return;
    operation.setContext({ retriedAfterRefresh: true });
    // Sent with the old cookies before a refresh that has since succeeded: just send it again.
    const renewal = (context.sentAt ?? 0) < renewedAt ? Promise.resolve(true) : controls.refresh();
    return from(renewal).pipe(
      // Renewed: send it again (once: the context flag). Not renewed: the page gets the original answer.
      switchMap((renewed) => (renewed ? forward(operation) : result ? of(result) : throwError(() => error))),
    );
  });

  // When each attempt leaves (after the refresh link, so a retry is stamped anew).
  const stamp = new ApolloLink((operation, forward) => {
    operation.setContext({ sentAt: performance.now() });
    return forward(operation);
  });

  const client: ApolloClient = new ApolloClient({
    link: ApolloLink.from([refreshLink, stamp, transport]),
    cache: new InMemoryCache(),
  });
  controlsByClient.set(client, controls);
  return client;
}
