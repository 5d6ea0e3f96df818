import { AppError, badInput, ErrorCode, forbidden, Identity, isUuid } from '@shop/kernel';
import type { CartRecord } from '../store/cart.store';

/** Pure rules about a cart as it stands: ids, lazy expiry, the countdown, who may use it. */

export function checkId(field: string, value: unknown): string {
  if (!isUuid(value)) throw badInput(field, `${field} must be an id (UUID)`);
  return value.toLowerCase();
}

/** A cart whose deadline passed is EXPIRED and empty, whether or not the sweeper got to it yet. */
export function effective(cart: CartRecord, now = Date.now()): CartRecord {
  if (cart.status === 'ACTIVE' && cart.expiresAt !== null && cart.expiresAt <= now) {
    return { ...cart, status: 'EXPIRED', lines: [], expiresAt: null };
  }
  return cart;
}

export function secondsRemaining(cart: CartRecord, now = Date.now()): number {
  return cart.status === 'ACTIVE' && cart.expiresAt ? Math.max(0, Math.ceil((cart.expiresAt - now) / 1000)) : 0;
}

/** Guest carts are anyone's who has the id; a user's cart is that user's and admins'. */
export function authorize(identity: Identity, cart: CartRecord): void {
  if (cart.userId && cart.userId !== identity.userId && identity.role !== 'ADMIN') {
    throw forbidden('This cart belongs to another account');
  }
}

/** A change refused by an anti-hoarding bound: `extensions.limit` names it, `extensions.max` is its value. */
export function overLimit(limit: 'cartUnits' | 'addressUnits', max: number, message: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { field: 'quantity', limit, max });
}

export const unitsOf = (lines: { quantity: number }[]) => lines.reduce((n, l) => n + l.quantity, 0);
