import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
} from 'type-graphql';
import type { GraphQLSchema } from 'graphql';
import { BaseContext, money } from '@shop/kernel';
import { Cart, CartStatus, CartTimerEvent } from '../schema/types';
import type { CartService } from '../service/cart.service';
import type { CartView } from '../service/reads';
import { secondsRemaining } from '../service/state';
import type { TimerEvent } from '../service/timer';
import type { CartRecord } from '../store/cart.store';
import type { CartContext } from './context';

/** The schema's Cart from a priced view. */
export function toCart(view: CartView, now = Date.now()): Cart {
  const { cart, currency } = view;
  return {
    id: cart.id,
    status: cart.status as CartStatus,
    items: view.items.map((i) => ({
      product: { id: i.productId },
      quantity: i.quantity,
      unitPrice: money(i.unitPrice, i.currency),
      discountPercent: i.discountPercent,
      lineTotal: money(i.lineTotal, i.currency),
    })),
    subtotal: money(view.subtotal, currency),
    discountTotal: money(view.discountTotal, currency),
    total: money(view.total, currency),
    expiresAt: cart.expiresAt ? new Date(cart.expiresAt) : null,
    secondsRemaining: secondsRemaining(cart, now),
    adjustments: (cart.adjustments ?? []).map((a) => ({
      product: { id: a.productId },
      requested: a.requested,
      quantity: a.quantity,
    })),
  };
}

export function toTimerEvent(ev: TimerEvent): CartTimerEvent {
  return {
    cartId: ev.cartId,
    status: ev.status as CartStatus,
    expiresAt: ev.expiresAt,
    secondsRemaining: ev.secondsRemaining,
    view: ev.view,
  };
}

/**
 * Every subscriber of a cart gets the same view object on a tick, so the schema's Cart is built once per view and
 * second (money formatting is the costly part), not once per subscriber.
 */
const cartMemo = new WeakMap<CartView, { second: number; cart: Cart }>();
function memoCart(view: CartView): Cart {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  const hit = cartMemo.get(view);
  if (hit && hit.second === second) return hit.cart;
  const cart = toCart(view, now);
  cartMemo.set(view, { second, cart });
  return cart;
}

@Resolver(() => CartTimerEvent)
export class CartTimerEventResolver {
  @FieldResolver(() => Cart, {
    nullable: true,
    description: 'The cart as it stands (lines, prices); null once it is gone (merged into a user cart).',
  })
  cart(@Root() event: CartTimerEvent): Cart | null {
    return event.view ? memoCart(event.view as CartView) : null;
  }
}

@Resolver(() => Cart)
export class CartResolver {
  constructor(private readonly service: CartService) {}

  private async show(cart: CartRecord): Promise<Cart> {
    return toCart(await this.service.price(cart));
  }

  @Query(() => Cart, {
    nullable: true,
    description:
      "A cart by id: any guest cart; a user's cart only for that user or an admin (FORBIDDEN otherwise). Null when unknown.",
  })
  async cart(
    @Arg('id', () => ID, { description: 'Cart id.' }) id: string,
    @Ctx() ctx: BaseContext,
  ): Promise<Cart | null> {
    const cart = await this.service.find(ctx.identity, id);
    return cart ? this.show(cart) : null;
  }

  @Authorized()
  @Query(() => Cart, {
    nullable: true,
    description: "The signed-in user's current cart (possibly EXPIRED or CHECKED_OUT); null when there is none.",
  })
  async myCart(@Ctx() ctx: BaseContext): Promise<Cart | null> {
    const cart = await this.service.myCart(ctx.identity);
    return cart ? this.show(cart) : null;
  }

  @Mutation(() => Cart, {
    description: "Anonymous: a new guest cart. Signed in: the user's active cart, or a new one bound to the user.",
  })
  async createCart(@Ctx() ctx: BaseContext): Promise<Cart> {
    return this.show(await this.service.create(ctx.identity));
  }

