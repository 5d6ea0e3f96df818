// Hive Gateway configuration for the benchmark (bench/load.ts starts it with `-c` this file).
// Our subgraphs accept only requests that carry the gateway's signed internal token (x-gateway-token), and each only a
// token minted for itself (audience shop:subgraph:<name>). The harness mints one token per subgraph (same key, issuer
// and audiences as our gateway's; see bench/README.md) and sends Hive each in its own header, x-gateway-token-<name>;
// the hook below forwards to every subgraph request the one for that subgraph as x-gateway-token: the subgraphs run
// exactly the same auth path as behind our gateway.
// BENCH_HIVE_DEDUP=0 turns off Hive's default merging of identical in-flight subgraph requests.
import { defineConfig } from '@graphql-hive/gateway';

const dedup = process.env.BENCH_HIVE_DEDUP !== '0';

export const gatewayConfig = defineConfig({
  logging: 'warn',
  propagateHeaders: {
    fromClientToSubgraphs: ({ request, subgraphName }) => ({ 'x-gateway-token': request.headers.get(`x-gateway-token-${String(subgraphName).toLowerCase()}`) }),
  },
  ...(dedup ? {} : { transportEntries: { '*.http': { options: { deduplicateInflightRequests: false } } } }),
});
