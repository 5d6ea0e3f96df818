import { spawn, ChildProcess } from 'node:child_process';
import net from 'node:net';

/**
 * Whether a TCP server on 127.0.0.1:`port` answers like the expected one: optionally sends `send` on connect, then
 * checks the first bytes it writes back start with `expect` (NATS greets with INFO, Redis answers PING with +PONG).
 */
export function answers(port: number, expect: string, send?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500);
    if (send) s.once('connect', () => s.write(send));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith(expect));
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/**
 * A server binary a test starts, stops (with `stopSignal`) and starts again on the same port and data: `start()`
 * returns once `ready()` says so (10 s at most), `stop()` once the process has exited. Both are no-ops when already done.
 */
export function serverProcess(opts: {
  name: string;
  bin: string;
  args: string[];
  ready: () => Promise<boolean>;
  stopSignal: NodeJS.Signals;
}) {
  let proc: ChildProcess | undefined;
  return {
    async start(): Promise<void> {
      if (proc) return;
      proc = spawn(opts.bin, opts.args, { stdio: 'ignore' });
      const until = Date.now() + 10_000;
      while (!(await opts.ready())) {
        if (Date.now() > until) throw new Error(`${opts.name} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(): Promise<void> {
      const p = proc;
      if (!p) return;
      proc = undefined;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill(opts.stopSignal);
      });
    },
  };
}
