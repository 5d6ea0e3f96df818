import { AppError, Bus, ErrorCode } from '@shop/kernel';
import { TestEnv } from '@shop/kernel/testing';
import type { BuyerInfo, CartLine, CheckoutCart, CommandProductInfo } from '../src/ports';

/**
 * TEST DOUBLE of OTHER services' commands (the cart and product stock commands are built elsewhere; `user.get`
 * will live in the user subgraph). It serves, on the test environment's NATS prefix:
 *   cart.checkout.begin, cart.checkout.complete, product.commit, product.uncommit, user.get and (optionally) product.get
 * with a small state of its own: carts, holds per cart, stock per product. Replace its use with the real cart +
 * product (+ user) subgraphs in the stack once they serve these commands.
 */
export interface FakeCart {
  id: string;
  /** null = a guest cart. */
  userId: string | null;
  status: 'ACTIVE' | 'EXPIRED' | 'CHECKED_OUT';
  currency: string;
  expiresAt: Date;
  lines: CartLine[];
  checkedOutBy?: string;
}

export interface FakeStock {
  onHand: number;
  held: number;
  sold: number;
}

export class FakeServices {
  readonly carts = new Map<string, FakeCart>();
  /** cartId → productId → held units. */
  readonly holds = new Map<string, Map<string, number>>();
  readonly stock = new Map<string, FakeStock>();
  readonly products = new Map<string, CommandProductInfo>();
  readonly users = new Map<string, BuyerInfo>();
  /** orderId → what was committed. */
  readonly commits = new Map<string, { productId: string; quantity: number }[]>();
  readonly calls = { begin: 0, complete: 0, commit: 0, uncommit: 0, userGet: 0, productGet: 0 };
  /** Effective (non-idempotent-replay) commits and uncommits per order. */
  readonly effects = { commit: new Map<string, number>(), uncommit: new Map<string, number>() };
  /** When set, the next calls of that command fail with this error (then it is cleared). */
  failNext: Partial<Record<'begin' | 'complete' | 'commit' | 'uncommit', AppError | Error>> = {};

  private constructor(private readonly bus: Bus) {}

  static async start(env: TestEnv, opts: { serveProductGet?: boolean; serveUserGet?: boolean } = {}): Promise<FakeServices> {
    const bus = await Bus.connect(env.config);
    const fake = new FakeServices(bus);
    fake.serve(opts.serveProductGet ?? true, opts.serveUserGet ?? true);
    await bus.nc.flush();
    return fake;
  }

  close(): Promise<void> {
    return this.bus.close();
  }

  /** Adds a product with stock on hand (and, when product.get is served here, its catalog data). */
  addProduct(p: { id: string; name: string; priceAmount: number; currency?: string; stock: number }): void {
    this.stock.set(p.id, { onHand: p.stock, held: 0, sold: 0 });
    this.products.set(p.id, { id: p.id, sku: `SKU-${p.id.slice(0, 8)}`, name: p.name, priceAmount: p.priceAmount, currency: p.currency ?? 'USD', available: p.stock, archived: false });
  }

  /** Creates a cart with these lines and holds their stock (as addToCart would). */
  addCart(c: { id: string; userId: string | null; lines: CartLine[]; currency?: string; expiresAt?: Date; status?: FakeCart['status'] }): FakeCart {
    const cart: FakeCart = {
      id: c.id, userId: c.userId, status: c.status ?? 'ACTIVE', currency: c.currency ?? 'USD',
      expiresAt: c.expiresAt ?? new Date(Date.now() + 600_000), lines: c.lines.map((l) => ({ ...l })),
    };
    this.carts.set(c.id, cart);
    const holds = new Map<string, number>();
    for (const l of c.lines) {
      const s = this.stock.get(l.productId);
      if (!s || s.onHand - s.held - s.sold < l.quantity) throw new Error(`fake: not enough stock of ${l.productId}`);
      s.held += l.quantity;
      holds.set(l.productId, l.quantity);
    }
    this.holds.set(c.id, holds);
    return cart;
  }

  available(productId: string): number {
    const s = this.stock.get(productId)!;
    return s.onHand - s.held - s.sold;
  }

