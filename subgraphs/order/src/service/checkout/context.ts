import type { MikroORM } from '@mikro-orm/postgresql';
import type { OutboxRow } from '@shop/kernel';
import type { BuyerInfo, CheckoutCart, Ports } from '../../ports';
import type { OrderEntity } from '../../store/entities';
import type { BuyerDirectory, BuyerRow } from '../buyers';
import type { IdempotencyKeys } from '../idempotency';
import type { Charge, PaymentProvider } from '../payment';
import type { PricedOrder } from '../pricing';
import type { PlaceOrderValue } from '../validation';

/** What the checkout steps use. */
export interface CheckoutDeps {
  orm: MikroORM;
  ports: Ports;
  /** The buyers' contacts (the directory; `user.get` only for one it does not have yet). */
  buyers: BuyerDirectory;
  payments: PaymentProvider;
  keys: IdempotencyKeys;
}

/** One placeOrder attempt: its input, then what each step produced (set by that step, read by the later ones). */
export interface CheckoutContext {
  /** Chosen before anything happens (recorded on the idempotency key row); keys the charge and the stock commit. */
  readonly orderId: string;
  readonly userId: string;
  /** The idempotency key (its row becomes COMPLETED with the order). */
  readonly key: string;
  readonly input: PlaceOrderValue;
  /** The buyer's directory row, read with the idempotency claim (null: the directory has none). */
  readonly buyerRow: BuyerRow | null;
  cart?: CheckoutCart;
  buyer?: BuyerInfo;
  /** Product names to snapshot on the order items. */
  names?: Map<string, string>;
  priced?: PricedOrder;
  charge?: Charge;
  order?: OrderEntity;
  /** The outbox rows the order was written with, as written (published right after the commit). */
  events?: OutboxRow[];
}

/** A value an earlier step must have set (a step order mistake is a bug, not a user error). */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`checkout: ${what} is not known yet (steps out of order)`);
  return value;
}
