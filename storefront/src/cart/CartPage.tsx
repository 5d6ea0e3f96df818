import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { Link } from 'react-router-dom';
import { useSession } from '../account/session';
import { ErrorMessage } from '../errors';
import type { CartViewFragment } from '../gql/graphql';
import { usePageTitle } from '../Layout';
import { Thumbnail } from '../shop/ProductImage';
import { useCart } from './CartContext';

/** Seconds as m:ss ("9:58"), the way a countdown reads. */
export function formatCountdown(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The hold's live countdown (from the cartTimer subscription; the cart's own figure until the first tick). */
export function CartCountdown() {
  const { cart, countdown } = useCart();
  const seconds = countdown?.secondsRemaining ?? cart?.secondsRemaining ?? 0;
  if (!cart || !cart.items.length || cart.status !== 'ACTIVE') return null;
  return (
    <p className={`countdown ${seconds <= 60 ? 'countdown-urgent' : ''}`}>
      Your items are held for you for{' '}
      <span role="timer" aria-label="Time left to check out" className="countdown-time">
        {formatCountdown(seconds)}
      </span>
      <span className="muted"> — check out before the time runs out.</span>
      {/* The timer itself is not announced every second; the last minute is, once. */}
      <span className="visually-hidden" aria-live="polite">
        {seconds <= 60 ? 'Less than a minute left to check out.' : ''}
      </span>
    </p>
  );
}

/** The cart: lines with quantities and prices, totals, the live countdown, or the "hold expired" state. */
export function CartPage() {
  usePageTitle('Cart');
  const { user } = useSession();
  const cart = useCart();

  if (cart.expired) return <HoldExpired />;
  if (cart.loading && !cart.cart) return <p className="page muted">Loading your cart…</p>;
  const lines = cart.cart?.items ?? [];
  if (!cart.cart || lines.length === 0)
    return (
      <div className="page stack">
        <h1>Your cart</h1>
        <p>Your cart is empty.</p>
        <p>
          <Link className="button button-primary" to="/catalog">
            Browse the catalog
          </Link>
        </p>
      </div>
    );

  return (
    <div className="page stack">
      <h1>Your cart</h1>
      <CartCountdown />
      <div className="cart-layout">
        <ul className="cart-lines" aria-label="Items in your cart">
          {lines.map((line) => (
            <CartLine key={line.product.id} line={line} />
          ))}
        </ul>
        <aside className="card summary stack-sm" aria-labelledby="summary-heading">
          <h2 id="summary-heading" className="h-small">
            Summary
          </h2>
          <Totals cart={cart.cart} />
          {user ? (
            <Link className="button button-primary button-block" to="/checkout">
              Check out
            </Link>
          ) : (
            <>
              <p className="muted">Sign in or create an account to check out; your cart comes with you.</p>
              <Link className="button button-primary button-block" to="/sign-in">
                Sign in to check out
              </Link>
              <Link className="button button-block" to="/sign-up">
                Create an account
              </Link>
            </>
          )}
        </aside>
      </div>
    </div>
  );
}

export function Totals({ cart }: { cart: CartViewFragment }) {
  return (
    <dl className="totals">
      <div>
        <dt>Subtotal</dt>
        <dd>{cart.subtotal.formatted}</dd>
      </div>
      {cart.discountTotal.amount > 0 && (
        <div className="deal">
          <dt>Deals</dt>
          <dd>−{cart.discountTotal.formatted}</dd>
        </div>
      )}
      <div className="total">
        <dt>Total</dt>
        <dd>{cart.total.formatted}</dd>
      </div>
    </dl>
  );
}

function CartLine({ line }: { line: CartViewFragment['items'][number] }) {
  const cart = useCart();
  const name = line.product.name;
  const [value, setValue] = useState(String(line.quantity));
  const [shown, setShown] = useState(line.quantity);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // The server's quantity wins whenever it changes (another tab, a merge): state resets during render.
  if (shown !== line.quantity) {
    setShown(line.quantity);
    setValue(String(line.quantity));
  }

  async function run(change: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await change();
    } catch (err) {
      setError(err);
      setValue(String(line.quantity));
    } finally {
      setBusy(false);
    }
  }

  function commit() {
    const n = Number.parseInt(value, 10);
    if (!Number.isInteger(n) || n < 0 || n === line.quantity) return setValue(String(line.quantity));
    void run(() => cart.setQuantity(line.product.id, n));
  }

  function onKey(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === 'Enter') {
      e.preventDefault();
      commit();
    }
  }

  return (
    <li className="cart-line card">
      <Thumbnail image={line.product.images[0]} alt="" />
      <div className="cart-line-main stack-sm">
        <h3 className="card-title">
          <Link to={`/products/${line.product.id}`}>{name}</Link>
        </h3>
        <p className="muted">
          {line.unitPrice.formatted} each
          {line.discountPercent > 0 && <span className="badge">−{line.discountPercent}% deal</span>}
        </p>
        <div className="cart-line-controls">
          <div className="field field-inline">
            <label htmlFor={`qty-${line.product.id}`}>
              Quantity<span className="visually-hidden"> for {name}</span>
            </label>
            <input
              id={`qty-${line.product.id}`}
              aria-label={`Quantity for ${name}`}
              type="number"
              inputMode="numeric"
              min={0}
              max={99}
              value={value}
              disabled={busy}
              onChange={(e) => setValue(e.target.value)}
              onBlur={commit}
              onKeyDown={onKey}
            />
          </div>
          <button
            type="button"
            className="button button-link"
            disabled={busy}
            onClick={() => void run(() => cart.remove(line.product.id))}
          >
            Remove<span className="visually-hidden"> {name}</span>
          </button>
        </div>
        <ErrorMessage error={error} />
      </div>
      <p className="price line-total">
        <span className="visually-hidden">Line total </span>
        {line.lineTotal.formatted}
      </p>
    </li>
  );
}

/** The hold ran out: the stock went back on the shelves and the cart was emptied. */
function HoldExpired() {
  const cart = useCart();
  const heading = useRef<HTMLHeadingElement>(null);
  // The page changed under the shopper's eyes: move focus to the news so screen readers read it.
  useEffect(() => heading.current?.focus(), []);
  return (
    <div className="page stack">
      <h1 ref={heading} tabIndex={-1}>
        Your hold expired
      </h1>
      <p>
        We held your items for a while, but the time ran out and they went back on the shelves. Your cart is now empty.
      </p>
      <div className="actions">
        <button type="button" className="button button-primary" onClick={() => void cart.startOver()}>
          Start a new cart
        </button>
        <Link className="button" to="/catalog">
          Continue shopping
        </Link>
      </div>
    </div>
  );
}