  private take(name: keyof FakeServices['failNext']): void {
    const err = this.failNext[name];
    if (err) {
      delete this.failNext[name];
      throw err;
    }
  }

  private serve(serveProductGet: boolean, serveUserGet: boolean): void {
    const bus = this.bus;
    bus.serve<{ cartId: string; userId: string }, CheckoutCart>('cart.checkout.begin', async ({ cartId, userId }) => {
      this.calls.begin++;
      this.take('begin');
      const cart = this.carts.get(cartId);
      if (!cart) throw new AppError(ErrorCode.NOT_FOUND, 'Cart not found');
      if (cart.userId === null || cart.userId !== userId) throw new AppError(ErrorCode.FORBIDDEN, 'This cart is not yours (merge a guest cart first)');
      if (cart.status === 'EXPIRED' || cart.expiresAt.getTime() <= Date.now()) throw new AppError(ErrorCode.CART_EXPIRED, 'The cart expired');
      if (cart.status === 'CHECKED_OUT' || !cart.lines.length) throw new AppError(ErrorCode.CART_EMPTY, 'The cart is empty');
      return { cartId, status: 'ACTIVE', currency: cart.currency, expiresAt: cart.expiresAt.toISOString(), lines: cart.lines.map((l) => ({ ...l })) };
    });
    bus.serve<{ cartId: string; orderId: string }, { ok: true }>('cart.checkout.complete', async ({ cartId, orderId }) => {
      this.calls.complete++;
      this.take('complete');
      const cart = this.carts.get(cartId);
      if (!cart) throw new AppError(ErrorCode.NOT_FOUND, 'Cart not found');
      if (cart.status !== 'CHECKED_OUT') {
        cart.status = 'CHECKED_OUT';
        cart.checkedOutBy = orderId;
        cart.lines = [];
      }
      return { ok: true };
    });
    bus.serve<{ orderId: string; cartId: string; lines: { productId: string; quantity: number }[] }, { committed: true }>('product.commit', async (req) => {
      this.calls.commit++;
      this.take('commit');
      if (this.commits.has(req.orderId)) return { committed: true };
      const cart = this.carts.get(req.cartId);
      const holds = this.holds.get(req.cartId);
      if (cart && cart.expiresAt.getTime() <= Date.now()) throw new AppError(ErrorCode.CART_EXPIRED, 'The stock holds expired');
      for (const l of req.lines) {
        if ((holds?.get(l.productId) ?? 0) < l.quantity) throw new AppError(ErrorCode.INSUFFICIENT_STOCK, `Not enough stock held for ${l.productId}`, { productId: l.productId });
      }
      for (const l of req.lines) {
        const s = this.stock.get(l.productId)!;
        s.held -= l.quantity;
        s.sold += l.quantity;
        holds!.set(l.productId, holds!.get(l.productId)! - l.quantity);
      }
      this.commits.set(req.orderId, req.lines.map((l) => ({ ...l })));
      this.effects.commit.set(req.orderId, (this.effects.commit.get(req.orderId) ?? 0) + 1);
      return { committed: true };
    });
    bus.serve<{ orderId: string }, { returned: true }>('product.uncommit', async ({ orderId }) => {
      this.calls.uncommit++;
      this.take('uncommit');
      const lines = this.commits.get(orderId);
      if (lines) {
        for (const l of lines) this.stock.get(l.productId)!.sold -= l.quantity;
        this.commits.delete(orderId);
        this.effects.uncommit.set(orderId, (this.effects.uncommit.get(orderId) ?? 0) + 1);
      }
      return { returned: true };
    });
    if (serveUserGet) bus.serve<{ id: string }, BuyerInfo>('user.get', async ({ id }) => {
      this.calls.userGet++;
      return this.users.get(id) ?? { id, email: `buyer.${id.slice(0, 8)}@example.test`, firstName: 'Buyer' };
    });
    if (serveProductGet) {
      bus.serve<{ ids: string[] }, CommandProductInfo[]>('product.get', async ({ ids }) => {
        this.calls.productGet++;
        return ids.map((id) => this.products.get(id)).filter((p): p is CommandProductInfo => !!p);
      });
    }
  }
}
