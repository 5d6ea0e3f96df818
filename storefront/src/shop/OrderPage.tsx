import { useState } from 'react';
import { Link, useLocation, useParams } from 'react-router-dom';
import { useMutation, useQuery } from '@apollo/client/react';
import { ErrorMessage } from '../errors';
import { CancelOrderDocument, OrderDocument } from '../gql/graphql';
import { usePageTitle } from '../Layout';
import { formatDate, STATUS_WORDS } from './orderStatus';
import { Thumbnail } from './ProductImage';

/** One order: what was bought, where it goes, how it was paid; right after checkout, the confirmation. */
export function OrderPage() {
  const { id = '' } = useParams();
  const location = useLocation();
  const placed = (location.state as { placed?: boolean } | null)?.placed === true;
  const { data, loading, error } = useQuery(OrderDocument, { variables: { id }, fetchPolicy: 'cache-and-network' });
  const [cancel, cancelling] = useMutation(CancelOrderDocument);
  const [confirming, setConfirming] = useState(false);
  const order = data?.order;
  usePageTitle(placed ? 'Thank you for your order' : order ? `Order ${order.number}` : 'Order');

  if (loading && !order) return <p className="page muted">Loading your order…</p>;
  if (!order)
    return (
      <div className="page stack">
        <h1>Order not found</h1>
        <ErrorMessage error={error} />
        <p>
          We could not find that order in your account. <Link to="/orders">See your orders</Link>.
        </p>
      </div>
    );

  const a = order.shippingAddress;
  const cancellable = order.status === 'PENDING' || order.status === 'PAID';
  return (
    <div className="page stack">
      {placed ? (
        <div className="notice success stack-sm">
          <h1>Thank you for your order</h1>
          <p>
            Order <strong>{order.number}</strong> is confirmed. We have emailed you a confirmation.
          </p>
        </div>
      ) : (
        <h1>Order {order.number}</h1>
      )}
      <p>
        {placed && <>Order {order.number} · </>}Placed {formatDate(order.createdAt)} · Status{' '}
        <span className={`status status-${order.status.toLowerCase()}`}>{STATUS_WORDS[order.status]}</span>
      </p>
      <div className="order-layout">
        <section aria-labelledby="items-heading" className="stack-sm">
          <h2 id="items-heading" className="h-small">
            Items
          </h2>
          <ul className="cart-lines">
            {order.items.map((item, i) => (
              <li key={`${item.product.id}-${i}`} className="cart-line card">
                <Thumbnail image={item.product.images[0]} alt="" />
                <div className="cart-line-main">
                  <h3 className="card-title">
                    <Link to={`/products/${item.product.id}`}>{item.productName}</Link>
                  </h3>
                  <p className="muted">
                    {item.quantity} × {item.unitPrice.formatted}
                    {item.discountPercent > 0 && <span className="badge">−{item.discountPercent}% deal</span>}
                  </p>
                </div>
                <p className="price line-total">{item.lineTotal.formatted}</p>
              </li>
            ))}
          </ul>
        </section>
        <aside className="card stack-sm summary">
          <h2 className="h-small">Summary</h2>
          <dl className="totals">
            <div>
              <dt>Subtotal</dt>
              <dd>{order.subtotal.formatted}</dd>
            </div>
            {order.discountTotal.amount > 0 && (
              <div className="deal">
                <dt>Deals</dt>
                <dd>−{order.discountTotal.formatted}</dd>
              </div>
            )}
            <div className="total">
              <dt>Total</dt>
              <dd>{order.total.formatted}</dd>
            </div>
          </dl>
          <h2 className="h-small">Shipping to</h2>
          <address>
            {a.name}
            <br />
            {a.line1}
            {a.line2 && (
              <>
                <br />
                {a.line2}
              </>
            )}
            <br />
            {a.postalCode} {a.city}
            <br />
            {a.country}
          </address>
          {order.payment && (
            <>
              <h2 className="h-small">Payment</h2>
              <p>
                {order.payment.status === 'CAPTURED' ? 'Paid' : order.payment.status.toLowerCase()} (
                {order.payment.provider}
                {order.payment.reference ? `, ${order.payment.reference}` : ''})
              </p>
            </>
          )}
          {cancellable &&
            (confirming ? (
              <div className="stack-sm">
                <p>Cancel this order? The payment will be refunded.</p>
                <div className="actions">
                  <button
                    type="button"
                    className="button"
                    disabled={cancelling.loading}
                    onClick={() =>
                      void cancel({ variables: { id: order.id } })
                        .catch(() => undefined)
                        .finally(() => setConfirming(false))
                    }
                  >
                    Yes, cancel the order
                  </button>
                  <button type="button" className="button button-link" onClick={() => setConfirming(false)}>
                    Keep it
                  </button>
                </div>
              </div>
            ) : (
              <button type="button" className="button button-link" onClick={() => setConfirming(true)}>
                Cancel order
              </button>
            ))}
          <ErrorMessage error={cancelling.error} />
        </aside>
      </div>
      <p>
        <Link to="/orders">All your orders</Link> · <Link to="/catalog">Continue shopping</Link>
      </p>
    </div>
  );
}
