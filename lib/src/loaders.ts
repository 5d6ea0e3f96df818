import DataLoader from 'dataloader';

/**
 * A per-request DataLoader over a batch query that answers with a map by key (one query per batch, whoever asks);
 * a key the query does not answer gets `missing()`.
 */
export function keyedLoader<K, V>(
  load: (keys: readonly K[]) => Promise<Map<K, V>>,
  missing: () => V,
): DataLoader<K, V> {
  return new DataLoader<K, V>(async (keys) => {
    const found = await load(keys);
    return keys.map((key) => found.get(key) ?? missing());
  });
}
