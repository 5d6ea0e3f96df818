import { AppError, badInput, ErrorCode, forbidden, notFound } from '@shop/kernel';
import type { CartCommands } from '../events/commands';
import type { CartReads } from './reads';
import { checkId, effective } from './state';
import type { CartDeps, CartWrites } from './writes';

type Begin = CartCommands['cart.checkout.begin'];
type Complete = CartCommands['cart.checkout.complete'];

/** The two commands the order subgraph's checkout saga sends (`cart.checkout.*`, see ../events/commands.ts). */
export class CartCheckout {
  constructor(
    private readonly deps: CartDeps,
    private readonly writes: CartWrites,
    private readonly reads: CartReads,
  ) {}

  /**
   * `cart.checkout.begin`: the cart priced as it stands, for its owner only, from the price directory (the product's
   * commit checks those prices under its lock). Each line carries the product's name and archived flag from the same
   * answer that priced it, so the order snapshots them without asking again.
   */
  async beginCheckout(req: Begin['req']): Promise<Begin['res']> {
    const cartId = checkId('cartId', req?.cartId);
    if (typeof req.userId !== 'string' || !req.userId) throw badInput('userId', 'userId is required');
    const stored = await this.deps.store.get(cartId);
    if (!stored) throw notFound('Cart');
    if (stored.userId !== req.userId)
      throw forbidden(
        stored.userId ? 'This cart belongs to another account' : 'Sign in and merge this guest cart first',
      );
    const cart = effective(stored);
    if (cart.status === 'EXPIRED')
      throw new AppError(ErrorCode.CART_EXPIRED, 'The cart expired; its items were released');
    if (cart.status === 'CHECKED_OUT' || !cart.lines.length)
      throw new AppError(ErrorCode.CART_EMPTY, 'The cart is empty');
    const { view, infos } = await this.reads.priceForCheckout(cart);
    if (view.items.length !== cart.lines.length) throw notFound('Product');
    return {
      cartId,
      status: 'ACTIVE',
      currency: view.currency,
      expiresAt: new Date(cart.expiresAt!).toISOString(),
      lines: view.items.map((i) => ({
        productId: i.productId,
        quantity: i.quantity,
        unitPrice: i.unitPrice,
        discountPercent: i.discountPercent,
        productName: infos.get(i.productId)!.name,
        archived: infos.get(i.productId)!.archived,
      })),
    };
  }

  /**
   * `cart.checkout.complete`: the order is placed — the cart becomes CHECKED_OUT and empty; leftover holds are
   * released. `sold` (optional) is what the order's stock commit sold: when it is exactly the cart's lines, that
   * commit already consumed every hold of the cart and the release is skipped. Idempotent.
   */
  async completeCheckout(req: Complete['req']): Promise<Complete['res']> {
    const cartId = checkId('cartId', req?.cartId);
    if (typeof req.orderId !== 'string' || !req.orderId) throw badInput('orderId', 'orderId is required');
    return this.writes.withLockedCart(cartId, async (cart, lock) => {
      if (!cart) throw notFound('Cart');
      if (cart.status === 'CHECKED_OUT') return { ok: true as const };
      // Holds the order did not convert (a line added after checkout began) go back now rather than at the deadline.
      if (!soldExactly(cart.lines, req.sold))
        await this.deps.products
          .release({ cartId })
          .catch((err) =>
            this.deps.logger.warn({ err, cartId }, 'releasing leftover holds failed; they lapse at the deadline'),
          );
      await this.writes.dropCharge(cart);
      cart.status = 'CHECKED_OUT';
      cart.lines = [];
      cart.expiresAt = null;
      cart.heldSince = null;
      cart.chargedTo = null;
      cart.orderId = req.orderId;
      await this.writes.commit(cart, 'checked_out', lock);
      return { ok: true as const };
    });
  }
}

/** The sold lines are exactly the cart's (same products, same quantities); false when `sold` is absent or malformed. */
function soldExactly(lines: { productId: string; quantity: number }[], sold: unknown): boolean {
  if (!Array.isArray(sold) || sold.length !== lines.length) return false;
  const want = new Map(lines.map((l) => [l.productId, l.quantity]));
  return sold.every(
    (l: unknown) =>
      typeof l === 'object' &&
      l !== null &&
      want.get((l as { productId: unknown }).productId as string) === (l as { quantity: unknown }).quantity,
  );
}
