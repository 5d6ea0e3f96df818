// Owner: h2b (replaced by the real session provider).
import { createContext, useContext, type ReactNode } from 'react';

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
  loading: boolean;
  signOut(): Promise<void>;
  reload(): Promise<void>;
}
const SessionContext = createContext<Session>({
  user: null,
  loading: false,
  signOut: async () => undefined,
  reload: async () => undefined,
});
export function SessionProvider({ children }: { children: ReactNode }) {
  return <SessionContext.Provider value={useContext(SessionContext)}>{children}</SessionContext.Provider>;
}
export const useSession = () => useContext(SessionContext);
