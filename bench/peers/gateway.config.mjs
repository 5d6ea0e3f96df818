// Hive Gateway configuration for the benchmark (bench/gateways.ts starts it with `-c` this file).
// Our subgraphs accept only requests that carry the gateway's signed internal token (x-gateway-token), and each only a
// token minted for itself (audience shop:subgraph:<name>). The harness mints one token per subgraph (same key, issuer
// and audiences as our gateway's; see bench/README.md) and sends Hive each in its own header, x-gateway-token-<name>;
// the hook below forwards to every subgraph request the one for that subgraph as x-gateway-token: the subgraphs run
// exactly the same auth path as behind our gateway.
// BENCH_HIVE_DEDUP=0 turns off Hive's default merging of identical in-flight subgraph requests.
// BENCH_HIVE_CACHE=1 turns on Hive's own response caching, set up as close to our gateway's response cache as it allows
// (bench/README.md "A fair cached peer"): the same TTL (BENCH_HIVE_CACHE_TTL_MS, our GATEWAY_RESPONSE_CACHE_TTL_SECONDS),
// anonymous requests only (no Authorization header: ours caches no signed-in response either), Hive's in-memory cache
// (ours keeps entries in process too), invalidation by mutation results (Hive's own mechanism; ours bumps a catalog
// generation). `includeExtensionMetadata` puts `responseCache.hit` in each answer: the harness counts hits from it.
import { defineConfig } from '@graphql-hive/gateway';

const dedup = process.env.BENCH_HIVE_DEDUP !== '0';
const cache = process.env.BENCH_HIVE_CACHE === '1';

export const gatewayConfig = defineConfig({
  logging: 'warn',
  propagateHeaders: {
    fromClientToSubgraphs: ({ request, subgraphName }) => ({ 'x-gateway-token': request.headers.get(`x-gateway-token-${String(subgraphName).toLowerCase()}`) }),
  },
  ...(dedup ? {} : { transportEntries: { '*.http': { options: { deduplicateInflightRequests: false } } } }),
  ...(cache
    ? {
        responseCaching: {
          ttl: Number(process.env.BENCH_HIVE_CACHE_TTL_MS ?? 10_000),
          // Anonymous only, like ours; a signed-in request is neither served from nor stored in the cache.
          enabled: (request) => !request.headers.get('authorization'),
          session: () => null,
          invalidateViaMutation: true,
          includeExtensionMetadata: true,
        },
      }
    : {}),
});
