import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './harness';

/**
 * A NATS server (with JetStream, file storage) of a test's own, on a free port, that the test may stop and start
 * again — fault tests must never stop the machine's shared server, which other test runs use.
 */
export interface PrivateNats {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and deletes its storage. */
  dispose(): Promise<void>;
}

const NATS_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

async function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500);
    s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('INFO')); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

export async function startPrivateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nats-'));
  let proc: ChildProcess | undefined;

  const start = async () => {
    if (proc) return;
    proc = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
    const until = Date.now() + 10_000;
    while (!(await greets(port))) {
      if (Date.now() > until) throw new Error(`private nats-server on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const p = proc;
    if (!p) return;
    proc = undefined;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    start,
    stop,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
