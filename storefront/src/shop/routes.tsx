import { Route } from 'react-router-dom';
import { CartPage } from '../cart/CartPage';
import { CatalogPage } from './CatalogPage';
import { CheckoutPage } from './CheckoutPage';
import { HomePage } from './HomePage';
import { OrderPage } from './OrderPage';
import { OrdersPage } from './OrdersPage';
import { ProductPage } from './ProductPage';

/** The shop's pages (paths are part of the storefront contract). */
export const shopRoutes = (
  <>
    <Route index element={<HomePage />} />
    <Route path="catalog" element={<CatalogPage />} />
    <Route path="products/:id" element={<ProductPage />} />
    <Route path="cart" element={<CartPage />} />
    <Route path="checkout" element={<CheckoutPage />} />
    <Route path="orders" element={<OrdersPage />} />
    <Route path="orders/:id" element={<OrderPage />} />
  </>
);
