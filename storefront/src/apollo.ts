import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';
import { GRAPHQL_HTTP_URL, graphqlWsUrl } from './config';

/**
 * One Apollo Client for the app. The session lives in HttpOnly cookies the gateway sets (never readable here), so
 * every request goes with `credentials: 'include'` and no Authorization header; the WebSocket upgrade carries the
 * same cookies. Requests are JSON POSTs, which Apollo Server's CSRF prevention accepts.
 */
export function createApolloClient(): ApolloClient {
  const http = new HttpLink({ uri: GRAPHQL_HTTP_URL, credentials: 'include' });
  const ws = new GraphQLWsLink(
    createClient({
      url: graphqlWsUrl(),
      lazy: true,
      retryAttempts: 5,
    }),
  );
  const link = ApolloLink.split(({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION, ws, http);
  return new ApolloClient({ link, cache: new InMemoryCache() });
}
