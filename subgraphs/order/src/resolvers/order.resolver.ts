import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import {
  BaseContext,
  Connection,
  decodeTimeCursor,
  forbidden,
  Money,
  money,
  PageArgs,
  pageSize,
  ProductRef,
  timeCursor,
  toConnection,
  unauthenticated,
} from '@shop/kernel';
import {
  Address,
  Order,
  OrderConnection,
  OrderItem,
  OrderStatus,
  OrderUser,
  Payment,
  PlaceOrderInput,
} from '../schema/types';
import type { OrderService } from '../service/order.service';
import type { OrderEntity } from '../store/entities';
import type { OrderContext } from './context';

/** Only the buyer and admins see an order. */
function canSee(ctx: BaseContext, order: OrderEntity): boolean {
  return ctx.identity.role === 'ADMIN' || (!!ctx.identity.userId && ctx.identity.userId === order.userId);
}

const cursorOf = (o: OrderEntity) => timeCursor(o.createdAt, o.id);

@Resolver(() => Order)
export class OrderResolver {
  constructor(private readonly service: OrderService) {}

  @Authorized()
  @Query(() => Order, {
    nullable: true,
    description:
      'One order, for its buyer or an admin. Null when it does not exist OR belongs to someone else (existence is not revealed).',
  })
  async order(
    @Arg('id', () => ID, { description: 'Order id.' }) id: string,
    @Ctx() ctx: OrderContext,
  ): Promise<OrderEntity | null> {
    const o = await ctx.loaders.order.load(id);
    return o && canSee(ctx, o) ? o : null;
  }

  @Authorized('ADMIN')
  @Query(() => OrderConnection, { description: 'All orders, newest first, optionally of one status (admins only).' })
  async orders(
    @Args(() => PageArgs) { first, after }: PageArgs,
    @Arg('status', () => OrderStatus, { nullable: true, description: 'Only orders with this status.' })
    status: OrderStatus | null,
  ): Promise<Connection<OrderEntity>> {
    const n = pageSize(first);
    const cursor = decodeTimeCursor(after);
    const rows = await this.service.list({ first: n, after: cursor, status });
    return toConnection(rows, n, { cursor: cursorOf, count: () => this.service.count({ status }) });
  }

  @Authorized()
  @Mutation(() => Order, {
    description:
      "Buys the signed-in user's cart: charges the payment method, sells the held stock, empties the cart. The order is PAID, or PENDING when the provider needs the buyer to act (3-D Secure: see `payment.clientSecret`). " +
      "Errors: UNAUTHENTICATED, BAD_USER_INPUT (field named), FORBIDDEN (someone else's or a guest cart), NOT_FOUND, CART_EMPTY, " +
      'CART_EXPIRED, INSUFFICIENT_STOCK, PAYMENT_DECLINED (nothing changes), ' +
      'PRICE_CHANGED (a price or deal in the cart changed just now: nothing is charged or sold; read the cart again, then retry), ' +
      'IDEMPOTENCY_CONFLICT (key reused with a different input).',
  })
  placeOrder(
    @Arg('input', () => PlaceOrderInput, { description: 'Cart, shipping address and payment method.' })
    input: PlaceOrderInput,
    @Arg('idempotencyKey', () => String, {
      description:
        'Client-chosen key (e.g. a UUID per checkout attempt), kept 24 h: the same key and input return the same order, even when sent twice at once.',
    })
    idempotencyKey: string,
    @Ctx() ctx: OrderContext,
  ): Promise<OrderEntity> {
    return this.service.placeOrder(ctx.identity, input, idempotencyKey);
  }

  @Authorized('ADMIN')
  @Mutation(() => Order, {
    description:
      'Moves an order to a new status (admins only). Legal: PENDING→PAID/PAYMENT_FAILED/CANCELLED, PAID→SHIPPED/CANCELLED, SHIPPED→DELIVERED; others are BAD_USER_INPUT (field status). CANCELLED returns the stock and refunds.',
  })
  updateOrderStatus(
    @Arg('id', () => ID, { description: 'Order id.' }) id: string,
    @Arg('status', () => OrderStatus, { description: 'The new status.' }) status: OrderStatus,
  ): Promise<OrderEntity> {
    return this.service.updateStatus(id, status);
  }

