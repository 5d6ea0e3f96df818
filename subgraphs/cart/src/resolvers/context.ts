import type { BaseContext } from '@shop/kernel';
import type { CartService } from '../service/cart.service';
import type { TimerHub } from '../service/timer';

/**
 * Per-request state. No DataLoaders: a cart is one Redis key read by id, and entity references resolve one cart
 * at a time; `cartTimer` subscribes through the hub, which lives here because subscribe functions get only the context.
 */
export interface CartContext extends BaseContext {
  hub: TimerHub;
  carts: CartService;
}

export function makeContext(base: BaseContext, carts: CartService, hub: TimerHub): CartContext {
  return { ...base, hub, carts };
}
