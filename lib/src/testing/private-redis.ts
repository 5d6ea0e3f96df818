import { spawn, ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from './harness';

/**
 * A Redis server of a test's own on a free port, without persistence (a restart keeps nothing, as in production
 * here), that the test may stop and start again — fault tests must never stop the machine's shared server.
 */
export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good. */
  dispose(): Promise<void>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

async function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500);
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    if (proc) return;
    proc = spawn(REDIS_BIN, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const until = Date.now() + 10_000;
    while (!(await pong(port))) {
      if (Date.now() > until) throw new Error(`private redis-server on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const p = proc;
    if (!p) return;
    proc = undefined;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL'); // like a crash: nothing is written anywhere
    });
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, start, stop, dispose: stop };
}
