import { randomUUID } from 'node:crypto';
import { enqueueEvent } from '@shop/kernel';
import { ORDER_EVENTS, orderPayload, PAYMENT_EVENTS, paymentPayload } from '../../events/payloads';
import { OrderDiscountEntity, OrderEntity, OrderItemEntity, PaymentEntity } from '../../store/entities';
import type { SagaStep } from './saga';
import { CheckoutContext, CheckoutDeps, need } from './context';

/**
 * Step 5, the pivot: ONE transaction writes the order (number `SH-<year>-<6 digits>` from a sequence; PAID when the
 * charge was captured, PENDING when the provider waits for the buyer), its items, its `order_discounts`, the
 * payment (with the client secret while PENDING), the `order.placed` outbox row (+ `payment.succeeded` when paid)
 * and the idempotency key COMPLETED. It commits or leaves nothing behind, so it has no compensation; once it has
 * committed the order stands.
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
        const [{ n }] = await em
          .getConnection()
          .execute(`SELECT nextval('order_number_seq')::text AS n`, [], 'all', em.getTransactionContext());
        const now = new Date();
        const addr = ctx.input.shippingAddress;
        const order = em.create(OrderEntity, {
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
        });
        // The child tables reference orders(id) and the ORM knows no relation between them: the parent goes first.
        await em.flush();
        const items = priced.lines.map((l, position) =>
          em.create(OrderItemEntity, {
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
        for (const l of priced.lines) {
          if (l.discountPercent > 0)
            em.create(OrderDiscountEntity, {
              orderId: ctx.orderId,
              productId: l.productId,
              percent: l.discountPercent,
              amountSaved: l.amountSaved,
            });
        }
        const payment = em.create(PaymentEntity, {
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
        });
        enqueueEvent(em, ORDER_EVENTS.placed, orderPayload(order, items));
        if (paid.status === 'CAPTURED') enqueueEvent(em, PAYMENT_EVENTS.succeeded, paymentPayload(order, payment));
        await em.flush();
        await keys.completeIn(em, ctx.userId, ctx.key, ctx.orderId);
        return order;
      });
    },
  };
}
