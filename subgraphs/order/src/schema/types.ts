import { Directive, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { connectionTypes, Money, ProductRef } from '@shop/kernel';

export enum OrderStatus {
  PENDING = 'PENDING',
  PAID = 'PAID',
  SHIPPED = 'SHIPPED',
  DELIVERED = 'DELIVERED',
  CANCELLED = 'CANCELLED',
  PAYMENT_FAILED = 'PAYMENT_FAILED',
}
registerEnumType(OrderStatus, {
  name: 'OrderStatus',
  description:
    'Where an order is in its life. Legal changes: PENDING→PAID/PAYMENT_FAILED/CANCELLED, PAID→SHIPPED/CANCELLED, SHIPPED→DELIVERED.',
  valuesConfig: {
    PENDING: {
      description:
        'Placed, payment not settled yet (e.g. 3-D Secure: `payment.clientSecret` lets the page finish it; the provider confirms it).',
    },
    PAID: { description: 'Paid; stock is sold to it. Orders whose payment goes through at once start here.' },
    SHIPPED: { description: 'Handed to the carrier; can no longer be cancelled.' },
    DELIVERED: { description: 'Arrived (final).' },
    CANCELLED: { description: 'Cancelled: stock returned, payment refunded (final).' },
    PAYMENT_FAILED: { description: 'The payment did not go through after placement; stock returned (final).' },
  },
});

@ObjectType({ description: 'A postal address.' })
export class Address {
  @Field({ description: 'Recipient name.' })
  name!: string;
  @Field({ description: 'Street and number.' })
  line1!: string;
  @Field(() => String, { nullable: true, description: 'Apartment, suite, building (optional).' })
  line2!: string | null;
  @Field({ description: 'City or town.' })
  city!: string;
  @Field({ description: 'Postal or ZIP code.' })
  postalCode!: string;
  @Field({ description: 'ISO-3166 alpha-2 country code, e.g. US.' })
  country!: string;
}

@InputType({
  description: 'A postal address. Required fields are non-empty, at most 200 characters (postalCode at most 20).',
})
export class AddressInput {
  @Field({ description: 'Recipient name.' })
  name!: string;
  @Field({ description: 'Street and number.' })
  line1!: string;
  @Field(() => String, { nullable: true, description: 'Apartment, suite, building (optional).' })
  line2?: string | null;
  @Field({ description: 'City or town.' })
  city!: string;
  @Field({ description: 'Postal or ZIP code (at most 20 characters).' })
  postalCode!: string;
  @Field({ description: 'ISO-3166 alpha-2 country code, e.g. US (case-insensitive).' })
  country!: string;
}

@InputType({ description: 'What placeOrder needs.' })
export class PlaceOrderInput {
  @Field(() => ID, { description: "The signed-in user's cart to buy (guest carts must be merged first)." })
  cartId!: string;
  @Field(() => AddressInput, { description: 'Where to ship.' })
  shippingAddress!: AddressInput;
  @Field({
    description:
      'Payment method from the payment provider: Stripe, a PaymentMethod id (`pm_…`, from Stripe.js); the simulated provider, tok_visa (succeeds) or tok_chargeDeclined (declined).',
  })
  paymentToken!: string;
}

@ObjectType({ description: 'One purchased product, priced as it was when the order was placed.' })
export class OrderItem {
  @Field(() => ProductRef, { description: 'The product (current catalog data, from the product subgraph).' })
  product!: ProductRef;
  @Field({ description: 'Product name at the time of purchase.' })
  productName!: string;
  @Field(() => Int, { description: 'Units bought.' })
  quantity!: number;
  @Field(() => Money, { description: 'List price per unit at the time of purchase, before the discount.' })
  unitPrice!: Money;
  @Field(() => Int, { description: 'Deal discount in percent (0 when none), applied per unit and rounded half up.' })
  discountPercent!: number;
  @Field(() => Money, { description: 'quantity × (unitPrice − discount per unit).' })
  lineTotal!: Money;
}

@ObjectType({ description: 'How an order was paid.' })
export class Payment {
  @Field({ description: 'Payment provider: "simulated" or "stripe".' })
  provider!: string;
  @Field({
    description:
      'PENDING (the buyer must act, e.g. 3-D Secure, or the provider is processing), CAPTURED, FAILED, REFUNDED or VOIDED.',
  })
  status!: string;
  @Field(() => String, {
    nullable: true,
    description: "The provider's reference of the charge (Stripe: the PaymentIntent id).",
  })
  reference!: string | null;
  @Field(() => String, {
    nullable: true,
    description:
      "While PENDING: the provider's client secret the page passes to its SDK to finish the payment (Stripe: `stripe.handleNextAction({ clientSecret })`); null otherwise. Only the buyer and admins can read the order.",
  })
  clientSecret!: string | null;
  @Field(() => String, {
    nullable: true,
    description:
      "While PENDING: what the provider asks for next (Stripe's next_action type, e.g. `use_stripe_sdk`, `redirect_to_url`); null while it is only processing, or when settled.",
  })
  nextAction!: string | null;
  @Field(() => Money, { nullable: true, description: 'What was given back so far (null: nothing refunded).' })
  refunded!: Money | null;
}

/** Stub of the user subgraph's entity, extended with the user's orders. */
@Directive('@key(fields: "id")')
@ObjectType('User', { description: 'A person with an account (this subgraph adds their orders).' })
export class OrderUser {
  @Field(() => ID, { description: 'User id.' })
  id!: string;
}

@Directive('@key(fields: "id")')
@ObjectType({ description: 'A placed order.' })
export class Order {
  @Field(() => ID, { description: 'Opaque unique id.' })
  id!: string;
  @Field({ description: 'Human-friendly order number, e.g. SH-2026-000123.' })
  number!: string;
  @Field(() => OrderStatus, { description: 'Current status.' })
  status!: OrderStatus;
  @Field(() => Date, { description: 'When the order was placed.' })
  createdAt!: Date;
}

export const { Edge: OrderEdge, Connection: OrderConnection } = connectionTypes(Order, {
  one: 'order',
  many: 'orders',
  order: 'newest first',
});
