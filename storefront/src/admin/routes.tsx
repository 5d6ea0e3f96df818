import { lazy, Suspense, type ComponentType } from 'react';
import { Route } from 'react-router-dom';
import { AdminGate } from './AdminGate';

// Loaded on the first visit to /admin: shoppers never download the admin pages.
const ProductsPage = lazy(() => import('./ProductsPage').then((m) => ({ default: m.ProductsPage })));
const ProductEditor = lazy(() => import('./ProductEditor').then((m) => ({ default: m.ProductEditor })));
const OrdersPage = lazy(() => import('./OrdersPage').then((m) => ({ default: m.OrdersPage })));

function adminPage(title: string, Page: ComponentType) {
  return (
    <AdminGate title={title}>
      <Suspense fallback={<p role="status">Loading…</p>}>
        <Page />
      </Suspense>
    </AdminGate>
  );
}

/** The admin area (role ADMIN): the catalog, product editing with images and stock, and orders. */
export const adminRoutes = (
  <>
    <Route path="/admin" element={adminPage('Admin', ProductsPage)} />
    <Route path="/admin/products/new" element={adminPage('New product', ProductEditor)} />
    <Route path="/admin/products/:id" element={adminPage('Edit product', ProductEditor)} />
    <Route path="/admin/orders" element={adminPage('Orders', OrdersPage)} />
  </>
);
