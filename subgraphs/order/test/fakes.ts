import { AppError, Bus, ErrorCode } from '@shop/kernel';
import { TestEnv } from '@shop/kernel/testing';
import type { CommandProduct } from '../../product/src/service/catalog.service';
import type { CheckoutLine, CheckoutCart } from '../src/ports';

/** A fake cart's line as a test writes it: the name and archived flag come from the real product subgraph at begin. */
export type FakeLine = Omit<CheckoutLine, 'productName' | 'archived'>;

/**
 * TEST DOUBLE of the cart subgraph's checkout commands (`cart.checkout.begin`, `cart.checkout.complete`), served on
 * the test environment's NATS prefix, for failure injection (a cart completion that fails on purpose) and carts of
 * any shape (expired, guest, empty) without driving the real cart. Stock is NOT faked: the real product subgraph
 * serves `product.commit` / `product.uncommit` (a fake cart has no holds there; the stock not held by other carts
 * covers its lines, as it does for a cart whose holds lapsed).
 */
export interface FakeCart {
  id: string;
  /** null = a guest cart. */
  userId: string | null;
  status: 'ACTIVE' | 'EXPIRED' | 'CHECKED_OUT';
  currency: string;
  expiresAt: Date;
  lines: FakeLine[];
  checkedOutBy?: string;
}

export class FakeCartCommands {
  readonly carts = new Map<string, FakeCart>();
  readonly calls = { begin: 0, complete: 0 };
  /** When set, the next call of that command fails with this error (then it is cleared). */
  failNext: Partial<Record<'begin' | 'complete', AppError | Error>> = {};
  /** When set, `cart.checkout.complete` answers only once this settles (completions held back, then let go together). */
  completeGate?: Promise<void>;

  private constructor(private readonly bus: Bus) {}

  static async start(env: TestEnv): Promise<FakeCartCommands> {
    const bus = await Bus.connect(env.config);
    const fake = new FakeCartCommands(bus);
    fake.serve();
    await bus.nc.flush();
    return fake;
  }

  close(): Promise<void> {
    return this.bus.close();
  }

  addCart(c: {
    id: string;
    userId: string | null;
    lines: FakeLine[];
    currency?: string;
    expiresAt?: Date;
    status?: FakeCart['status'];
  }): FakeCart {
    const cart: FakeCart = {
      id: c.id,
      userId: c.userId,
      status: c.status ?? 'ACTIVE',
      currency: c.currency ?? 'USD',
      expiresAt: c.expiresAt ?? new Date(Date.now() + 600_000),
      lines: c.lines.map((l) => ({ ...l })),
    };
    this.carts.set(c.id, cart);
    return cart;
  }

  private take(name: keyof FakeCartCommands['failNext']): void {
    const err = this.failNext[name];
    if (err) {
      delete this.failNext[name];
      throw err;
    }
  }

  private serve(): void {
    this.bus.serve<{ cartId: string; userId: string }, CheckoutCart>(
      'cart.checkout.begin',
      async ({ cartId, userId }) => {
        this.calls.begin++;
        this.take('begin');
        const cart = this.carts.get(cartId);
        if (!cart) throw new AppError(ErrorCode.NOT_FOUND, 'Cart not found');
        if (cart.userId === null || cart.userId !== userId)
          throw new AppError(ErrorCode.FORBIDDEN, 'This cart is not yours (merge a guest cart first)');
        if (cart.status === 'EXPIRED' || cart.expiresAt.getTime() <= Date.now())
          throw new AppError(ErrorCode.CART_EXPIRED, 'The cart expired');
        if (cart.status === 'CHECKED_OUT' || !cart.lines.length)
          throw new AppError(ErrorCode.CART_EMPTY, 'The cart is empty');
        // As the real cart does: the names and archived flags of the product lookup it prices with.
        const infos = await this.bus.request<{ ids: string[] }, CommandProduct[]>('product.get', {
          ids: cart.lines.map((l) => l.productId),
        });
        const byId = new Map(infos.map((p) => [p.id, p]));
        if (cart.lines.some((l) => !byId.has(l.productId)))
          throw new AppError(ErrorCode.NOT_FOUND, 'Product not found');
        return {
          cartId,
          status: 'ACTIVE',
          currency: cart.currency,
          expiresAt: cart.expiresAt.toISOString(),
          lines: cart.lines.map((l) => ({
            ...l,
            productName: byId.get(l.productId)!.name,
            archived: byId.get(l.productId)!.archived,
          })),
        };
      },
    );
    this.bus.serve<{ cartId: string; orderId: string }, { ok: true }>(
      'cart.checkout.complete',
      async ({ cartId, orderId }) => {
        this.calls.complete++;
        this.take('complete');
        await this.completeGate;
        const cart = this.carts.get(cartId);
        if (!cart) throw new AppError(ErrorCode.NOT_FOUND, 'Cart not found');
        if (cart.status !== 'CHECKED_OUT') {
          cart.status = 'CHECKED_OUT';
          cart.checkedOutBy = orderId;
          cart.lines = [];
        }
        return { ok: true };
      },
    );
  }
}
