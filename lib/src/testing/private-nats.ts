import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './harness';
import { answers, serverProcess } from './server-process';

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

export async function startPrivateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nats-'));
  const server = serverProcess({
    name: `private nats-server on ${port}`,
    bin: NATS_BIN,
    args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
    ready: () => answers(port, 'INFO'),
    stopSignal: 'SIGTERM',
  });
  await server.start();
  return {
    url: `nats://127.0.0.1:${port}`,
    start: server.start,
    stop: server.stop,
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
