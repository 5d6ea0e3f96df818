// Owner: h2 (replaced by the real cart provider).
import type { ReactNode } from 'react';

export function CartProvider({ children }: { children: ReactNode }) {
  return <>{children}</>;
}
