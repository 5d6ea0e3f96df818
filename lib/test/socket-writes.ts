import type { Socket } from 'node:net';

/**
 * Counts the system calls that write to `socket` from now on: the handle's write entry points are where a write
 * becomes one.
 */
export function countWrites(socket: Socket): () => number {
  let n = 0;
  const handle = (socket as Socket & { _handle: Record<string, (...a: unknown[]) => unknown> })._handle;
  for (const name of ['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String']) {
    const original = handle[name].bind(handle);
    handle[name] = (...args: unknown[]) => (n++, original(...args));
  }
  return () => n;
}
