import { Route, Routes } from 'react-router-dom';

export function App() {
  return (
    <Routes>
      <Route
        path="*"
        element={
          <main>
            <h1>Shop</h1>
          </main>
        }
      />
    </Routes>
  );
}
