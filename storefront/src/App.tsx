import { Route, Routes } from 'react-router-dom';
import { accountRoutes } from './account/routes';
import { SessionProvider } from './account/session';
import { adminRoutes } from './admin/routes';
import { CartProvider } from './cart/CartContext';
import { Layout } from './Layout';
import { NotFoundPage } from './shop/NotFoundPage';
import { shopRoutes } from './shop/routes';
import './styles.css';

/** Every page inside one layout (header, skip link, main landmark); unknown paths get the not-found page. */
export function App() {
  return (
    <SessionProvider>
      <CartProvider>
        <Routes>
          <Route element={<Layout />}>
            {shopRoutes}
            {accountRoutes}
            {adminRoutes}
            <Route path="*" element={<NotFoundPage />} />
          </Route>
        </Routes>
      </CartProvider>
    </SessionProvider>
  );
}
