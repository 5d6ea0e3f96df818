import { Connection, decodeTimeCursor, timeCursor, toConnection } from '@shop/kernel';
import type { Keyset, Page } from '../store';

/** Cursor = [ISO timestamp, id] of the last row seen (newest-first keyset); anything else is BAD_USER_INPUT on `after`. */
export function parseKeyset(after: string | null | undefined, opts: { uuidIds?: boolean } = {}): Keyset | undefined {
  const key = decodeTimeCursor(after, { anyId: !opts.uuidIds });
  return key && { at: new Date(key[0]), id: key[1] };
}

/** `page` was fetched with limit `first + 1`; the stores count alongside the page query, so the count is at hand. */
export function connectionOf<T extends { id: string }>(
  page: Page<T>,
  first: number,
  at: (row: T) => Date,
): Connection<T> {
  return toConnection(page.rows, first, {
    cursor: (row) => timeCursor(at(row), row.id),
    count: () => Promise.resolve(page.totalCount),
  });
}
