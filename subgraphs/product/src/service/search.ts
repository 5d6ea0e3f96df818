import { badInput } from '@shop/kernel';

export const SEARCH_MAX_CHARS = 200;
const MAX_TERMS = 8;
const MAX_TERM_CHARS = 64;

/**
 * Splits what a shopper typed into search words. The text is DATA: it is split on anything that is not a letter,
 * mark or digit, so quotes, backslashes, `%`, `_` and the tsquery operators `':*|&!()<>` never reach the query
 * syntax; each word is then sent as a bound value (see CatalogStore, which makes every word a prefix: "head" finds
 * "headphones"). At most 8 distinct words of 64 characters. Returns null when no word is left (blank input,
 * punctuation only): the caller then does not filter by text.
 */
export function searchTerms(raw: string): string[] | null {
  if ([...raw].length > SEARCH_MAX_CHARS)
    throw badInput('search', `search must be at most ${SEARCH_MAX_CHARS} characters`);
  const terms = raw
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{M}\p{N}]+/u)
    .filter((t) => t && /[\p{L}\p{N}]/u.test(t))
    .map((t) => [...t].slice(0, MAX_TERM_CHARS).join(''));
  const unique = [...new Set(terms)].slice(0, MAX_TERMS);
  return unique.length ? unique : null;
}
