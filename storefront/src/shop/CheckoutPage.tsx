import { useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useMutation } from '@apollo/client/react';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { useSession } from '../account/session';
import { CartCountdown, Totals } from '../cart/CartPage';
import { useCart } from '../cart/CartContext';
import { ErrorMessage } from '../errors';
import { MyOrdersDocument, PlaceOrderDocument, type AddressInput } from '../gql/graphql';
import { usePageTitle } from '../Layout';

/** The simulated payment provider's tokens (subgraphs/order/src/service/payment.ts): one succeeds, one is declined. */
export const CARDS = [
  { token: 'tok_visa', label: 'Visa ending 4242 (succeeds)' },
  { token: 'tok_chargeDeclined', label: 'Card ending 0002 (declined)' },
] as const;

const COUNTRIES: [string, string][] = [
  ['US', 'United States'],
  ['CA', 'Canada'],
  ['GB', 'United Kingdom'],
  ['IE', 'Ireland'],
  ['DE', 'Germany'],
  ['FR', 'France'],
  ['NL', 'Netherlands'],
  ['ES', 'Spain'],
  ['IT', 'Italy'],
  ['AU', 'Australia'],
];

const newKey = () =>
  typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(36).slice(2)}`;

/**
 * Checkout: shipping address and card, then `placeOrder`. Each attempt carries its own idempotency key; a request
 * that never got an answer (network) is retried with the same key, so it can never charge twice. A declined card
 * leaves the cart as it was.
 */
export function CheckoutPage() {
  usePageTitle('Checkout');
  const { user, loading: sessionLoading } = useSession();
  const cart = useCart();
  const navigate = useNavigate();
  const [placeOrder, { loading }] = useMutation(PlaceOrderDocument, { refetchQueries: [MyOrdersDocument] });
  const [error, setError] = useState<unknown>(null);
  const [address, setAddress] = useState<AddressInput>({
    name: [user?.firstName, user?.lastName].filter(Boolean).join(' '),
    line1: '',
    line2: '',
    city: '',
    postalCode: '',
    country: 'US',
  });
  const [card, setCard] = useState<string>(CARDS[0].token);
  const attempt = useRef<{ key: string; input: string } | null>(null);

  if (sessionLoading) return <p className="page muted">Loading…</p>;
  if (!user)
    return (
      <div className="page stack">
        <h1>Checkout</h1>
        <p className="notice">Please sign in to check out. Your cart comes with you.</p>
        <p>
          <Link className="button button-primary" to="/sign-in">
            Sign in
          </Link>{' '}
          <Link className="button" to="/sign-up">
            Create an account
          </Link>
        </p>
      </div>
    );
  if (cart.expired || !cart.cart || cart.cart.items.length === 0)
    return (
      <div className="page stack">
        <h1>Checkout</h1>
        <p>{cart.expired ? 'Your hold expired, so there is nothing to check out.' : 'Your cart is empty.'}</p>
        <p>
          <Link to="/catalog">Browse the catalog</Link>
        </p>
      </div>
    );
  const current = cart.cart;
  const set = (field: keyof AddressInput) => (e: { target: { value: string } }) =>
    setAddress((a) => ({ ...a, [field]: e.target.value }));
  const fieldError = (field: string) => {
    if (!CombinedGraphQLErrors.is(error)) return undefined;
    const first = error.errors[0];
    return first?.extensions?.field === field || first?.extensions?.field === `shippingAddress.${field}`
      ? first.message
      : undefined;
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    const input = {
      cartId: current.id,
      paymentToken: card,
      shippingAddress: { ...address, line2: address.line2?.trim() || null },
    };
    const text = JSON.stringify(input);
    // Same input after no answer at all: the same key (safe retry). Anything else is a new attempt.
    if (!attempt.current || attempt.current.input !== text) attempt.current = { key: newKey(), input: text };
    setError(null);
    try {
      const { data } = await placeOrder({ variables: { input, idempotencyKey: attempt.current.key } });
      attempt.current = null;
      await cart.refresh();
      void navigate(`/orders/${data!.placeOrder.id}`, { state: { placed: true } });
    } catch (err) {
      // The API answered (declined, out of stock, …): that attempt is over; the next one gets a new key.
      if (CombinedGraphQLErrors.is(err)) attempt.current = null;
      setError(err);
      // A decline changes nothing, but the page shows the cart as the server has it.
      await cart.refresh().catch(() => undefined);
    }
  }

  return (
    <div className="page stack">
      <h1>Checkout</h1>
      <CartCountdown />
      <div className="checkout-layout">
        <form className="form card stack" onSubmit={(e) => void submit(e)} noValidate={false}>
          <fieldset className="stack-sm">
            <legend>Shipping address</legend>
            <Field
              id="name"
              label="Full name"
              value={address.name}
              onChange={set('name')}
              autoComplete="name"
              error={fieldError('name')}
            />
            <Field
              id="line1"
              label="Street address"
              value={address.line1}
              onChange={set('line1')}
              autoComplete="address-line1"
              error={fieldError('line1')}
            />
            <Field
              id="line2"
              label="Apartment, suite (optional)"
              value={address.line2 ?? ''}
              onChange={set('line2')}
              autoComplete="address-line2"
              required={false}
            />
            <div className="field-row">
              <Field
                id="city"
                label="City"
                value={address.city}
                onChange={set('city')}
                autoComplete="address-level2"
                error={fieldError('city')}
              />
              <Field
                id="postal"
                label="Postal code"
                value={address.postalCode}
                onChange={set('postalCode')}
                autoComplete="postal-code"
                maxLength={20}
                error={fieldError('postalCode')}
              />
            </div>
            <div className="field">
              <label htmlFor="country">Country</label>
              <select id="country" value={address.country} onChange={set('country')} autoComplete="country">
                {COUNTRIES.map(([code, name]) => (
                  <option key={code} value={code}>
                    {name}
                  </option>
                ))}
              </select>
            </div>
          </fieldset>
          <fieldset className="stack-sm">
            <legend>Payment</legend>
            <div className="field">
              <label htmlFor="card">Card</label>
              <select id="card" value={card} onChange={(e) => setCard(e.target.value)}>
                {CARDS.map((c) => (
                  <option key={c.token} value={c.token}>
                    {c.label}
                  </option>
                ))}
              </select>
              <p className="hint">This shop uses a simulated payment provider: no real money moves.</p>
            </div>
          </fieldset>
          <ErrorMessage error={error} />
          <button type="submit" className="button button-primary button-block" disabled={loading}>
            {loading ? 'Placing your order…' : 'Place order'}
          </button>
        </form>
        <aside className="card summary stack-sm" aria-labelledby="order-summary-heading">
          <h2 id="order-summary-heading" className="h-small">
            Your order
          </h2>
          <ul className="summary-lines">
            {current.items.map((i) => (
              <li key={i.product.id}>
                <span>
                  {i.quantity} × {i.product.name}
                </span>
                <span>{i.lineTotal.formatted}</span>
              </li>
            ))}
          </ul>
          <Totals cart={current} />
          <Link to="/cart">Change your cart</Link>
        </aside>
      </div>
    </div>
  );
}

function Field(props: {
  id: string;
  label: string;
  value: string;
  onChange: (e: { target: { value: string } }) => void;
  autoComplete?: string;
  maxLength?: number;
  required?: boolean;
  error?: string;
}) {
  const { id, label, error, required = true, ...rest } = props;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        {...rest}
        maxLength={rest.maxLength ?? 200}
        required={required}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
      />
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}
