import { nextPage, parseCatalog, previousPage, toFilter, toParams, withFilter } from '../src/shop/catalogParams';

/** The catalog's URL state: what a bookmarked or shared catalog address means, and how pages chain. */
const parse = (qs: string) => parseCatalog(new URLSearchParams(qs));

test('the query string becomes the API filter, prices typed in currency units become integer cents', () => {
  const s = parse('q=lamp&category=home&minPrice=19.99&maxPrice=250&inStock=1&sort=PRICE_ASC');
  expect(toFilter(s)).toEqual({ search: 'lamp', category: 'home', minPrice: 1999, maxPrice: 25000, inStock: true });
  expect(s.sort).toBe('PRICE_ASC');
  expect(toParams(s).toString()).toBe('q=lamp&category=home&minPrice=19.99&maxPrice=250&inStock=1&sort=PRICE_ASC');
});

test('nonsense in the address is dropped rather than sent: bad prices, unknown sorts, best match without words', () => {
  expect(toFilter(parse('minPrice=abc&maxPrice=-3'))).toEqual({});
  expect(parse('sort=CHEAPEST').sort).toBe('');
  expect(parse('sort=RELEVANCE').sort).toBe('');
  expect(parse('q=desk&sort=RELEVANCE').sort).toBe('RELEVANCE');
});

test('next and previous pages walk the cursor trail; a filter change goes back to page 1', () => {
  const first = parse('q=lamp');
  const second = nextPage(first, 'c1');
  const third = nextPage(parse(toParams(second).toString()), 'c2');
  expect(toParams(third).toString()).toBe('q=lamp&after=c2&back=&back=c1&page=3');
  const back = previousPage(parse(toParams(third).toString()));
  expect(back).toMatchObject({ after: 'c1', back: [''], page: 2 });
  expect(previousPage(back)).toMatchObject({ after: null, back: [], page: 1 });
  expect(toParams(withFilter(third, { category: 'home' })).toString()).toBe('q=lamp&category=home');
});
