import { useEffect, useRef, useState } from 'react';
import { NavLink, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { useSession } from './account/session';
import { useCart } from './cart/CartContext';

/** Sets the document title of a page ("Catalog · Shop"). */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Shop` : 'Shop';
  }, [title]);
}

/**
 * The frame of every page: a skip link, the header with the site navigation, and the main landmark. After a
 * navigation, focus moves to the main region so keyboard and screen-reader users start at the new content.
 */
export function Layout() {
  const { user, signOut } = useSession();
  const { count } = useCart();
  const navigate = useNavigate();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const [signingOut, setSigningOut] = useState(false);

  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [location.pathname]);

  async function onSignOut() {
    setSigningOut(true);
    try {
      await signOut();
      void navigate('/');
    } finally {
      setSigningOut(false);
    }
  }

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="site-header-inner">
          <NavLink to="/" className="brand" aria-label="Shop home">
            Shop
          </NavLink>
          <nav aria-label="Main">
            <ul className="nav-list">
              <li>
                <NavLink to="/" end>
                  Home
                </NavLink>
              </li>
              <li>
                <NavLink to="/catalog">Catalog</NavLink>
              </li>
              <li>
                <NavLink to="/cart">{count > 0 ? `Cart (${count})` : 'Cart'}</NavLink>
              </li>
              {user && (
                <li>
                  <NavLink to="/orders">Orders</NavLink>
                </li>
              )}
              <li>{user ? <NavLink to="/account">Account</NavLink> : <NavLink to="/sign-in">Sign in</NavLink>}</li>
              {user?.role === 'ADMIN' && (
                <li>
                  <NavLink to="/admin">Admin</NavLink>
                </li>
              )}
              {user && (
                <li>
                  <button
                    type="button"
                    className="button button-link"
                    onClick={() => void onSignOut()}
                    disabled={signingOut}
                  >
                    Sign out
                  </button>
                </li>
              )}
            </ul>
          </nav>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1} className="site-main">
        <Outlet />
      </main>
      <footer className="site-footer">
        <p>Prices include all discounts shown. Stock in your cart is held while the countdown runs.</p>
      </footer>
    </>
  );
}