  @Mutation(() => Cart, {
    description:
      'Adds units of a product and holds them for CART_HOLD_SECONDS (every change restarts the countdown of the whole cart, ' +
      'but never past its absolute hold lifetime counted from its first hold: CART_HOLD_MAX_SECONDS, signed in CART_HOLD_MAX_SECONDS_USER). ' +
      'INSUFFICIENT_STOCK (extensions.available) when they are not there; BAD_USER_INPUT with extensions.limit "cartUnits" (units per cart) ' +
      'or "addressUnits" (units of all guest carts of one client address) and extensions.max beyond those bounds; ' +
      'CART_EXPIRED once the cart expired; NOT_FOUND for unknown or archived products.',
  })
  async addToCart(
    @Arg('cartId', () => ID, { description: 'Cart id.' }) cartId: string,
    @Arg('productId', () => ID, { description: 'Product id.' }) productId: string,
    @Arg('quantity', () => Int, { description: 'Units to add (1–99; at most 99 per product in a cart).' })
    quantity: number,
    @Ctx() ctx: BaseContext,
  ): Promise<Cart> {
    return this.show(await this.service.addItem(ctx.identity, cartId, productId, quantity));
  }

  @Mutation(() => Cart, {
    description: "Sets a line's quantity (0 removes it and releases its hold). Same errors as addToCart.",
  })
  async updateCartItem(
    @Arg('cartId', () => ID, { description: 'Cart id.' }) cartId: string,
    @Arg('productId', () => ID, { description: 'Product id.' }) productId: string,
    @Arg('quantity', () => Int, { description: 'New quantity (0–99).' }) quantity: number,
    @Ctx() ctx: BaseContext,
  ): Promise<Cart> {
    return this.show(await this.service.setItem(ctx.identity, cartId, productId, quantity));
  }

  @Mutation(() => Cart, { description: 'Removes a line and releases its hold.' })
  async removeFromCart(
    @Arg('cartId', () => ID, { description: 'Cart id.' }) cartId: string,
    @Arg('productId', () => ID, { description: 'Product id.' }) productId: string,
    @Ctx() ctx: BaseContext,
  ): Promise<Cart> {
    return this.show(await this.service.removeItem(ctx.identity, cartId, productId));
  }

  @Authorized()
  @Mutation(() => Cart, {
    description:
      "After sign-in: moves a guest cart's lines into your cart (quantities added, holds moved, capped by the stock — see adjustments). " +
      "The guest cart is deleted. CART_EXPIRED when it expired; FORBIDDEN for another user's cart.",
  })
  async mergeCart(
    @Arg('cartId', () => ID, { description: 'The guest cart id.' }) cartId: string,
    @Ctx() ctx: BaseContext,
  ): Promise<Cart> {
    return this.show(await this.service.merge(ctx.identity, cartId));
  }

  @Subscription(() => CartTimerEvent, {
    description:
      "A cart's countdown: the current state on subscribe, an event on every change, a tick every CART_TIMER_TICK_SECONDS, " +
      'and the final EXPIRED or CHECKED_OUT event (then the stream ends). Same access rule as cart(id).',
    subscribe: ({ args, context }) =>
      (context as CartContext).hub.subscribe((context as CartContext).identity, args.cartId as string),
  })
  cartTimer(
    @Root() event: TimerEvent,
    @Arg('cartId', () => ID, { description: 'Cart id.' }) _cartId: string,
  ): CartTimerEvent {
    return toTimerEvent(event);
  }
}

/**
 * The per-event resolver of `cartTimer` as a plain function, set on the built schema. type-graphql resolves a method's
 * parameters through its argument validation, an async function even with validation off, so every tick's execution
 * went async (a promise per argument, `Promise.all`, graphql-js's `promiseForObject`): ~16 KB and several promises
 * per tick per subscriber (bench/README.md, "Round six"). The event is the root value; the argument is not read here
 * (it chose the cart at subscribe time, where type-graphql's `subscribe` and its access rule still run).
 */
export function plainTimerEventResolver(schema: GraphQLSchema): GraphQLSchema {
  const field = schema.getSubscriptionType()?.getFields().cartTimer;
  if (!field) throw new Error('cartTimer is not in the schema');
  field.resolve = (event: TimerEvent) => toTimerEvent(event);
  return schema;
}

/** Cart is an entity (@key id): other subgraphs may reference it; the same access rule applies. */
export const cartReferenceResolvers = {
  Cart: {
    async __resolveReference(ref: { id: string }, ctx: CartContext): Promise<Cart | null> {
      const cart = await ctx.carts.find(ctx.identity, ref.id);
      return cart ? toCart(await ctx.carts.price(cart)) : null;
    },
  },
};
