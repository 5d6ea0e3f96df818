// Hive Gateway configuration for the subscription benchmark (bench/subscriptions.ts starts it with `-c` this file).
// Subscriptions go to the cart subgraph over graphql-ws (`subscriptions: { kind: 'ws' }`), like our gateway's bridge;
// the rest of each event's plan (product names and prices) over HTTP.
// Our subgraphs accept only requests carrying the gateway's signed internal token, each only one minted for itself.
// Every subscriber of this benchmark is anonymous (guest carts), so one token per subgraph serves all of them: the
// harness mints them (same key, issuer and audience as our gateway's) and passes them as BENCH_TOKEN_<SUBGRAPH>.
// The WebSocket to the cart subgraph carries its token in connectionParams (one connection for all subscribers, as
// ours); HTTP requests carry theirs as x-gateway-token. The subgraphs run the same verification as behind ours.
import { defineConfig } from '@graphql-hive/gateway';

const token = (subgraph) => process.env[`BENCH_TOKEN_${String(subgraph).toUpperCase()}`];

export const gatewayConfig = defineConfig({
  logging: 'warn',
  transportEntries: {
    cart: {
      options: {
        subscriptions: { kind: 'ws', options: { connectionParams: { 'x-gateway-token': token('cart') } } },
      },
    },
  },
  propagateHeaders: {
    fromClientToSubgraphs: ({ subgraphName }) => ({ 'x-gateway-token': token(subgraphName) }),
  },
});
