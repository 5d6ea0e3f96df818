import { Route } from 'react-router-dom';
import { AdminGate } from './AdminGate';
import { OrdersPage } from './OrdersPage';
import { ProductEditor } from './ProductEditor';
import { ProductsPage } from './ProductsPage';

/** The admin area (role ADMIN): the catalog, product editing with images and stock, and orders. */
export const adminRoutes = (
  <>
    <Route
      path="/admin"
      element={
        <AdminGate title="Admin">
          <ProductsPage />
        </AdminGate>
      }
    />
    <Route
      path="/admin/products/new"
      element={
        <AdminGate title="New product">
          <ProductEditor />
        </AdminGate>
      }
    />
    <Route
      path="/admin/products/:id"
      element={
        <AdminGate title="Edit product">
          <ProductEditor />
        </AdminGate>
      }
    />
    <Route
      path="/admin/orders"
      element={
        <AdminGate title="Orders">
          <OrdersPage />
        </AdminGate>
      }
    />
  </>
);
