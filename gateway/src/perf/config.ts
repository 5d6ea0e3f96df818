/**
 * Gateway performance switches, read from the environment at start (on by default except where noted):
 *
 *   GATEWAY_SUBGRAPH_FETCH   `undici` (kept-alive pools) or `apollo` (the data source's default make-fetch-happen)
 *   GATEWAY_DEDUPE           `1`/`0`: merge identical in-flight subgraph queries of one identity
 *   GATEWAY_RESPONSE_CACHE   `1`/`0`: cache whole responses of anonymous catalog queries (product + media only); default on in production only
 *   GATEWAY_ENTITY_CACHE     `1`/`0`: cache catalog entities (product, media) per representation for every caller; default on in production only
 *   GATEWAY_ENTITY_CACHE_MAX_ENTRIES     entities kept per gateway process
 *   GATEWAY_RESPONSE_CACHE_TTL_SECONDS   longest life of a cached response or entity (stock changed outside the gateway, deals rotation)
 *   GATEWAY_WORKERS          processes serving the port (node:cluster); 1 = no cluster (default), 0 = one per core
 */
export interface PerfConfig {
  subgraphFetch: 'undici' | 'apollo';
  dedupe: boolean;
  responseCache: boolean;
  responseCacheTtlSeconds: number;
  entityCache: boolean;
  entityCacheMaxEntries: number;
  workers: number;
}

export function loadPerfConfig(env: Record<string, string | undefined> = process.env): PerfConfig {
  const problems: string[] = [];
  const flag = (name: string, fallback: boolean): boolean => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    if (v === '1' || v === 'true') return true;
    if (v === '0' || v === 'false') return false;
    problems.push(`${name} must be 1 or 0 (got "${v}")`);
    return fallback;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${v}")`);
      return fallback;
    }
    return n;
  };
  const fetch = env.GATEWAY_SUBGRAPH_FETCH || 'undici';
  if (fetch !== 'undici' && fetch !== 'apollo') problems.push(`GATEWAY_SUBGRAPH_FETCH must be undici or apollo (got "${fetch}")`);
  const config: PerfConfig = {
    subgraphFetch: fetch === 'apollo' ? 'apollo' : 'undici',
    dedupe: flag('GATEWAY_DEDUPE', true),
    // Off unless asked for outside production: tests elsewhere read stock right after changing it over NATS.
    responseCache: flag('GATEWAY_RESPONSE_CACHE', env.NODE_ENV === 'production'),
    responseCacheTtlSeconds: int('GATEWAY_RESPONSE_CACHE_TTL_SECONDS', 10, 1, 3600),
    entityCache: flag('GATEWAY_ENTITY_CACHE', env.NODE_ENV === 'production'),
    entityCacheMaxEntries: int('GATEWAY_ENTITY_CACHE_MAX_ENTRIES', 20_000, 100, 10_000_000),
    workers: int('GATEWAY_WORKERS', 1, 0, 64),
  };
  if (problems.length) throw new Error(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return config;
}
