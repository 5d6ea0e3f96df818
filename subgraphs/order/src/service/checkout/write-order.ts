import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { outboxRow, OutboxRow } from '@shop/kernel';
import { ORDER_EVENTS, orderPayload, PAYMENT_EVENTS, paymentPayload } from '../../events/payloads';
import { OrderEntity, OrderItemEntity, PaymentEntity } from '../../store/entities';
import type { SagaStep } from './saga';
import { CheckoutContext, CheckoutDeps, need } from './context';

/**
 * Step 5, the pivot: ONE transaction writes the order (number `SH-<year>-<6 digits>` from a sequence; PAID when the
 * charge was captured, PENDING when the provider waits for the buyer), its items, its `order_discounts`, the
 * payment (with the client secret while PENDING), the `order.placed` outbox row (+ `payment.succeeded` when paid)
 * and the idempotency key COMPLETED. It commits or leaves nothing behind, so it has no compensation; once it has
 * committed the order stands. Its rows go in one plain SQL statement (`insertOrderRows`), not one per table and
 * entity type: this is the hot path of the checkout.
 */
export function writeOrder({ orm, payments, keys }: CheckoutDeps): SagaStep<CheckoutContext> {
  return {
    name: 'write order',
    async run(ctx) {
      const cart = need(ctx.cart, 'the cart');
      const priced = need(ctx.priced, 'the price');
      const buyer = need(ctx.buyer, 'the buyer');
      const paid = need(ctx.charge, 'the charge');
      ctx.order = await orm.em.fork().transactional(async (em) => {
        const conn = em.getConnection();
        const trx = em.getTransactionContext();
        const [{ n }] = await conn.execute(`SELECT nextval('order_number_seq')::text AS n`, [], 'all', trx);
        const now = new Date();
        const addr = ctx.input.shippingAddress;
        const order = Object.assign(new OrderEntity(), {
          id: ctx.orderId,
          number: `SH-${now.getUTCFullYear()}-${String(n).padStart(6, '0')}`,
          userId: ctx.userId,
          status: paid.status === 'CAPTURED' ? 'PAID' : 'PENDING',
          currency: cart.currency,
          subtotal: priced.subtotal,
          discountTotal: priced.discountTotal,
          total: priced.total,
          buyerEmail: buyer.email,
          buyerFirstName: buyer.firstName ?? null,
          shipName: addr.name,
          shipLine1: addr.line1,
          shipLine2: addr.line2 ?? null,
          shipCity: addr.city,
          shipPostalCode: addr.postalCode,
          shipCountry: addr.country,
          cartId: ctx.input.cartId,
          cartCompletedAt: null,
          stockReturnedAt: null,
          createdAt: now,
          updatedAt: now,
        } satisfies Partial<OrderEntity>);
        const items = priced.lines.map((l, position) =>
          Object.assign(new OrderItemEntity(), {
            id: randomUUID(),
            orderId: ctx.orderId,
            position,
            productId: l.productId,
            productName: l.productName,
            quantity: l.quantity,
            unitPrice: l.unitPrice,
            discountPercent: l.discountPercent,
            lineTotal: l.lineTotal,
          }),
        );
        const discounts = priced.lines
          .filter((l) => l.discountPercent > 0)
          .map((l) => ({ productId: l.productId, percent: l.discountPercent, amountSaved: l.amountSaved }));
        const payment = Object.assign(new PaymentEntity(), {
          id: randomUUID(),
          orderId: ctx.orderId,
          provider: payments.name,
          status: paid.status,
          reference: paid.reference,
          amount: priced.total,
          currency: cart.currency,
          clientSecret: paid.action?.clientSecret ?? null,
          nextAction: paid.action?.nextAction ?? null,
          refundedAmount: 0,
          createdAt: now,
          updatedAt: now,
        } satisfies Partial<PaymentEntity>);
        const events = [outboxRow(ORDER_EVENTS.placed, orderPayload(order, items))];
        if (paid.status === 'CAPTURED')
          events.push(outboxRow(PAYMENT_EVENTS.succeeded, paymentPayload(order, payment)));
        await insertOrderRows(em, order, items, discounts, payment, events);
        await keys.completeIn(em, ctx.userId, ctx.key, ctx.orderId);
        return order;
      });
    },
  };
}

