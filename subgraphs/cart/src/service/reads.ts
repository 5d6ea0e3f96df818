import { Identity, priceLines, unauthenticated } from '@shop/kernel';
import type { CartRecord, CartStore } from '../store/cart.store';
import type { PricedProduct, PriceDirectory } from './price-directory';
import { authorize, checkId, effective } from './state';

/** A cart line priced with the product's current price and deal. */
export interface PricedItem {
  productId: string;
  quantity: number;
  unitPrice: number;
  discountPercent: number;
  lineTotal: number;
  currency: string;
}

/** What the schema shows: the cart as it stands now (lazy expiry applied) with its prices. */
export interface CartView {
  cart: CartRecord;
  items: PricedItem[];
  currency: string;
  subtotal: number;
  discountTotal: number;
  total: number;
}

/** Prices the lines with the given product infos (kernel rule); lines of unknown products are left out. */
export function priceCart(cart: CartRecord, infos: Map<string, PricedProduct>, defaultCurrency: string): CartView {
  const currency = cart.currency ?? defaultCurrency;
  const priced = priceLines(
    cart.lines.flatMap((l) => {
      const p = infos.get(l.productId);
      return p
        ? [
            {
              productId: l.productId,
              quantity: l.quantity,
              unitPrice: p.priceAmount,
              discountPercent: p.discountPercent ?? 0,
            },
          ]
        : [];
    }),
  );
  return {
    cart,
    currency,
    items: priced.lines.map((l) => ({
      productId: l.productId,
      quantity: l.quantity,
      unitPrice: l.unitPrice,
      discountPercent: l.discountPercent,
      lineTotal: l.lineTotal,
      currency,
    })),
    subtotal: priced.subtotal,
    discountTotal: priced.discountTotal,
    total: priced.total,
  };
}

/** Reads: carts as they stand now (lazy expiry applied), and their prices. */
export class CartReads {
  constructor(
    protected readonly store: CartStore,
    protected readonly products: PriceDirectory,
    private readonly defaultCurrency: string,
  ) {}

  /** The cart if the caller may see it: guest carts by id, a user's cart by that user or an admin (FORBIDDEN otherwise). */
  async find(identity: Identity, id: string): Promise<CartRecord | null> {
    const cart = await this.store.get(checkId('id', id));
    if (!cart) return null;
    authorize(identity, cart);
    return effective(cart);
  }

  async myCart(identity: Identity): Promise<CartRecord | null> {
    if (!identity.userId) throw unauthenticated();
    const id = await this.store.userCartId(identity.userId);
    const cart = id ? await this.store.get(id) : null;
    return cart ? effective(cart) : null;
  }

  /** Raw read without authorization (subscriptions re-read on change after authorizing once). */
  async load(id: string): Promise<CartRecord | null> {
    const cart = await this.store.get(id);
    return cart ? effective(cart) : null;
  }

  /** Prices the lines with the products' current prices and deals (one product.get for the whole cart). */
  async price(cart: CartRecord): Promise<CartView> {
    const list = cart.lines.length ? await this.products.get({ ids: cart.lines.map((l) => l.productId) }) : [];
    return priceCart(cart, new Map(list.map((p) => [p.id, p])), this.defaultCurrency);
  }

  /**
   * The cart priced for checkout, with the products it priced from (the order snapshots their names): from the price
   * directory when it knows them all, so a checkout does not ask the product subgraph again (see ./price-directory).
   */
  async priceForCheckout(cart: CartRecord): Promise<{ view: CartView; infos: Map<string, PricedProduct> }> {
    const list = await this.products.priced(cart.lines.map((l) => l.productId));
    const infos = new Map(list.map((p) => [p.id, p]));
    return { view: priceCart(cart, infos, this.defaultCurrency), infos };
  }
}
