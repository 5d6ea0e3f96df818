import { Directive, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Money, ProductRef } from '@shop/kernel';

export enum CartStatus {
  ACTIVE = 'ACTIVE',
  EXPIRED = 'EXPIRED',
  CHECKED_OUT = 'CHECKED_OUT',
}
registerEnumType(CartStatus, {
  name: 'CartStatus',
  description: 'Where a cart is in its life.',
  valuesConfig: {
    ACTIVE: { description: 'Open: items can be added; its stock is held until expiresAt.' },
    EXPIRED: {
      description: 'The hold window ran out: the items were released and the cart emptied (final; create a new cart).',
    },
    CHECKED_OUT: { description: 'An order was placed from it (final).' },
  },
});

@ObjectType({ description: 'One product in a cart, priced with the current price and deal.' })
export class CartItem {
  @Field(() => ProductRef, { description: 'The product (catalog data from the product subgraph).' })
  product!: ProductRef;
  @Field(() => Int, { description: 'Units in the cart (all of them held for this cart until expiresAt).' })
  quantity!: number;
  @Field(() => Money, { description: 'List price per unit, before the deal discount.' })
  unitPrice!: Money;
  @Field(() => Int, {
    description: "The product's current deal discount in percent; 0 when it is not on the deals list.",
  })
  discountPercent!: number;
  @Field(() => Money, { description: 'quantity × (unitPrice − discount per unit, rounded half up).' })
  lineTotal!: Money;
}

@ObjectType({ description: 'A line mergeCart could not move in full because the stock was not there.' })
export class CartAdjustment {
  @Field(() => ProductRef, { description: 'The product.' })
  product!: ProductRef;
  @Field(() => Int, { description: 'Units the merge asked for (guest cart + your cart).' })
  requested!: number;
  @Field(() => Int, { description: 'Units now in your cart (0 = the line was dropped).' })
  quantity!: number;
}

@Directive('@key(fields: "id")')
@ObjectType({
  description:
    "A shopping cart. Its id is an unguessable capability; a signed-in user's cart is readable only by that user and admins.",
})
export class Cart {
  @Field(() => ID, { description: 'Cart id (keep it secret: whoever has a guest cart id can use the cart).' })
  id!: string;
  @Field(() => CartStatus, { description: 'ACTIVE, EXPIRED or CHECKED_OUT.' })
  status!: CartStatus;
  @Field(() => [CartItem], { description: 'The lines, in the order they were added.' })
  items!: CartItem[];
  @Field(() => Money, { description: 'Σ quantity × unitPrice.' })
  subtotal!: Money;
  @Field(() => Money, { description: 'Σ deal discounts (per unit, rounded half up, times the quantity).' })
  discountTotal!: Money;
  @Field(() => Money, { description: 'subtotal − discountTotal: what checkout charges.' })
  total!: Money;
  @Field(() => Date, {
    nullable: true,
    description:
      "When the held stock is released unless the cart changes or is checked out (a change moves it, never past the cart's absolute hold lifetime); null while empty.",
  })
  expiresAt!: Date | null;
  @Field(() => Int, { description: 'Seconds until expiresAt (0 when there is no deadline).' })
  secondsRemaining!: number;
  @Field(() => [CartAdjustment], {
    description: 'In the answer of mergeCart: lines reduced because the stock ran short. Empty otherwise.',
  })
  adjustments!: CartAdjustment[];
}

@ObjectType({
  description:
    "One tick of a cart's countdown: sent on subscribe, on every change, every CART_TIMER_TICK_SECONDS, and on expiry.",
})
export class CartTimerEvent {
  @Field(() => ID, { description: 'The cart.' })
  cartId!: string;
  @Field(() => CartStatus, { description: 'EXPIRED in the final event of an expired cart (the stream then ends).' })
  status!: CartStatus;
  @Field(() => Date, { nullable: true, description: 'The current deadline; null while the cart is empty or ended.' })
  expiresAt!: Date | null;
  @Field(() => Int, { description: 'Seconds left on the countdown.' })
  secondsRemaining!: number;
  /** The cart as it stands: resolved only when selected (see CartTimerEventResolver). */
  view!: unknown;
}
