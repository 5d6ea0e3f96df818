import type { RedisPubSub } from 'graphql-redis-subscriptions';
import { Identity, Logger, notFound } from '@shop/kernel';
import type { CartRecord } from '../store/cart.store';
import type { CartService } from './cart.service';
import type { CartView } from './reads';
import { effective, secondsRemaining } from './state';
import type { CartNotifier } from './writes';

/** One `cartTimer` event: the countdown and, when the cart still exists, its priced contents. */
export interface TimerEvent {
  cartId: string;
  status: CartRecord['status'];
  expiresAt: Date | null;
  secondsRemaining: number;
  view: CartView | null;
}

/** A push-based async iterator: events are queued until the subscriber pulls them; closing runs `onClose` once. */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private buffer: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private ending = false;
  private closed = false;

  constructor(
    private readonly onClose: () => void,
    private readonly maxBuffer = 64,
  ) {}

  push(value: T): void {
    if (this.ending || this.closed) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value, done: false });
      return;
    }
    this.buffer.push(value);
    // A slow consumer only loses superseded countdown states, never the last one.
    if (this.buffer.length > this.maxBuffer) this.buffer.shift();
  }

  /** Ends after the queued events are delivered. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    if (!this.buffer.length) this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.buffer = [];
    this.waiting?.({ value: undefined, done: true });
    this.waiting = undefined;
    this.onClose();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length) {
      const value = this.buffer.shift()!;
      if (this.ending && !this.buffer.length) queueMicrotask(() => this.close());
      return Promise.resolve({ value, done: false });
    }
    if (this.closed || this.ending) {
      this.close();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

interface Watch {
  queues: Set<EventQueue<TimerEvent>>;
  subscription: Promise<number>;
  view: CartView | null;
}

interface ChangeMessage {
  cartId: string;
  final?: boolean;
}

/**
 * Countdown subscriptions of this instance. Changes travel through Redis pub/sub (one channel per cart, so every
 * instance hears every change); ticks do NOT: one local timer per instance ticks all its subscribers from the last
 * known state, so a tick costs no message and no Redis read.
 */
export class TimerHub implements CartNotifier {
  private readonly watches = new Map<string, Watch>();
  private ticker: NodeJS.Timeout | undefined;
  /** When the last tick was handed to the subscribers (benchmarks measure delivery lag from it). */
  lastTickAt = 0;
  /** Called at the start of every tick, before any event of it is pushed (benchmarks). */
  onTick: ((at: number) => void) | undefined;

  constructor(
    private readonly pubsub: RedisPubSub,
    private readonly service: CartService,
    private readonly logger: Logger,
    private readonly opts: { tickMs: number; channelPrefix: string },
  ) {}

  private channel(cartId: string): string {
    return `${this.opts.channelPrefix}cart-timer:${cartId}`;
  }

  async changed(cartId: string, opts: { final?: boolean } = {}): Promise<void> {
    const msg: ChangeMessage = { cartId, final: opts.final };
    await this.pubsub.publish(this.channel(cartId), msg);
  }

  /** Number of open subscriptions on this instance (tests, metrics). */
  get size(): number {
    let n = 0;
    for (const w of this.watches.values()) n += w.queues.size;
    return n;
  }

  /** Authorizes, then yields the current state, every change, a tick per period, and the final state (then ends). */
  async subscribe(identity: Identity, cartId: string): Promise<AsyncIterableIterator<TimerEvent>> {
    const cart = await this.service.find(identity, cartId);
    if (!cart) throw notFound('Cart');
    const id = cart.id;
    let watch = this.watches.get(id);
    if (!watch) {
      watch = {
        queues: new Set(),
        view: null,
        subscription: this.pubsub.subscribe(this.channel(id), (m: ChangeMessage) => void this.onChange(m)),
      };
      this.watches.set(id, watch);
    }
    const w = watch;
    const queue: EventQueue<TimerEvent> = new EventQueue(() => this.leave(id, w, queue));
    w.queues.add(queue);
    this.ensureTicker();
    try {
      await w.subscription;
      const view = await this.service.price(cart);
      if (!w.view || w.view.cart.version <= view.cart.version) w.view = view;
      queue.push(this.event(w.view));
      if (w.view.cart.status !== 'ACTIVE') queue.end();
    } catch (err) {
      void queue.return();
      throw err;
    }
    return queue;
  }

  private leave(cartId: string, watch: Watch, queue: EventQueue<TimerEvent>): void {
    watch.queues.delete(queue);
    if (watch.queues.size || this.watches.get(cartId) !== watch) return;
    this.watches.delete(cartId);
    void watch.subscription
      .then((sid) => this.pubsub.unsubscribe(sid))
      .catch((err) => this.logger.warn({ err }, 'unsubscribe failed'));
    if (!this.watches.size && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private async onChange(msg: ChangeMessage): Promise<void> {
    const watch = this.watches.get(msg.cartId);
    if (!watch) return;
    try {
      const cart = msg.final ? null : await this.service.load(msg.cartId);
      if (!cart) {
        for (const q of watch.queues) q.end();
        return;
      }
      const view = await this.service.price(cart);
      // Messages can be handled out of order (each awaits a price lookup); the newest version wins.
      if (watch.view && watch.view.cart.version > view.cart.version) return;
      watch.view = view;
      const ev = this.event(view);
      for (const q of watch.queues) {
        q.push(ev);
        if (view.cart.status !== 'ACTIVE') q.end();
      }
    } catch (err) {
      this.logger.warn({ err, cartId: msg.cartId }, 'cart timer update failed');
    }
  }

  private ensureTicker(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => this.tick(), this.opts.tickMs);
    this.ticker.unref();
  }

  private tick(): void {
    const now = Date.now();
    this.lastTickAt = now;
    this.onTick?.(now);
    for (const watch of this.watches.values()) {
      const cart = watch.view?.cart;
      // Only a running countdown ticks; at 0 the sweeper's final EXPIRED event follows within a second.
      if (!cart || cart.status !== 'ACTIVE' || cart.expiresAt === null || cart.expiresAt + this.opts.tickMs <= now)
        continue;
      const ev = this.event(watch.view!, now);
      for (const q of watch.queues) q.push(ev);
    }
  }

  private event(view: CartView, now = Date.now()): TimerEvent {
    const cart = effective(view.cart, now);
    return {
      cartId: cart.id,
      status: cart.status,
      expiresAt: cart.expiresAt ? new Date(cart.expiresAt) : null,
      secondsRemaining: secondsRemaining(cart, now),
      view: cart === view.cart ? view : { ...view, cart, items: [], subtotal: 0, discountTotal: 0, total: 0 },
    };
  }

  /** Ends every subscription (shutdown). */
  close(): void {
    for (const w of this.watches.values()) for (const q of w.queues) void q.return();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }
}
