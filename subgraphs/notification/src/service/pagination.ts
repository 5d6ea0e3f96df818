import { badInput, Connection, decodeCursor, isUuid, toConnection } from '@shop/kernel';
import type { Keyset, Page } from '../store';

/** Cursor = [ISO timestamp, id] of the last row seen (newest-first keyset); anything else is BAD_USER_INPUT on `after`. */
export function parseKeyset(after: string | null | undefined, opts: { uuidIds?: boolean } = {}): Keyset | undefined {
  const key = decodeCursor(after, 2);
  if (!key) return undefined;
  const [at, id] = key;
  const date = typeof at === 'string' ? new Date(at) : undefined;
  if (!date || Number.isNaN(date.getTime()) || typeof id !== 'string' || (opts.uuidIds && !isUuid(id))) {
    throw badInput('after', 'after is not a valid cursor');
  }
  return { at: date, id };
}

/** `page` was fetched with limit `first + 1`; the stores count alongside the page query, so the count is at hand. */
export function connectionOf<T extends { id: string }>(
  page: Page<T>,
  first: number,
  at: (row: T) => Date,
): Connection<T> {
  return toConnection(page.rows, first, {
    cursor: (row) => [at(row).toISOString(), row.id],
    count: () => Promise.resolve(page.totalCount),
  });
}
