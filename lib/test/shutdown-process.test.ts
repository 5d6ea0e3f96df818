import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { INTERNAL_TOKEN_HEADER, signInternalToken } from '../src';
import { eventually, GraphQLResponse, ProcessStack, startProcessStack } from '../src/testing';

/**
 * SIGTERM as an orchestrator sends it, to processes started as `npm start` starts them (dist/: run
 * `npx tsc -b tsconfig.build.json` first).
 *
 * Subgraph: under load through the gateway, the user subgraph gets SIGTERM. "Zero failed" means:
 * - every query not touching it succeeds, before, during and after;
 * - every request on the wire to it before the signal (a burst of 30, written before the signal) succeeds, and so
 *   does one whose body is still arriving when its port closes (it was in flight across the whole drain);
 * - a query through the gateway touching it succeeds or fails with SERVICE_UNAVAILABLE naming it, nothing else (the
 *   gateway may forward one after the port closed: no load balancer takes the subgraph out of rotation here);
 * - its `/ready` answers 503 before the port closes, and it exits 0.
 *
 * Gateway: SIGTERM closes client WebSockets with 1001 (going away), a request in flight completes, it exits 0.
 */
let stack: ProcessStack;
beforeAll(async () => {
  stack = await startProcessStack({
    subgraphs: ['user', 'product'],
    // A one-second readiness delay, so the test sees /ready at 503 while the port is still open.
    envFor: () => ({ SHUTDOWN_DELAY_SECONDS: '1', SHUTDOWN_GRACE_SECONDS: '20' }),
  });
}, 180_000);
afterAll(() => stack?.stop(), 60_000);

const UNTOUCHED = `{ products(first: 5) { edges { node { id } } } categories { slug } }`;
const TOUCHING = `{ me { id } }`;

interface Sent {
  sentAt: number;
  doneAt: number;
  res: GraphQLResponse;
}

/** Queries in a loop until `stop()`; a transport failure counts as an error answer. */
function load(query: string, loops: number) {
  const sent: Sent[] = [];
  let running = true;
  const one = async () => {
    const sentAt = Date.now();
    const res = await stack
      .gql(query)
      .catch((err) => ({ errors: [{ message: String(err), extensions: { code: 'TRANSPORT' } }] }) as GraphQLResponse);
    sent.push({ sentAt, doneAt: Date.now(), res });
  };
  const done = Promise.all(
    Array.from({ length: loops }, async () => {
      while (running) await one();
    }),
  );
  return {
    sent,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** `/ready` of `origin` every 10 ms: 200, 503 or `refused`, in order, until `stop()`. */
function watchReady(origin: string) {
  const seen: (number | 'refused')[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const status = await fetch(`${origin}/ready`, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.status)
        .catch(() => 'refused' as const);
      if (seen[seen.length - 1] !== status) seen.push(status);
      if (status === 'refused') return;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await done;
    },
  };
}

/**
 * A POST /graphql whose body arrives in two parts: the first now (the request is in flight), the rest at `finish()`
 * (at once with `whole`). `written` resolves once the request is on the wire; `response` with its status and body.
 */
function post(origin: string, query: string, headers: Record<string, string> = {}, whole = false) {
  const body = Buffer.from(JSON.stringify({ query }));
  const half = whole ? body.length : Math.floor(body.length / 2);
  const url = new URL('/graphql', origin);
  const req = http.request({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers },
  });
  const response = new Promise<{ status?: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
  });
  const written = new Promise<void>((resolve) => req.once(whole ? 'finish' : 'socket', () => resolve()));
  if (whole) req.end(body);
  else req.write(body.subarray(0, half));
  return { response, written, finish: () => req.end(body.subarray(half)) };
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

const codeOf = (r: GraphQLResponse) => r.errors?.[0]?.extensions?.code as string | undefined;

