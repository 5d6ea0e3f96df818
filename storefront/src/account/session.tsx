import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router-dom';
import { useApolloClient, useQuery } from '@apollo/client/react';
import { sessionControls } from '../apollo';
import { MeDocument, SignOutDocument } from '../gql/graphql';
import { CartMergeNotice, type MergeAdjustment } from './CartMergeNotice';

export interface SessionUser {
  id: string;
  email: string;
  firstName?: string | null;
  lastName?: string | null;
  role: string;
  emailVerified: boolean;
}
export interface Session {
  user: SessionUser | null;
  /** True until the first answer to `me` (and, for a returning browser, the refresh attempt) is in. */
  loading: boolean;
  /** Ends the session (`logout`: the gateway clears the cookies) and forgets everything cached for this user. */
  signOut(): Promise<void>;
  /** Reads `me` again (after sign-in, after a profile change). */
  reload(): Promise<void>;
}

/** What the account pages use beyond the shared interface. */
interface AccountSession extends Session {
  /** After a successful `login`: the app is signed in (socket reconnected with the new cookie, `me` reloaded). */
  signedIn(): Promise<void>;
  /** Shows the lines the cart merge could not move in full, on the next page. */
  showMergeAdjustments(adjustments: MergeAdjustment[]): void;
}

const SessionContext = createContext<AccountSession>({
  user: null,
  loading: false,
  signOut: async () => undefined,
  reload: async () => undefined,
  signedIn: async () => undefined,
  showMergeAdjustments: () => undefined,
});

/**
 * The signed-in user for the whole app, from `me` (the gateway reads the HttpOnly access cookie). A browser that had a
 * session but whose access cookie has gone (it lives minutes) gets one refresh attempt before it counts as a guest.
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useApolloClient();
  const controls = sessionControls(client);
  const me = useQuery(MeDocument, { fetchPolicy: 'cache-first' });
  const user = me.data?.me ?? null;
  const [renewing, setRenewing] = useState(false);
  const [adjustments, setAdjustments] = useState<MergeAdjustment[]>([]);

  // `me` is null but this browser had a session: the access cookie expired; try the refresh cookie once.
  const answered = !me.loading || me.dataState === 'complete';
  const needsRenewal = answered && !user && controls.signedIn;
  useEffect(() => {
    if (!answered || user || !controls.signedIn) return;
    setRenewing(true);
    void controls
      .refresh()
      .then((renewed) => {
        // Renewed: the refresh wrote the user into the cache. Not renewed (refused, or the gateway unreachable):
        // this page carries on as a guest; a refusal has already ended the session.
        if (!renewed && controls.signedIn) controls.setSignedIn(false);
      })
      // Not tied to this effect run: writing the user re-runs it, and `renewing` must still end.
      .finally(() => setRenewing(false));
  }, [answered, user, controls]);

  // A user loaded means a session, whichever way it came (sign-in in another tab, a cookie that was still valid).
  useEffect(() => {
    if (user && !controls.signedIn) controls.setSignedIn(true);
  }, [user, controls]);

  const { refetch } = me;
  const reload = useCallback(async () => {
    await refetch();
  }, [refetch]);

  const signedIn = useCallback(async () => {
    controls.setSignedIn(true);
    await refetch();
  }, [controls, refetch]);

  const signOut = useCallback(async () => {
    try {
      await client.mutate({ mutation: SignOutDocument });
    } finally {
      // Even when the gateway could not be reached, this page forgets the user and everything cached for them:
      // the header changes at once, then the store is reset (Apollo's sign-out recipe), which asks the active
      // queries again as a guest. Some of those (the user's cart) now fail; their pages follow `user`.
      controls.setSignedIn(false);
      client.writeQuery({ query: MeDocument, data: { me: null } });
      await client.resetStore().catch(() => undefined);
    }
  }, [client, controls]);

  const value = useMemo<AccountSession>(
    () => ({
      user,
      // Until the first answer, and while a returning browser's session is being renewed: not yet "a guest".
      loading: !answered || needsRenewal || renewing,
      signOut,
      reload,
      signedIn,
      showMergeAdjustments: setAdjustments,
    }),
    [user, answered, needsRenewal, renewing, signOut, reload, signedIn],
  );
  return (
    <SessionContext.Provider value={value}>
      {children}
      {adjustments.length > 0 && <CartMergeNotice adjustments={adjustments} onDismiss={() => setAdjustments([])} />}
    </SessionContext.Provider>
  );
}

export const useSession = (): Session => useContext(SessionContext);

/** The account pages' view of the session (sign-in bookkeeping and the merge notice). */
export const useAccountSession = (): AccountSession => useContext(SessionContext);

/**
 * Renders `children` for a signed-in user; a guest goes to the sign-in page, which brings them back here afterwards.
 * (For any page that needs a session, e.g. /account, /orders, /checkout.)
 */
export function RequireSignIn({ children }: { children: ReactNode }) {
  const { user, loading } = useSession();
  const location = useLocation();
  if (loading) return <p aria-busy="true">Loading…</p>;
  if (!user) return <Navigate to="/sign-in" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}
