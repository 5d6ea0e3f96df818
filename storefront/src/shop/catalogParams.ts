import type { ProductFilter, ProductSort } from '../gql/graphql';

/**
 * The catalog's state lives in the query string, so a filtered page can be bookmarked, shared and navigated with
 * Back: `q`, `category`, `minPrice`/`maxPrice` (in currency units, as typed: `25` or `19.99`), `inStock=1`, `sort`,
 * and for pagination `after` (the cursor the page starts after), `back` (the cursors of the pages before, repeated)
 * and `page` (its number, for display).
 */
export interface CatalogState {
  q: string;
  category: string;
  minPrice: string;
  maxPrice: string;
  inStock: boolean;
  sort: ProductSort | '';
  after: string | null;
  back: string[];
  page: number;
}

export const SORTS: { value: ProductSort; label: string; needsSearch?: boolean }[] = [
  { value: 'RELEVANCE', label: 'Best match', needsSearch: true },
  { value: 'NEWEST', label: 'Newest first' },
  { value: 'PRICE_ASC', label: 'Price: low to high' },
  { value: 'PRICE_DESC', label: 'Price: high to low' },
  { value: 'NAME', label: 'Name: A to Z' },
];

const SORT_VALUES = new Set<string>(SORTS.map((s) => s.value));

export function parseCatalog(params: URLSearchParams): CatalogState {
  const q = params.get('q')?.trim() ?? '';
  const sort = params.get('sort') ?? '';
  return {
    q,
    category: params.get('category') ?? '',
    minPrice: params.get('minPrice') ?? '',
    maxPrice: params.get('maxPrice') ?? '',
    inStock: params.get('inStock') === '1' || params.get('inStock') === 'true',
    // Best match needs search words; without them the API would refuse it.
    sort: SORT_VALUES.has(sort) && (sort !== 'RELEVANCE' || q) ? (sort as ProductSort) : '',
    after: params.get('after') || null,
    back: params.getAll('back'),
    page: Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1),
  };
}

/** Whole or decimal currency units → integer cents; undefined when blank or not a price. */
export function toCents(value: string): number | undefined {
  const trimmed = value.trim();
  if (!trimmed || !/^\d+(\.\d{1,2})?$/.test(trimmed)) return undefined;
  return Math.round(Number(trimmed) * 100);
}

export function isPrice(value: string): boolean {
  return !value.trim() || toCents(value) !== undefined;
}

export function toFilter(s: CatalogState): ProductFilter {
  const filter: ProductFilter = {};
  if (s.q) filter.search = s.q;
  if (s.category) filter.category = s.category;
  const min = toCents(s.minPrice);
  const max = toCents(s.maxPrice);
  if (min !== undefined) filter.minPrice = min;
  if (max !== undefined) filter.maxPrice = max;
  if (s.inStock) filter.inStock = true;
  return filter;
}

/** The query string for a state; `page` fields are dropped unless kept on purpose (a filter change starts at page 1). */
export function toParams(s: CatalogState): URLSearchParams {
  const p = new URLSearchParams();
  if (s.q) p.set('q', s.q);
  if (s.category) p.set('category', s.category);
  if (s.minPrice.trim()) p.set('minPrice', s.minPrice.trim());
  if (s.maxPrice.trim()) p.set('maxPrice', s.maxPrice.trim());
  if (s.inStock) p.set('inStock', '1');
  if (s.sort) p.set('sort', s.sort);
  if (s.after) {
    p.set('after', s.after);
    for (const b of s.back) p.append('back', b);
    p.set('page', String(s.page));
  }
  return p;
}

/** A changed filter: back to the first page. */
export function withFilter(s: CatalogState, change: Partial<CatalogState>): CatalogState {
  const next = { ...s, ...change, after: null, back: [], page: 1 };
  if (next.sort === 'RELEVANCE' && !next.q) next.sort = '';
  return next;
}

export function nextPage(s: CatalogState, endCursor: string): CatalogState {
  return { ...s, after: endCursor, back: [...s.back, s.after ?? ''], page: s.page + 1 };
}

export function previousPage(s: CatalogState): CatalogState {
  const back = s.back.slice(0, -1);
  const after = s.back[s.back.length - 1] || null;
  return { ...s, after, back: after ? back : [], page: Math.max(1, s.page - 1) };
}
