import { useEffect, useRef } from 'react';
import './account.css';

/**
 * A line the cart merge after sign-in could not move in full (the stock ran short). The fields the sign-in page reads
 * from `useCart().mergeAfterSignIn()`'s answer (mergeCart's CartAdjustment).
 */
export interface MergeAdjustment {
  product: { id: string; name: string };
  /** Units asked for (guest cart + the user's cart). */
  requested: number;
  /** Units now in the user's cart (0: the line was dropped). */
  quantity: number;
}

/**
 * Shown on the page after sign-in when the guest cart could not be merged in full. It is rendered by the session
 * provider (after the page), so it appears on whatever page the shopper returns to; focus moves to it once so keyboard
 * and screen-reader users meet it first, and "Dismiss" closes it.
 */
export function CartMergeNotice({ adjustments, onDismiss }: { adjustments: MergeAdjustment[]; onDismiss(): void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <aside
      className="notice card stack cart-merge-notice"
      aria-labelledby="cart-merge-heading"
      data-testid="cart-merge-notice"
    >
      <h2 id="cart-merge-heading" tabIndex={-1} ref={heading}>
        Your cart changed when you signed in
      </h2>
      <p>Some items were not in stock in the quantity your carts asked for together:</p>
      <ul>
        {adjustments.map((a) => (
          <li key={a.product.id}>
            {a.product.name}: you asked for {a.requested},{' '}
            {a.quantity === 0 ? 'none could be moved to your cart' : `${a.quantity} moved to your cart`}.
          </li>
        ))}
      </ul>
      <button type="button" className="button" onClick={onDismiss}>
        Dismiss
      </button>
    </aside>
  );
}
