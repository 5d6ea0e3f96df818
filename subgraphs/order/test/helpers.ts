import { graphql, INTERNAL_TOKEN_HEADER, Identity, signInternalToken, Stack } from '@shop/kernel';
import type { StartedOrder } from '../src';

export const ORDER_FIELDS = `id number status createdAt
  user { id }
  items { product { id } productName quantity unitPrice { amount currency formatted } discountPercent lineTotal { amount currency formatted } }
  subtotal { amount currency formatted } discountTotal { amount currency formatted } total { amount currency formatted }
  shippingAddress { name line1 line2 city postalCode country }
  payment { provider status reference }`;

export const PLACE_ORDER = `mutation Place($input: PlaceOrderInput!, $key: String!) { placeOrder(input: $input, idempotencyKey: $key) { ${ORDER_FIELDS} } }`;
export const ORDER = `query Order($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
export const ORDERS = `query Orders($first: Int, $after: String, $status: OrderStatus) { orders(first: $first, after: $after, status: $status) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id number status } } } }`;
export const UPDATE_STATUS = `mutation Status($id: ID!, $status: OrderStatus!) { updateOrderStatus(id: $id, status: $status) { id status } }`;
export const CANCEL = `mutation Cancel($id: ID!) { cancelOrder(id: $id) { id status payment { status } } }`;

export const ADDRESS = { name: 'Ann Buyer', line1: '1 Main Street', line2: null, city: 'Springfield', postalCode: '12345', country: 'US' };

export const svc = (stack: Stack) => stack.services.order as StartedOrder;

/** Raw SQL on the order database. */
export function db(stack: Stack) {
  return (text: string, params: unknown[] = []) => svc(stack).orm.em.fork().getConnection().execute(text, params) as Promise<any[]>;
}

/** GraphQL straight to the order subgraph, as the gateway would send it (`_entities`). */
export function subgraphGql(stack: Stack, query: string, variables: Record<string, unknown> = {}, identity: Identity = {}) {
  return graphql(svc(stack).url, query, variables, { headers: { [INTERNAL_TOKEN_HEADER]: signInternalToken(stack.env.keys, identity, 'order') } });
}

export function codes(res: { errors?: { extensions?: Record<string, unknown> }[] }): unknown[] {
  return (res.errors ?? []).map((e) => e.extensions?.code);
}
export function fields(res: { errors?: { extensions?: Record<string, unknown> }[] }): unknown[] {
  return (res.errors ?? []).map((e) => e.extensions?.field);
}

export function ok(res: { data?: Record<string, any> | null; errors?: unknown[] }): Record<string, any> {
  if (res.errors?.length || !res.data) throw new Error(JSON.stringify(res.errors ?? 'no data'));
  return res.data;
}

export { eventually } from '@shop/kernel';
