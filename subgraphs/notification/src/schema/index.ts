import type { GraphQLSchema } from 'graphql';
import { buildFederatedSchema } from '@shop/kernel';
import { RESOLVERS } from '../resolvers';

export * from './email';
export * from './audit';
export * from './args';

/** The subgraph schema; resolvers reach their services through the request context, so building it needs no I/O. */
export function buildNotificationSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema({ resolvers: [...RESOLVERS], instances: [] });
}
