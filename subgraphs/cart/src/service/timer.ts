import type { RedisPubSub } from 'graphql-redis-subscriptions';
import { Identity, Logger, notFound, PushSink, PushSource } from '@shop/kernel';
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

/**
 * One subscriber's events: queued until pulled (a plain async iterator), or, once a consumer attaches (the kernel's
 * subscription execution, `PushSource`), handed to it as they happen. Closing runs `onClose` once.
 */
export class EventQueue<T> implements AsyncIterableIterator<T>, PushSource<T> {
  private buffer: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private sink: PushSink<T> | undefined;
  private ending = false;
  private closed = false;

  constructor(
    private readonly onClose: () => void,
    /** A slow consumer only loses superseded countdown states, never the last one. */
    readonly maxBacklog = 64,
  ) {}

  attach(sink: PushSink<T>): void {
    this.sink = sink;
    for (const value of this.buffer) sink.push(value);
    this.buffer = [];
    if (this.ending) this.end();
  }

  push(value: T): void {
    if (this.ending || this.closed) return;
    if (this.sink) return this.sink.push(value);
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value, done: false });
      return;
    }
    this.buffer.push(value);
    if (this.buffer.length > this.maxBacklog) this.buffer.shift();
  }

  /** Ends after the queued events are delivered. */
  end(): void {
    this.ending = true;
    if (this.sink) {
      // The consumer holds what is left to deliver: nothing stays here.
      this.sink.end();
      this.close();
    } else if (!this.buffer.length) this.close();
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
  /** The tick slot this cart is in (by its deadline's phase within the period), -1 when in none. */
  slot: number;
  /** secondsRemaining of the last event every subscriber got (a late or stalled loop never sends a second twice). */
  sent: number;
}

/** Resolution of the tick schedule: a cart's tick is due when its countdown's second changes, fired ≤ this late. */
const SLOT_MS = 10;

interface ChangeMessage {
  cartId: string;
  final?: boolean;
}

/**
 * Countdown subscriptions of this instance. Changes travel through Redis pub/sub (one channel per cart, so every
 * instance hears every change); ticks do NOT: one local timer per instance ticks its subscribers from the last
 * known state, so a tick costs no message and no Redis read.
 *
 * Each cart ticks when ITS countdown's second changes (deadline − k periods), not on one instance-wide beat: the
 * displayed seconds are then never stale by up to a period, and 10,000 carts spread their events over the period
 * instead of pushing them in one burst that queues behind itself at the gateway. Carts are kept in `SLOT_MS` slots
 * by their deadline's phase; one timer walks the slots.
 */
export class TimerHub implements CartNotifier {
  private readonly watches = new Map<string, Watch>();
  private readonly slots: Set<Watch>[];
  private ticker: NodeJS.Timeout | undefined;
  /** The next slot the ticker fires, and the time its carts are due (the slot's end). */
  private nextSlot = 0;
  private nextDue = 0;

  constructor(
    private readonly pubsub: RedisPubSub,
    private readonly service: CartService,
    private readonly logger: Logger,
    private readonly opts: { tickMs: number; channelPrefix: string },
  ) {
    this.slots = Array.from({ length: Math.ceil(opts.tickMs / SLOT_MS) }, () => new Set<Watch>());
  }

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
        slot: -1,
        sent: -1,
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
      if (!w.view || w.view.cart.version <= view.cart.version) this.setView(w, view);
      const current = w.view ?? view;
      queue.push(this.event(current));
      if (current.cart.status !== 'ACTIVE') queue.end();
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
    this.unslot(watch);
    void watch.subscription
      .then((sid) => this.pubsub.unsubscribe(sid))
      .catch((err) => this.logger.warn({ err }, 'unsubscribe failed'));
    if (!this.watches.size) this.stopTicker();
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
      this.setView(watch, view);
      const ev = this.event(view);
      watch.sent = ev.secondsRemaining;
      for (const q of watch.queues) {
        q.push(ev);
        if (view.cart.status !== 'ACTIVE') q.end();
      }
    } catch (err) {
      this.logger.warn({ err, cartId: msg.cartId }, 'cart timer update failed');
    }
  }

  /** Records the cart's latest state and files it under the slot of its deadline's phase. */
  private setView(watch: Watch, view: CartView): void {
    watch.view = view;
    const exp = view.cart.status === 'ACTIVE' ? view.cart.expiresAt : null;
    const slot =
      exp === null ? -1 : Math.floor((((exp % this.opts.tickMs) + this.opts.tickMs) % this.opts.tickMs) / SLOT_MS);
    if (slot === watch.slot) return;
    this.unslot(watch);
    watch.slot = slot;
    if (slot >= 0) this.slots[slot].add(watch);
  }

  private unslot(watch: Watch): void {
    if (watch.slot >= 0) this.slots[watch.slot].delete(watch);
    watch.slot = -1;
  }

  private ensureTicker(): void {
    if (this.ticker) return;
    const now = Date.now();
    // The slot whose end is the next slot boundary after now.
    const phase = now % this.opts.tickMs;
    this.nextSlot = Math.floor(phase / SLOT_MS);
    this.nextDue = now - phase + (this.nextSlot + 1) * SLOT_MS;
    this.arm();
  }

  private stopTicker(): void {
    if (this.ticker) clearTimeout(this.ticker);
    this.ticker = undefined;
  }

  private arm(): void {
    this.ticker = setTimeout(() => this.tick(), Math.max(0, this.nextDue - Date.now()));
    this.ticker.unref();
  }

  /** Fires every slot that is due (several when the loop was late), then re-arms for the next slot's end. */
  private tick(): void {
    const now = Date.now();
    // A loop stalled for a whole period or more: every cart once, then back on the schedule (no duplicate ticks).
    if (now - this.nextDue >= this.opts.tickMs) {
      for (const slot of this.slots) this.fire(slot, now);
      this.ticker = undefined;
      if (this.watches.size) this.ensureTicker();
      return;
    }
    while (this.nextDue <= now) {
      this.fire(this.slots[this.nextSlot], now);
      this.nextSlot = (this.nextSlot + 1) % this.slots.length;
      this.nextDue += SLOT_MS;
    }
    if (this.watches.size) this.arm();
    else this.ticker = undefined;
  }

  private fire(slot: Set<Watch>, now: number): void {
    for (const watch of slot) {
      const cart = watch.view?.cart;
      // Only a running countdown ticks; its expiry is not a tick but the sweeper's final EXPIRED event (sent once).
      if (!cart || cart.status !== 'ACTIVE' || cart.expiresAt === null || cart.expiresAt <= now) continue;
      const ev = this.event(watch.view!, now);
      if (ev.secondsRemaining === watch.sent) continue;
      watch.sent = ev.secondsRemaining;
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
    this.stopTicker();
  }
}
