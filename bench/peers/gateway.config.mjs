// Hive Gateway configuration for the benchmark (bench/load.ts starts it with `-c` this file).
// Our subgraphs accept only requests that carry the gateway's signed internal token (x-gateway-token). The harness
// mints that token (same key, issuer and audience as our gateway's; see bench/README.md) and sends it to Hive, which
// propagates it to every subgraph request: the subgraphs run exactly the same auth path as behind our gateway.
// BENCH_HIVE_DEDUP=0 turns off Hive's default merging of identical in-flight subgraph requests.
import { defineConfig } from '@graphql-hive/gateway';

const dedup = process.env.BENCH_HIVE_DEDUP !== '0';

export const gatewayConfig = defineConfig({
  logging: 'warn',
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({ 'x-gateway-token': request.headers.get('x-gateway-token') }),
  },
  ...(dedup ? {} : { transportEntries: { '*.http': { options: { deduplicateInflightRequests: false } } } }),
});
