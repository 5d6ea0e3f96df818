import { AppError, ErrorCode } from '@shop/kernel';
import { batchedProductGets } from '../src/ports';
import { countingPort, info } from './fake-products';

/** The cart's price lookups, batched per event-loop turn (a crowd re-subscribing must not send one request each). */
it('answers the lookups of one turn with one request for the union of their ids, each caller its own products', async () => {
  const catalog = new Map([
    ['a', info('a', 100)],
    ['b', info('b', 250)],
    ['c', info('c', 990)],
  ]);
  const { port, calls } = countingPort(catalog);
  const products = batchedProductGets(port);
  const crowd = Array.from({ length: 500 }, (_, i) => products.get({ ids: i % 2 ? ['a', 'b'] : ['a'] }));
  const [unknown, both] = await Promise.all([products.get({ ids: ['c', 'missing'] }), products.get({ ids: ['b'] })]);
  const answers = await Promise.all(crowd);
  // 502 callers: the first turn's 500 go out in 200-id batches (DataLoader's cap) of at most 3 distinct ids.
  expect(calls.length).toBeLessThanOrEqual(4);
  for (const ids of calls) expect(new Set(ids).size).toBe(ids.length);
  expect(answers[0].map((p) => p.id)).toEqual(['a']);
  expect(answers[1].map((p) => p.id).sort()).toEqual(['a', 'b']);
  expect(unknown.map((p) => p.id)).toEqual(['c']);
  expect(both.map((p) => p.priceAmount)).toEqual([250]);
});

it('reads again on the next turn (no cache: a price change is seen at once)', async () => {
  const catalog = new Map([['a', info('a', 100)]]);
  const { port, calls } = countingPort(catalog);
  const products = batchedProductGets(port);
  expect((await products.get({ ids: ['a'] }))[0].priceAmount).toBe(100);
  catalog.set('a', info('a', 120));
  expect((await products.get({ ids: ['a'] }))[0].priceAmount).toBe(120);
  expect(calls).toEqual([['a'], ['a']]);
});

it("fails every caller of a failed request with the product subgraph's error", async () => {
  const { port } = countingPort(new Map(), new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'product is down'));
  const products = batchedProductGets(port);
  const results = await Promise.allSettled([products.get({ ids: ['a'] }), products.get({ ids: ['b'] })]);
  for (const r of results) {
    expect(r.status).toBe('rejected');
    expect((r as PromiseRejectedResult).reason.extensions.code).toBe('SERVICE_UNAVAILABLE');
  }
  expect(await products.get({ ids: [] })).toEqual([]);
});
