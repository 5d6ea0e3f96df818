import { Routes } from 'react-router-dom';
import { accountRoutes } from './account/routes';
import { SessionProvider } from './account/session';
import { adminRoutes } from './admin/routes';
import { CartProvider } from './cart/CartContext';
import { shopRoutes } from './shop/routes';

// Owner: h2 (layout and not-found route added there).
export function App() {
  return (
    <SessionProvider>
      <CartProvider>
        <Routes>
          {shopRoutes}
          {accountRoutes}
          {adminRoutes}
        </Routes>
      </CartProvider>
    </SessionProvider>
  );
}
