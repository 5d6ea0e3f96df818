import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { Bus, createLogger, HttpDrain, onShutdownSignals, startSubgraphServer } from '../src';
import { createTestEnv, TestEnv } from '../src/testing';

/**
 * The drain every process runs at shutdown (lib/src/shutdown.ts): in-flight requests finish, new connections are
 * refused, idle keep-alive sockets close, the grace bounds it all; NATS handlers in flight finish before the
 * connection drains; the signal handler's order and exit codes.
 */
const logger = createLogger('shutdown-test', 'silent');

/** A server whose `/slow` answers when the test says so (`release`), and `/fast` at once. */
async function slowServer() {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const slowArrived = new Promise<void>((r) => (arrived = r));
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') {
      arrived();
      void released.then(() => res.end('slow done'));
    } else res.end('fast');
  });
  server.keepAliveTimeout = 65_000;
  const drain = new HttpDrain(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { server, drain, port, release, slowArrived };
}

/** One request on a fresh socket (no pooling): resolves with status and body, or the socket error's code. */
function get(
  port: number,
  path: string,
  agent?: http.Agent,
): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('HttpDrain', () => {
  test('an in-flight request finishes; new connections are refused; an idle keep-alive socket closes at once', async () => {
    const { drain, port, release, slowArrived } = await slowServer();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    // An idle kept-alive socket: the agent keeps it after this answer.
    expect(await get(port, '/fast', agent)).toEqual({ status: 200, body: 'fast' });
    const idle = [...Object.values(agent.freeSockets).flat()][0]!;
    const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
    const slow = get(port, '/slow');
    await slowArrived;
    expect(drain.inFlight).toBe(1);

    const drained = drain.drain(10_000);
    await idleClosed; // closed by the server without waiting for the slow request
    expect(await connectRefused(port)).toBe(true);
    release();
    expect(await slow).toEqual({ status: 200, body: 'slow done' });
    expect(await drained).toBe(true);
    expect(drain.connections).toBe(0);
    agent.destroy();
  });

  test('the grace bounds the drain: a request that never ends is cut off and the drain reports it', async () => {
    const { drain, port, release, slowArrived } = await slowServer();
    const slow = get(port, '/slow');
    await slowArrived;
    expect(await drain.drain(300)).toBe(false);
    expect((await slow).error).toBe('ECONNRESET');
    expect(drain.connections).toBe(0);
    release();
  });

  test('with no grace (tests, stack.stop()) everything closes at once and that is no failure', async () => {
    const { drain, port } = await slowServer();
    const agent = new http.Agent({ keepAlive: true });
    expect((await get(port, '/fast', agent)).status).toBe(200);
    expect(await drain.drain()).toBe(true);
    expect(drain.connections).toBe(0);
    agent.destroy();
  });
});

describe('subgraph server', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(() => env?.cleanup());

  test('/ready turns 503 "shutting down" at once while requests are still served; stop drains the slow one', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const slowArrived = new Promise<void>((r) => (arrived = r));
    const server = await startSubgraphServer({
      name: 'user',
      config: env.config,
      keys: env.keys,
      logger,
      port: 0,
      schema: buildSchema('type Query { ok: Boolean }'),
      context: (base) => base,
      readiness: [{ name: 'nothing', check: async () => true }],
      routes: (app) =>
        app.get('/slow', (_req, res) => {
          arrived();
          void released.then(() => res.json({ done: true }));
        }),
    });
    const origin = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${origin}/ready`)).status).toBe(200);
    const slow = get(server.port, '/slow');
    await slowArrived;

    server.beginShutdown();
    const ready = await fetch(`${origin}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'shutting down', service: 'user' });
    expect((await fetch(`${origin}/health`)).status).toBe(200); // still serving

    const stopped = server.stop({ graceMs: 10_000 });
    expect(await connectRefused(server.port)).toBe(true);
    release();
    expect(await slow).toEqual({ status: 200, body: '{"done":true}' });
    expect(await stopped).toBe(true);
  });

  test('NATS: a command handler in flight at close still answers; the connection drains after it', async () => {
    const server = await Bus.connect(env.config, logger);
    const client = await Bus.connect(env.config, logger);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const handlerArrived = new Promise<void>((r) => (arrived = r));
    server.serve<{ n: number }, { n: number }>('shutdown.slow', async ({ n }) => {
      arrived();
      await released;
      return { n: n + 1 };
    });
    await server.nc.flush();
    const answer = client.request<{ n: number }, { n: number }>('shutdown.slow', { n: 1 }, 10_000);
    await handlerArrived;
    expect(server.handlersInFlight).toBe(1);
    const closed = server.close({ graceMs: 10_000 });
    setTimeout(release, 200);
    expect(await answer).toEqual({ n: 2 });
    await closed;
    expect(server.nc.isClosed()).toBe(true);
    await client.close();
  });
});

describe('onShutdownSignals', () => {
  function target(stopResult: boolean | void = undefined) {
    const steps: string[] = [];
    return {
      steps,
      beginShutdown: () => void steps.push('not ready'),
      stop: async (opts: { graceMs?: number }) => {
        steps.push(`stop ${opts.graceMs}`);
        return stopResult;
      },
    };
  }

  test('not ready at once, the delay, then stop with the grace, then exit 0', async () => {
    const t = target();
    const codes: number[] = [];
    const { shutdown } = onShutdownSignals(t, {
      logger,
      config: { delayMs: 200, graceMs: 1234 },
      exit: (c) => void codes.push(c),
      signalSource: new EventEmitter(),
    });
    const done = shutdown('test');
    expect(t.steps).toEqual(['not ready']);
    await new Promise((r) => setTimeout(r, 50));
    expect(t.steps).toEqual(['not ready']); // still serving during the delay
    await done;
    expect(t.steps).toEqual(['not ready', 'stop 1234']);
    expect(codes).toEqual([0]);
  });

  test('a drain that ran out of grace exits 1', async () => {
    const codes: number[] = [];
    const { shutdown } = onShutdownSignals(target(false), {
      logger,
      config: { delayMs: 0, graceMs: 10 },
      exit: (c) => void codes.push(c),
      signalSource: new EventEmitter(),
    });
    await shutdown('test');
    expect(codes).toEqual([1]);
  });

  test('a second signal (not the same one repeated within a second) forces exit 1', async () => {
    const t = {
      beginShutdown: () => undefined,
      stop: () => new Promise<boolean>(() => undefined), // never finishes
    };
    const codes: number[] = [];
    const signals = new EventEmitter();
    onShutdownSignals(t, {
      logger,
      config: { delayMs: 0, graceMs: 60_000 },
      exit: (c) => void codes.push(c),
      signalSource: signals,
    });
    signals.emit('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    signals.emit('SIGINT'); // a terminal's Ctrl-C also forwarded by `npm start`: the same request
    await new Promise((r) => setTimeout(r, 100));
    expect(codes).toEqual([]);
    await new Promise((r) => setTimeout(r, 1000));
    signals.emit('SIGINT');
    expect(codes).toEqual([1]);
  });
});