test('SIGTERM a subgraph under load: no failed query elsewhere, in-flight ones complete, /ready 503 before the port closes', async () => {
  const user = stack.processes.user;
  const untouched = load(UNTOUCHED, 3);
  const touching = load(TOUCHING, 2);
  // Warm (a cold first query takes seconds on a busy machine): a few answers of each before the signal.
  await eventually('load running', async () => untouched.sent.length >= 3 && touching.sent.length >= 3, 60_000);
  const readiness = watchReady(user.origin);
  const token = { [INTERNAL_TOKEN_HEADER]: signInternalToken(stack.env.keys, {}, 'user') };
  // In flight across the whole shutdown: its body completes only once the port has closed.
  const slow = post(user.origin, TOUCHING, token);
  // And a burst of requests on the wire to it at the moment of the signal.
  const burst = Array.from({ length: 30 }, () => post(user.origin, TOUCHING, token, true));
  await Promise.all([slow.written, ...burst.map((b) => b.written)]);
  const signalAt = Date.now();
  user.child.kill('SIGTERM');

  await eventually('the user port to close', () => portRefuses(user.port), 30_000);
  slow.finish();
  const slowAnswer = await slow.response;
  expect(slowAnswer).toEqual({ status: 200, body: expect.stringContaining('"me":null') });
  for (const answer of await Promise.all(burst.map((b) => b.response)))
    expect(answer).toEqual({ status: 200, body: expect.stringContaining('"me":null') });
  expect(await user.exited).toBe(0);
  await readiness.stop();

  await new Promise((r) => setTimeout(r, 500)); // load goes on after the subgraph is gone
  await untouched.stop();
  await touching.stop();

  // Not one query that does not touch the stopped subgraph failed, before, during or after.
  const untouchedErrors = untouched.sent.filter((s) => s.res.errors);
  expect(untouchedErrors.map((s) => s.res.errors)).toEqual([]);
  expect(untouched.sent.length).toBeGreaterThan(10);
  // Through the gateway: answered, or SERVICE_UNAVAILABLE naming it; nothing failed before the signal.
  const before = touching.sent.filter((s) => s.doneAt < signalAt);
  expect(before.length).toBeGreaterThan(0);
  expect(before.filter((s) => s.res.errors)).toEqual([]);
  const failed = touching.sent.filter((s) => s.res.errors);
  for (const f of failed) {
    expect(codeOf(f.res)).toBe('SERVICE_UNAVAILABLE');
    expect(f.res.errors![0].extensions?.service).toBe('user');
  }
  // 200 until the signal, then 503 while it still listens, then the port closes.
  expect(readiness.seen).toEqual([200, 503, 'refused']);
  console.log(
    `shutdown under load: ${untouched.sent.length} queries not touching user, 0 failed; ` +
      `${touching.sent.length} through the gateway touching it (${failed.length} SERVICE_UNAVAILABLE, nothing else); ` +
      `30 requests on the wire at the signal and one in flight across the drain: all answered; exit 0`,
  );
}, 120_000);

test('SIGTERM the gateway: /ready 503 first, client WebSockets closed with 1001, a request in flight completes, exit 0', async () => {
  const gw = stack.processes.gateway;
  const socket = new WebSocket(stack.gatewayUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    socket.on('message', (m) => JSON.parse(String(m)).type === 'connection_ack' && resolve());
    socket.once('error', reject);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const readiness = watchReady(gw.origin);
  const slow = post(gw.origin, '{ categories { slug } }');
  await new Promise((r) => setTimeout(r, 200));

  gw.child.kill('SIGTERM');
  expect(await closed).toEqual({ code: 1001, reason: 'Going away' });
  await eventually('the gateway port to close', () => portRefuses(gw.port), 30_000);
  slow.finish();
  expect(await slow.response).toEqual({ status: 200, body: expect.stringContaining('"categories":[') });
  expect(await gw.exited).toBe(0);
  await readiness.stop();
  expect(readiness.seen).toEqual([200, 503, 'refused']);
}, 120_000);
