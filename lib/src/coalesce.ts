import { Socket } from 'node:net';
import type { NatsConnection } from 'nats';
import type { Redis } from 'ioredis';

const coalesced = new WeakSet<Socket>();

/**
 * Sends what is written to `socket` in one turn of the event loop as one system call, at the end of that turn.
 *
 * A subgraph's WebSocket to the gateway multiplexes every subscription of that gateway: 10,000 countdowns are 10,000
 * frames a second on one socket, and `ws` writes each frame as it is sent — one `writev` per event, about a third of
 * the cart subgraph's CPU and as many reads on the gateway's side. Corked until `setImmediate`, the frames of one
 * tick leave together (the kernel's Nagle is off: Node sets TCP_NODELAY). The added delay is the rest of the current
 * turn, never a timer. `ws` corks around each frame itself; corks nest, so its uncork does not flush ours.
 */
export function coalesceWrites(socket: Socket): void {
  if (coalesced.has(socket)) return;
  coalesced.add(socket);
  let corked = false;
  const flush = () => {
    corked = false;
    if (!socket.destroyed) socket.uncork();
  };
  const write = socket.write;
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    return write.apply(this, args);
  } as Socket['write'];
}

/**
 * `coalesceWrites` on a NATS connection's socket, and on each socket a reconnect dials. nats.js already gathers what is
 * sent in one microtask run into one write; but a busy service sends its replies, requests, publishes and acks from
 * many I/O callbacks of the same turn (a PostgreSQL answer here, a Redis answer there), one write each. Gathered per
 * turn, the product, cart and order subgraphs made about a third fewer writes per checkout (bench/README.md, tenth
 * round). nats.js keeps the socket on its transport (not public API; without it this does nothing).
 */
export function coalesceNatsWrites(nc: NatsConnection): void {
  const apply = () => {
    const socket = (nc as unknown as { protocol?: { transport?: { socket?: unknown } } }).protocol?.transport?.socket;
    if (socket instanceof Socket) coalesceWrites(socket);
  };
  apply();
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'reconnect') apply();
  })();
}

/** `coalesceWrites` on an ioredis client's socket, on every (re)connect: commands of one turn leave in one write. */
export function coalesceRedisWrites(redis: Redis): void {
  const apply = () => {
    const socket = (redis as unknown as { stream?: unknown }).stream;
    if (socket instanceof Socket) coalesceWrites(socket);
  };
  redis.on('connect', apply);
  apply();
}
