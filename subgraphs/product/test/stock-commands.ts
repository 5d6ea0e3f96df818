import { Client } from 'pg';
import { AppError, Bus, databaseName } from '@shop/kernel';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../src';
import type { ProductCommands } from '../src/events/commands';
import { adminToken, db, ensureCategory } from './helpers';

type Cmd = keyof ProductCommands;

/** The product's stock commands as a peer (cart, order) calls them: over NATS with the kernel's `bus.request`. */
export function stockCommands(bus: Bus) {
  const call =
    <K extends Cmd>(name: K) =>
    (req: ProductCommands[K]['req']) =>
      bus.request<ProductCommands[K]['req'], ProductCommands[K]['res']>(name, req, 10_000);
  return {
    hold: call('product.hold'),
    setHolds: call('product.holds.set'),
    release: call('product.release'),
    commit: call('product.commit'),
    uncommit: call('product.uncommit'),
    get: call('product.get'),
    /** Any command with any payload (malformed requests). */
    raw: (name: Cmd, req: unknown) => bus.request<unknown, unknown>(name, req, 10_000),
  };
}

/** The coded error a promise rejects with; fails the test when it resolves. */
export async function failure(p: Promise<unknown>): Promise<AppError> {
  const outcome = await p.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
  if (!('err' in outcome)) throw new Error(`expected an error, got ${JSON.stringify(outcome.value)}`);
  if (!(outcome.err instanceof AppError)) throw outcome.err;
  return outcome.err;
}

export const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

/** Database views of stock used by the assertions. */
export function stockDb(stack: Stack) {
  const sql = db(stack);
  return {
    sql,
    /** A product's hold rows; `xmin` changes whenever PostgreSQL rewrites the row. */
    holds: async (productId: string) =>
      (
        await sql(
          `SELECT cart_id, quantity, expires_at, xmin::text AS xmin FROM stock_hold WHERE product_id = ? ORDER BY cart_id`,
          [productId],
        )
      ).map((r) => ({
        cartId: r.cart_id as string,
        quantity: Number(r.quantity),
        expiresAt: new Date(r.expires_at).toISOString(),
        xmin: r.xmin as string,
      })),
    cartHolds: async (cartId: string) =>
      (
        await sql(`SELECT product_id, quantity, expires_at FROM stock_hold WHERE cart_id = ? ORDER BY product_id`, [
          cartId,
        ])
      ).map((r) => ({
        productId: r.product_id as string,
        quantity: Number(r.quantity),
        expiresAt: new Date(r.expires_at).toISOString(),
      })),
    /** on_hand, unexpired held units and product_available, as every read computes them. */
    level: async (productId: string) => {
      const [r] = await sql(
        `SELECT p.on_hand, coalesce(h.held, 0)::int AS held, product_available(p.on_hand, h.held) AS available
        FROM products p LEFT JOIN product_held h ON h.product_id = p.id WHERE p.id = ?`,
        [productId],
      );
      return { onHand: Number(r.on_hand), held: Number(r.held), available: Number(r.available) };
    },
    /**
     * Products whose running hold total (`product_hold_total`) differs from the sum of their hold rows, or that have
     * no total at all: empty when the triggers kept every total exact.
     */
    totalsDrift: () =>
      sql(
        `SELECT p.id, t.units, coalesce((SELECT sum(h.quantity) FROM stock_hold h WHERE h.product_id = p.id), 0) AS rows
        FROM products p LEFT JOIN product_hold_total t ON t.product_id = p.id
        WHERE t.units IS DISTINCT FROM coalesce((SELECT sum(h.quantity) FROM stock_hold h WHERE h.product_id = p.id), 0)`,
      ),
    expireCart: (cartId: string) =>
      sql(`UPDATE stock_hold SET expires_at = now() - interval '1 second' WHERE cart_id = ?`, [cartId]),
  };
}

/** A connection of its own to the product database (a transaction held open across commands, plans of its own). */
export async function productConnection(stack: Stack): Promise<Client> {
  const url = new URL(stack.env.config.postgresUrl);
  url.pathname = `/${databaseName(stack.env.config, 'product')}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  return client;
}

/** What the stock test files share, set once their `beforeAll` ran (see stockSuite). */
export interface StockSuite {
  stack: Stack;
  /** The peer's connection (as the cart or the order subgraph). */
  bus: Bus;
  cmd: ReturnType<typeof stockCommands>;
  store: ReturnType<typeof stockDb>;
  admin: string;
}

/**
 * Registers the stock tests' setup in the calling file: the product subgraph behind the gateway, a peer's bus named
 * `peer`, an admin token and the "audio" category, their teardown, and after every test the check that every
 * product's hold total equals its rows (whatever the test's holds, merges, releases, sales and lapses did).
 */
export function stockSuite(peer: string): StockSuite {
  const suite = {} as StockSuite;
  beforeAll(async () => {
    suite.stack = await startStack({ subgraphs: [productSubgraph], gateway: startGateway });
    suite.bus = await Bus.connect(suite.stack.env.config, suite.stack.env.logger, peer);
    suite.cmd = stockCommands(suite.bus);
    suite.store = stockDb(suite.stack);
    suite.admin = adminToken(suite.stack);
    await ensureCategory(suite.stack, suite.admin, 'audio');
  });
  afterAll(async () => {
    await suite.bus?.close();
    await suite.stack?.stop();
  });
  afterEach(async () => expect(await suite.store.totalsDrift()).toEqual([]));
  return suite;
}
