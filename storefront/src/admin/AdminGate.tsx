import type { ReactNode } from 'react';
import { NavLink } from 'react-router-dom';
import { useSession } from '../account/session';
import './admin.css';

/**
 * The admin area's frame: only users with role ADMIN see its pages (the API checks again on every call). Anyone else
 * gets one plain sentence, and the page's queries never run because its components are not rendered.
 */
export function AdminGate({ title, children }: { title: string; children: ReactNode }) {
  const { user, loading } = useSession();
  if (loading) {
    return (
      <div className="page admin">
        <p role="status">Loading…</p>
      </div>
    );
  }
  if (user?.role !== 'ADMIN') {
    return (
      <div className="page admin">
        <h1>{title}</h1>
        <p className="notice" data-testid="admin-refused">
          You are not allowed to do that.
        </p>
      </div>
    );
  }
  return (
    <div className="page admin stack">
      <nav className="admin-nav" aria-label="Admin">
        <NavLink to="/admin" end>
          Products
        </NavLink>
        <NavLink to="/admin/products/new">New product</NavLink>
        <NavLink to="/admin/orders">Orders</NavLink>
      </nav>
      {children}
    </div>
  );
}

/** An error the admin pages produce themselves (client checks, upload answers), with <ErrorMessage/>'s markup. */
export function Problem({ code, text }: { code: string; text: string }) {
  return (
    <p className="error" role="alert" data-code={code}>
      {text}
    </p>
  );
}

/**
 * A table's box: scrolls sideways on narrow screens, and is focusable (with a name) so keyboard users can scroll it
 * with the arrow keys.
 */
export function TableBox({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="admin-table-wrap" role="region" aria-label={`${label} (table)`} tabIndex={0}>
      {children}
    </div>
  );
}

/**
 * Previous/Next over a cursor-paged list. `trail` holds the cursors of the pages before this one (a Relay connection
 * only pages forward); `go(after)` shows the page that starts after that cursor (undefined: the first).
 */
export function CursorPager({
  after,
  trail,
  setTrail,
  pageInfo,
  go,
}: {
  after: string | undefined;
  trail: (string | undefined)[];
  setTrail: (trail: (string | undefined)[]) => void;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
  go: (after: string | undefined) => void;
}) {
  return (
    <div className="admin-pager">
      <button
        className="button"
        type="button"
        disabled={!after}
        onClick={() => {
          const prev = trail[trail.length - 1];
          setTrail(trail.slice(0, -1));
          go(prev);
        }}
      >
        Previous page
      </button>
      <button
        className="button"
        type="button"
        disabled={!pageInfo.hasNextPage || !pageInfo.endCursor}
        onClick={() => {
          setTrail([...trail, after]);
          go(pageInfo.endCursor ?? undefined);
        }}
      >
        Next page
      </button>
    </div>
  );
}
