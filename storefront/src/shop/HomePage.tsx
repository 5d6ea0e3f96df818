import { Link } from 'react-router-dom';
import { useQuery } from '@apollo/client/react';
import { ErrorMessage } from '../errors';
import { HomeDocument, ProductListDocument } from '../gql/graphql';
import { usePageTitle } from '../Layout';
import { ProductGrid } from './ProductCard';

/** Home: today's deals (the same for everyone until they expire), the newest products and the categories. */
export function HomePage() {
  usePageTitle('');
  const home = useQuery(HomeDocument);
  const newest = useQuery(ProductListDocument, { variables: { first: 8, sort: 'NEWEST' } });
  const deals = home.data?.deals ?? [];
  const until = deals[0]?.expiresAt;

  return (
    <div className="page stack-lg">
      <section className="hero">
        <h1>Good things, fairly priced</h1>
        <p>New deals every day. Whatever you put in your cart is held for you while you decide.</p>
        <Link className="button button-primary" to="/catalog">
          Browse the catalog
        </Link>
      </section>

      <section aria-labelledby="deals-heading" className="stack">
        <div className="section-head">
          <h2 id="deals-heading">Today’s deals</h2>
          {until && (
            <p className="muted">
              Until {new Date(until).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short' })}
            </p>
          )}
        </div>
        <ErrorMessage error={home.error} />
        {home.loading && !home.data && <p className="muted">Loading deals…</p>}
        {home.data && !deals.length && <p>No deals today. Come back tomorrow!</p>}
        {deals.length > 0 && <ProductGrid products={deals.map((d) => d.product)} label="Today’s deals" />}
      </section>

      <section aria-labelledby="newest-heading" className="stack">
        <div className="section-head">
          <h2 id="newest-heading">New in the shop</h2>
          <Link to="/catalog?sort=NEWEST">See all</Link>
        </div>
        <ErrorMessage error={newest.error} />
        {newest.loading && !newest.data && <p className="muted">Loading products…</p>}
        {newest.data && (
          <ProductGrid products={newest.data.products.edges.map((e) => e.node)} label="New in the shop" />
        )}
      </section>

      {home.data && home.data.categories.length > 0 && (
        <section aria-labelledby="categories-heading" className="stack">
          <h2 id="categories-heading">Shop by category</h2>
          <ul className="chips">
            {home.data.categories.map((c) => (
              <li key={c.slug}>
                <Link className="chip" to={`/catalog?category=${encodeURIComponent(c.slug)}`}>
                  {c.name} <span className="count">({c.productCount})</span>
                </Link>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
