import type { Socket } from 'node:net';

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