/**
 * Every row of a new order in ONE statement: the order, its items, its discounts, its payment and its outbox rows.
 * The children reference the order; their foreign keys are checked at the end of the statement, when the order row
 * is there. Rows travel as JSON and become table rows through `jsonb_populate_record(set)` (columns named).
 */
async function insertOrderRows(
  em: EntityManager,
  o: OrderEntity,
  items: OrderItemEntity[],
  discounts: { productId: string; percent: number; amountSaved: number }[],
  p: PaymentEntity,
  events: OutboxRow[],
): Promise<void> {
  const order = {
    id: o.id,
    number: o.number,
    user_id: o.userId,
    status: o.status,
    currency: o.currency,
    subtotal: o.subtotal,
    discount_total: o.discountTotal,
    total: o.total,
    buyer_email: o.buyerEmail,
    buyer_first_name: o.buyerFirstName,
    ship_name: o.shipName,
    ship_line1: o.shipLine1,
    ship_line2: o.shipLine2,
    ship_city: o.shipCity,
    ship_postal_code: o.shipPostalCode,
    ship_country: o.shipCountry,
    cart_id: o.cartId,
    created_at: o.createdAt,
    updated_at: o.updatedAt,
  };
  const itemRows = items.map((i) => ({
    id: i.id,
    order_id: i.orderId,
    position: i.position,
    product_id: i.productId,
    product_name: i.productName,
    quantity: i.quantity,
    unit_price: i.unitPrice,
    discount_percent: i.discountPercent,
    line_total: i.lineTotal,
  }));
  const discountRows = discounts.map((d) => ({
    order_id: o.id,
    product_id: d.productId,
    percent: d.percent,
    amount_saved: d.amountSaved,
  }));
  const payment = {
    id: p.id,
    order_id: p.orderId,
    provider: p.provider,
    status: p.status,
    reference: p.reference,
    amount: p.amount,
    currency: p.currency,
    client_secret: p.clientSecret,
    next_action: p.nextAction,
    refunded_amount: p.refundedAmount,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
  await em.getConnection().execute(
    `WITH o AS (
      INSERT INTO orders (id, number, user_id, status, currency, subtotal, discount_total, total, buyer_email,
        buyer_first_name, ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country, cart_id,
        created_at, updated_at)
      SELECT id, number, user_id, status, currency, subtotal, discount_total, total, buyer_email,
        buyer_first_name, ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country, cart_id,
        created_at, updated_at
      FROM jsonb_populate_record(NULL::orders, ?::jsonb)
    ), i AS (
      INSERT INTO order_items (id, order_id, position, product_id, product_name, quantity, unit_price,
        discount_percent, line_total)
      SELECT id, order_id, position, product_id, product_name, quantity, unit_price, discount_percent, line_total
      FROM jsonb_populate_recordset(NULL::order_items, ?::jsonb)
    ), d AS (
      INSERT INTO order_discounts (order_id, product_id, percent, amount_saved)
      SELECT order_id, product_id, percent, amount_saved FROM jsonb_populate_recordset(NULL::order_discounts, ?::jsonb)
    ), p AS (
      INSERT INTO payments (id, order_id, provider, status, reference, amount, currency, client_secret, next_action,
        refunded_amount, created_at, updated_at)
      SELECT id, order_id, provider, status, reference, amount, currency, client_secret, next_action,
        refunded_amount, created_at, updated_at
      FROM jsonb_populate_record(NULL::payments, ?::jsonb)
    )
    INSERT INTO outbox (id, subject, payload, created_at, traceparent, tracestate, request_id)
    SELECT id, subject, payload, created_at, traceparent, tracestate, request_id
    FROM jsonb_populate_recordset(NULL::outbox, ?::jsonb)`,
    [
      JSON.stringify(order),
      JSON.stringify(itemRows),
      JSON.stringify(discountRows),
      JSON.stringify(payment),
      JSON.stringify(events),
    ],
    'run',
    em.getTransactionContext(),
  );
}
