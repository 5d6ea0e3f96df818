import { freePort } from './harness';
import { answers, serverProcess } from './server-process';

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

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const server = serverProcess({
    name: `private redis-server on ${port}`,
    bin: REDIS_BIN,
    args: ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    ready: () => answers(port, '+PONG', 'PING\r\n'),
    // Like a crash: nothing is written anywhere.
    stopSignal: 'SIGKILL',
  });
  await server.start();
  return { url: `redis://127.0.0.1:${port}`, port, start: server.start, stop: server.stop, dispose: server.stop };
}
