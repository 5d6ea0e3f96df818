import { useState, type FormEvent } from 'react';
import { useQuery } from '@apollo/client/react';
import { Link, useLocation, useSearchParams } from 'react-router-dom';
import { ErrorMessage } from '../errors';
import { CursorPager, TableBox } from './AdminGate';
import { AdminProductsDocument } from '../gql/graphql';

const PAGE_SIZE = 20;

/** /admin: the catalog with search and pagination; each product links to its editor. */
export function ProductsPage() {
  const [params, setParams] = useSearchParams();
  const notice = (useLocation().state as { notice?: string } | null)?.notice;
  const q = params.get('q') ?? '';
  const after = params.get('after') ?? undefined;
  // Cursors of the pages before this one, so "Previous page" can go back (keyset pagination only goes forward).
  const [trail, setTrail] = useState<(string | undefined)[]>([]);
  const [draft, setDraft] = useState(q);
  const { data, previousData, loading, error } = useQuery(AdminProductsDocument, {
    variables: { first: PAGE_SIZE, after, search: q || undefined },
    fetchPolicy: 'cache-and-network',
  });
  const products = (data ?? previousData)?.products;

  const go = (next: { q?: string; after?: string }) => {
    const p = new URLSearchParams();
    if (next.q) p.set('q', next.q);
    if (next.after) p.set('after', next.after);
    setParams(p);
  };
  const onSearch = (e: FormEvent) => {
    e.preventDefault();
    setTrail([]);
    go({ q: draft.trim() });
  };

  return (
    <section className="stack" aria-labelledby="admin-products-title">
      <div className="admin-heading">
        <h1 id="admin-products-title">Products</h1>
        <Link className="button button-primary" to="/admin/products/new">
          Add a product
        </Link>
      </div>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <form className="form admin-search" role="search" onSubmit={onSearch}>
        <div className="field">
          <label htmlFor="admin-search">Search products</label>
          <input
            id="admin-search"
            type="search"
            value={draft}
            maxLength={200}
            onChange={(e) => setDraft(e.target.value)}
          />
        </div>
        <button className="button" type="submit">
          Search
        </button>
      </form>
      <ErrorMessage error={error} />
      {products && (
        <>
          <p role="status" aria-live="polite">
            {products.totalCount === 1 ? '1 product' : `${products.totalCount} products`}
            {q ? ` matching “${q}”` : ''}
            {loading ? ' (updating…)' : ''}
          </p>
          {products.edges.length === 0 ? (
            <p>No products found.</p>
          ) : (
            <TableBox label="Products">
              <table className="admin-table">
                <caption className="visually-hidden">Products</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">SKU</th>
                    <th scope="col">Category</th>
                    <th scope="col" className="num">
                      Price
                    </th>
                    <th scope="col" className="num">
                      Stock
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {products.edges.map(({ node }) => (
                    <tr key={node.id}>
                      <th scope="row">
                        <Link to={`/admin/products/${node.id}`}>{node.name}</Link>
                      </th>
                      <td>{node.sku}</td>
                      <td>{node.category.name}</td>
                      <td className="num price">{node.price.formatted}</td>
                      <td className="num">{node.stock}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableBox>
          )}
          <CursorPager
            after={after}
            trail={trail}
            setTrail={setTrail}
            pageInfo={products.pageInfo}
            go={(cursor) => go({ q, after: cursor })}
          />
        </>
      )}
      {!products && loading && <p role="status">Loading products…</p>}
    </section>
  );
}
