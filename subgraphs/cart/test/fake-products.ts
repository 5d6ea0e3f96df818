import type { AppError } from '@shop/kernel';
import type { ProductInfo, ProductPort } from '../src/ports';

/** A product as `product.get` answers it. */
export const info = (id: string, priceAmount: number): ProductInfo => ({
  id,
  name: `P ${id}`,
  priceAmount,
  currency: 'EUR',
  available: 5,
  archived: false,
  discountPercent: 0,
});

/**
 * A product port answering `get` from `catalog` and recording each request's ids, for the tests of what sits in
 * front of the real one (batching, the price directory). `gate`, when set, holds every answer until it resolves.
 */
export function countingPort(catalog: Map<string, ProductInfo>, fail?: AppError) {
  const calls: string[][] = [];
  const control: { gate?: Promise<void> } = {};
  const port = {
    hold: jest.fn(),
    setHolds: jest.fn(),
    release: jest.fn(),
    async get({ ids }: { ids: string[] }) {
      calls.push(ids);
      const answer = ids.flatMap((id) => (catalog.has(id) ? [{ ...catalog.get(id)! }] : []));
      await control.gate;
      if (fail) throw fail;
      return answer;
    },
  } as unknown as ProductPort;
  return { port, calls, control };
}
