import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useQuery } from '@apollo/client/react';
import { ErrorMessage } from '../errors';
import { CategoriesDocument, ProductListDocument } from '../gql/graphql';
import { usePageTitle } from '../Layout';
import {
  isPrice,
  nextPage,
  parseCatalog,
  previousPage,
  SORTS,
  toFilter,
  toParams,
  toCents,
  withFilter,
  type CatalogState,
} from './catalogParams';
import { ProductGrid } from './ProductCard';

const PAGE_SIZE = 12;

/**
 * A control's value that follows the URL but changes at once when the shopper acts: React Router applies the URL
 * change in a transition, and a controlled input would snap back until it lands.
 */
function useFollow<T>(source: T): [T, (v: T) => void] {
  const [value, setValue] = useState(source);
  const [seen, setSeen] = useState(source);
  if (seen !== source) {
    setSeen(source);
    setValue(source);
  }
  return [value, setValue];
}

/** The catalog: search, category, price range, in-stock toggle, sort, category facets and pages — all in the URL. */
export function CatalogPage() {
  const [params, setParams] = useSearchParams();
  const state = parseCatalog(params);
  usePageTitle(state.q ? `“${state.q}” in the catalog` : 'Catalog');
  const go = (next: CatalogState) => setParams(toParams(next));
  const [category, setCategory] = useFollow(state.category);
  const [inStock, setInStock] = useFollow(state.inStock);
  const [sort, setSort] = useFollow(state.sort || (state.q ? 'RELEVANCE' : 'NEWEST'));

  const categories = useQuery(CategoriesDocument);
  const list = useQuery(ProductListDocument, {
    variables: {
      first: PAGE_SIZE,
      after: state.after,
      filter: toFilter(state),
      ...(state.sort ? { sort: state.sort } : {}),
    },
  });
  const result = list.data?.products;
  const shown = result ?? list.previousData?.products;

  return (
    <div className="page catalog">
      <h1>Catalog</h1>
      <div className="catalog-layout">
        <aside className="filters" aria-label="Filters">
          {/* Re-mounted when the URL changes, so the text fields show what is applied. */}
          <FilterForm key={`${state.q}|${state.minPrice}|${state.maxPrice}`} state={state} go={go} />
          <div className="field">
            <label htmlFor="category">Category</label>
            <select
              id="category"
              value={category}
              onChange={(e) => {
                setCategory(e.target.value);
                go(withFilter(state, { category: e.target.value }));
              }}
            >
              <option value="">All categories</option>
              {categories.data?.categories.map((c) => (
                <option key={c.slug} value={c.slug}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field field-check">
            <input
              id="in-stock"
              type="checkbox"
              checked={inStock}
              onChange={(e) => {
                setInStock(e.target.checked);
                go(withFilter(state, { inStock: e.target.checked }));
              }}
            />
            <label htmlFor="in-stock">In stock only</label>
          </div>
          <div className="field">
            <label htmlFor="sort">Sort by</label>
            <select
              id="sort"
              value={sort}
              onChange={(e) => {
                setSort(e.target.value as typeof sort);
                go(withFilter(state, { sort: e.target.value as CatalogState['sort'] }));
              }}
            >
              {SORTS.filter((s) => !s.needsSearch || state.q).map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
          </div>
          {shown && shown.facets.categories.length > 0 && (
            <nav aria-labelledby="facets-heading" className="facets">
              <h2 id="facets-heading" className="h-small">
                Matching categories
              </h2>
              <ul>
                {state.category && (
                  <li>
                    <Link to={`?${toParams(withFilter(state, { category: '' })).toString()}`}>All categories</Link>
                  </li>
                )}
                {shown.facets.categories.map((f) => (
                  <li key={f.slug}>
                    <Link
                      to={`?${toParams(withFilter(state, { category: f.slug })).toString()}`}
                      aria-current={state.category === f.slug ? 'true' : undefined}
                    >
                      {f.name} <span className="count">({f.count})</span>
                    </Link>
                  </li>
                ))}
              </ul>
            </nav>
          )}
        </aside>

        <section className="results stack" aria-labelledby="results-heading">
          <h2 id="results-heading" className="visually-hidden">
            Results
          </h2>
          <p className="muted" aria-live="polite">
            {shown
              ? `${shown.totalCount} ${shown.totalCount === 1 ? 'product' : 'products'}${state.page > 1 ? ` · page ${state.page}` : ''}`
              : 'Loading products…'}
          </p>
          <ErrorMessage error={list.error} />
          {shown && shown.edges.length === 0 && (
            <div className="notice">
              <p>No products match. Try fewer words or a wider price range.</p>
            </div>
          )}
          {shown && shown.edges.length > 0 && (
            <ProductGrid products={shown.edges.map((e) => e.node)} label="Products" />
          )}
          <div className="pager">
            <button type="button" className="button" disabled={!state.after} onClick={() => go(previousPage(state))}>
              Previous page
            </button>
            <button
              type="button"
              className="button"
              disabled={!result?.pageInfo.hasNextPage || !result.pageInfo.endCursor}
              onClick={() => result?.pageInfo.endCursor && go(nextPage(state, result.pageInfo.endCursor))}
            >
              Next page
            </button>
          </div>
        </section>
      </div>
    </div>
  );
}

/** Search words and the price range apply together (Enter or the button); the other filters apply at once. */
function FilterForm({ state, go }: { state: CatalogState; go: (s: CatalogState) => void }) {
  const [q, setQ] = useState(state.q);
  const [minPrice, setMin] = useState(state.minPrice);
  const [maxPrice, setMax] = useState(state.maxPrice);
  const [problem, setProblem] = useState<string | null>(null);

  function submit(e: FormEvent) {
    e.preventDefault();
    if (!isPrice(minPrice) || !isPrice(maxPrice)) return setProblem('Prices are amounts like 25 or 19.99.');
    const min = toCents(minPrice);
    const max = toCents(maxPrice);
    if (min !== undefined && max !== undefined && max < min)
      return setProblem('The maximum price cannot be below the minimum price.');
    setProblem(null);
    go(withFilter(state, { q: q.trim(), minPrice, maxPrice }));
  }

  return (
    <form role="search" className="form stack-sm" onSubmit={submit} aria-label="Search and price">
      <div className="field">
        <label htmlFor="search">Search products</label>
        <input id="search" type="search" value={q} onChange={(e) => setQ(e.target.value)} maxLength={200} />
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="min-price">Minimum price</label>
          <input
            id="min-price"
            inputMode="decimal"
            value={minPrice}
            onChange={(e) => setMin(e.target.value)}
            placeholder="0"
            aria-invalid={!isPrice(minPrice) || undefined}
          />
        </div>
        <div className="field">
          <label htmlFor="max-price">Maximum price</label>
          <input
            id="max-price"
            inputMode="decimal"
            value={maxPrice}
            onChange={(e) => setMax(e.target.value)}
            placeholder="Any"
            aria-invalid={!isPrice(maxPrice) || undefined}
          />
        </div>
      </div>
      {problem && (
        <p className="error" role="alert" data-code="BAD_USER_INPUT">
          {problem}
        </p>
      )}
      <button type="submit" className="button button-primary">
        Search
      </button>
    </form>
  );
}