  @Authorized()
  @Mutation(() => Order, {
    description:
      "Cancels the signed-in user's order (admins: any order) before it ships: stock returns, the payment is refunded. Cancelling a cancelled order returns it unchanged. Errors: NOT_FOUND, FORBIDDEN (someone else's order), BAD_USER_INPUT (already shipped).",
  })
  cancelOrder(
    @Arg('id', () => ID, { description: 'Order id.' }) id: string,
    @Ctx() ctx: OrderContext,
  ): Promise<OrderEntity> {
    return this.service.cancel(ctx.identity, id);
  }

  @FieldResolver(() => OrderUser, { description: 'The buyer (resolved by the user subgraph).' })
  user(@Root() o: OrderEntity): OrderUser {
    return { id: o.userId };
  }

  @FieldResolver(() => [OrderItem], { description: 'What was bought, in cart order.' })
  async items(@Root() o: OrderEntity, @Ctx() ctx: OrderContext): Promise<OrderItem[]> {
    const rows = await ctx.loaders.items.load(o.id);
    return rows.map((i) => ({
      product: { id: i.productId } as ProductRef,
      productName: i.productName,
      quantity: i.quantity,
      unitPrice: money(i.unitPrice, o.currency),
      discountPercent: i.discountPercent,
      lineTotal: money(i.lineTotal, o.currency),
    }));
  }

  @FieldResolver(() => Money, { description: 'Sum of unit price × quantity before discounts.' })
  subtotal(@Root() o: OrderEntity): Money {
    return money(o.subtotal, o.currency);
  }

  @FieldResolver(() => Money, { description: 'What the deals took off (rounded half up per unit).' })
  discountTotal(@Root() o: OrderEntity): Money {
    return money(o.discountTotal, o.currency);
  }

  @FieldResolver(() => Money, { description: 'What was charged: subtotal − discountTotal.' })
  total(@Root() o: OrderEntity): Money {
    return money(o.total, o.currency);
  }

  @FieldResolver(() => Address, { description: 'Where the order ships.' })
  shippingAddress(@Root() o: OrderEntity): Address {
    return {
      name: o.shipName,
      line1: o.shipLine1,
      line2: o.shipLine2 ?? null,
      city: o.shipCity,
      postalCode: o.shipPostalCode,
      country: o.shipCountry,
    };
  }

  @FieldResolver(() => Payment, { nullable: true, description: 'The payment, if one was taken.' })
  async payment(@Root() o: OrderEntity, @Ctx() ctx: OrderContext): Promise<Payment | null> {
    const p = await ctx.loaders.payment.load(o.id);
    if (!p) return null;
    const pending = p.status === 'PENDING';
    return {
      provider: p.provider,
      status: p.status,
      reference: p.reference ?? null,
      clientSecret: pending ? (p.clientSecret ?? null) : null,
      nextAction: pending ? (p.nextAction ?? null) : null,
      refunded: p.refundedAmount > 0 ? money(p.refundedAmount, p.currency) : null,
    };
  }
}

@Resolver(() => OrderUser)
export class OrderUserResolver {
  @Authorized()
  @FieldResolver(() => OrderConnection, {
    description:
      "The user's orders, newest first. Visible to that user and to admins only: anyone else gets FORBIDDEN.",
  })
  async orders(
    @Root() user: OrderUser,
    @Args(() => PageArgs) { first, after }: PageArgs,
    @Ctx() ctx: OrderContext,
  ): Promise<Connection<OrderEntity>> {
    if (!ctx.identity.userId) throw unauthenticated();
    if (ctx.identity.role !== 'ADMIN' && ctx.identity.userId !== user.id)
      throw forbidden('Only the user and admins can see these orders');
    const n = pageSize(first);
    const cursor = decodeTimeCursor(after) ?? null;
    const rows = await ctx.loaders.userOrders.load(JSON.stringify([user.id, n, cursor]));
    return toConnection(rows, n, { cursor: cursorOf, count: () => ctx.loaders.userOrderCount.load(user.id) });
  }
}

/** Federation entry points (batched): Order references get the same visibility as `order(id)`; User is a stub. */
export const orderReferenceResolvers = {
  Order: {
    async __resolveReference(ref: { id: string }, ctx: OrderContext) {
      const o = await ctx.loaders.order.load(ref.id);
      return o && canSee(ctx, o) ? o : null;
    },
  },
  User: {
    __resolveReference(ref: { id: string }) {
      return { id: ref.id };
    },
  },
};
