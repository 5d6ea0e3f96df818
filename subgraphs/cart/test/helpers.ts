import { randomUUID } from 'node:crypto';
import { createClient, Client } from 'graphql-ws';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { Bus, signAccessToken } from '@shop/kernel';
import { Stack } from '@shop/kernel/testing';
import type { StartedCart } from '../src';
import { createProduct, db as productDb, ensureCategory, NewProduct } from '../../product/test/helpers';

export { codes, fields, ok } from '@shop/kernel/testing';

export const CART_FIELDS = `id status expiresAt secondsRemaining
  items { product { id name } quantity unitPrice { amount currency formatted } discountPercent lineTotal { amount currency formatted } }
  subtotal { amount currency formatted } discountTotal { amount currency formatted } total { amount currency formatted }
  adjustments { product { id } requested quantity }`;

export const CREATE_CART = `mutation { createCart { ${CART_FIELDS} } }`;
export const ADD = `mutation Add($c: ID!, $p: ID!, $q: Int!) { addToCart(cartId: $c, productId: $p, quantity: $q) { ${CART_FIELDS} } }`;
export const UPDATE = `mutation Upd($c: ID!, $p: ID!, $q: Int!) { updateCartItem(cartId: $c, productId: $p, quantity: $q) { ${CART_FIELDS} } }`;
export const REMOVE = `mutation Rm($c: ID!, $p: ID!) { removeFromCart(cartId: $c, productId: $p) { ${CART_FIELDS} } }`;
export const MERGE = `mutation Merge($c: ID!) { mergeCart(cartId: $c) { ${CART_FIELDS} } }`;
export const CART = `query Cart($id: ID!) { cart(id: $id) { ${CART_FIELDS} } }`;
export const MY_CART = `query { myCart { ${CART_FIELDS} } }`;
export const STOCK = `query Stock($id: ID!) { product(id: $id) { stock inStock } }`;

export const cartSvc = (stack: Stack) => stack.services.cart as StartedCart;
export const userToken = (stack: Stack, sub: string = randomUUID()) =>
  signAccessToken(stack.env.keys, { sub, role: 'USER' });
export const adminToken = (stack: Stack, sub: string = randomUUID()) =>
  signAccessToken(stack.env.keys, { sub, role: 'ADMIN' });

/** A product with stock, in category `audio`. */
export async function product(stack: Stack, input: NewProduct = {}) {
  const admin = adminToken(stack);
  await ensureCategory(stack, admin, 'audio');
  return createProduct(stack, admin, input);
}

/** The holds table in the product store, as the product subgraph sees it. */
export async function holds(stack: Stack, where: { cartId?: string; productId?: string } = {}) {
  const rows = await productDb(stack)(
    `SELECT cart_id, product_id, quantity, expires_at FROM stock_hold WHERE (?::text IS NULL OR cart_id = ?) AND (?::uuid IS NULL OR product_id = ?) ORDER BY cart_id, product_id`,
    [where.cartId ?? null, where.cartId ?? null, where.productId ?? null, where.productId ?? null],
  );
  return rows.map((r: any) => ({
    cartId: r.cart_id as string,
    productId: r.product_id as string,
    quantity: Number(r.quantity),
    expiresAt: new Date(r.expires_at),
  }));
}

/** Availability by the product store's own rule, and the raw balance (on hand − unexpired holds, which must never go below 0). */
export async function available(
  stack: Stack,
  productId: string,
): Promise<{ available: number; onHand: number; held: number; balance: number }> {
  const [row] = await productDb(stack)(
    `SELECT product_available(p.on_hand, h.held) AS a, p.on_hand, coalesce(h.held, 0) AS held FROM products p LEFT JOIN product_held h ON h.product_id = p.id WHERE p.id = ?`,
    [productId],
  );
  return {
    available: Number(row.a),
    onHand: Number(row.on_hand),
    held: Number(row.held),
    balance: Number(row.on_hand) - Number(row.held),
  };
}

/** Counts the `cart.expired` events on the stream for a cart (JetStream, as a consumer would see them). */
export async function expiredEvents(stack: Stack, cartId?: string): Promise<any[]> {
  const bus = await Bus.connect(stack.env.config);
  try {
    const stream = bus.streamName('cart');
    const info = await bus.jsm.streams.info(stream);
    const out: any[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await bus.jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (!m || !m.subject.endsWith('cart.expired')) continue;
      const ev = m.json<any>();
      if (!cartId || ev.data.cartId === cartId) out.push(ev);
    }
    return out;
  } finally {
    await bus.close();
  }
}

export { eventually } from '@shop/kernel/testing';

/** graphql-ws clients against the gateway, disposed by `disposeClients`. */
const clients: Client[] = [];
export function wsClient(stack: Stack, token?: string): Client {
  const c = createClient({
    url: stack.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
  clients.push(c);
  return c;
}
export async function disposeClients(): Promise<void> {
  for (const c of clients.splice(0)) await c.dispose();
}

/**
 * GraphQL through the gateway from another client address: the TCP connection is bound to `address` (any 127.0.0.0/8
 * address is this machine's loopback), so the gateway sees that address as the client's, as it would a remote one.
 */
const agents = new Map<string, Agent>();
export async function gqlFrom(
  stack: Stack,
  address: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<{ data?: any; errors?: any[] }> {
  let agent = agents.get(address);
  if (!agent) agents.set(address, (agent = new Agent({ localAddress: address })));
  const res = await undiciFetch(stack.gatewayUrl, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: any[] };
}
export async function closeAgents(): Promise<void> {
  for (const a of agents.values()) await a.close();
  agents.clear();
}
