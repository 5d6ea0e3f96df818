import { randomUUID } from 'node:crypto';
import { signAccessToken } from '@shop/kernel';
import { codes, eventually, fields, ok, rawSql, Stack, subgraphGqlFor } from '@shop/kernel/testing';
import type { StartedNotification } from '../../notification/src';
import type { StartedUser } from '../../user/src';
import { DURABLE } from '../../notification/src/events/consumers';
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

export const ADDRESS = {
  name: 'Ann Buyer',
  line1: '1 Main Street',
  line2: null,
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};

export const svc = (stack: Stack) => stack.services.order as StartedOrder;

/** Raw SQL on the order database. */
export const db = (stack: Stack) => rawSql(svc(stack).orm);

/** GraphQL straight to the order subgraph, as the gateway would send it (`_entities`). */
export const subgraphGql = subgraphGqlFor('order');

export { codes, eventually, fields, ok };

/**
 * A verified account (first name Ann) written straight into the user database: these tests are about orders, not
 * sign-up. No `user.registered` is published, so the order's buyer directory lacks it until a checkout asks `user.get`.
 */
export async function directAccount(stack: Stack, opts: { role?: 'USER' | 'ADMIN'; emailPrefix?: string } = {}) {
  const id = randomUUID();
  const role = opts.role ?? 'USER';
  const email = `${opts.emailPrefix ?? 'buyer'}.${id.slice(0, 8)}@example.test`;
  await (stack.services.user as StartedUser).orm.em
    .fork()
    .getConnection()
    .execute(
      `INSERT INTO users (id, email, password_hash, first_name, role, email_verified_at) VALUES (?, ?, 'x', 'Ann', ?, now())`,
      [id, email, role],
    );
  return { id, email, token: signAccessToken(stack.env.keys, { sub: id, role }) };
}

/**
 * The emails the notification subgraph has queued for `to` once it has handled EVERY order and payment event on the
 * streams so far (its durable email consumers have nothing pending and nothing unacknowledged): the positive signal that a late
 * duplicate, had one been caused, would be in this list — instead of waiting a while and hoping it would have shown.
 * Call it after the events in question are published (outbox rows with published_at set).
 */
export async function settledEmailsTo(
  stack: Stack,
  to: string,
): Promise<{ template: string; subject: string; status: string }[]> {
  const n = stack.services.notification as StartedNotification;
  for (const domain of ['order', 'payment'] as const) {
    const stream = n.bus.streamName(domain);
    await eventually(`the email consumer to have handled every ${domain} event`, async () => {
      const consumers = await n.bus.jsm.consumers.list(stream).next();
      const email = consumers.filter((c) => c.name.startsWith(`${DURABLE.events}-`));
      return email.length > 0 && email.every((c) => c.num_pending === 0 && c.num_ack_pending === 0);
    });
  }
  const page = await n.emails.list({ first: 50, to });
  return page.edges.map((e) => ({ template: e.node.template, subject: e.node.subject, status: e.node.status }));
}

/** Waits until the order's outbox rows are all published (they are on the stream). */
export async function outboxPublished(stack: Stack, orderId: string): Promise<void> {
  await eventually(`order ${orderId}'s events published`, async () => {
    const [row] = await db(stack)(
      `SELECT count(*) FILTER (WHERE published_at IS NULL)::int AS pending FROM outbox WHERE payload->'data'->>'orderId' = ?`,
      [orderId],
    );
    return row.pending === 0;
  });
}
