import { buildSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import WebSocket, { WebSocketServer } from 'ws';
import { StartingListener, TRY_AGAIN_LATER } from '../src/starting';

// The gateway binds its port before it has loaded (main.ts). What a client meets meanwhile, and after the hand-over.

const schema = buildSchema('type Query { ok: Boolean } type Subscription { ticks: Int }');
const roots = {
  subscription: {
    async *ticks() {
      for (let n = 1; ; n++) {
        yield { ticks: n };
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  },
};

let listener: StartingListener;
let port: number;
let wss: WebSocketServer | undefined;
beforeEach(async () => {
  listener = new StartingListener();
  port = await listener.listen(0);
});
afterEach(async () => {
  wss?.close();
  wss = undefined;
  listener.httpServer.closeAllConnections();
  await new Promise((r) => listener.httpServer.close(r));
});

/** What the started gateway does: its WebSocket server on the same server, then the hand-over, in one turn. */
function start(): void {
  wss = new WebSocketServer({ server: listener.httpServer, path: '/graphql' });
  useServer({ schema, roots }, wss);
  listener.handOver((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
}

it('answers every request 503 with Retry-After and SERVICE_UNAVAILABLE until the gateway takes over', async () => {
  for (const route of ['/health', '/ready', '/graphql']) {
    const res = await fetch(`http://127.0.0.1:${port}${route}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
  }
  start();
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  expect([res.status, await res.text()]).toEqual([200, 'ok']);
});

it('accepts a WebSocket and closes it with 1013 (try again later) while starting', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws');
  const code = await new Promise<number>((resolve, reject) => {
    ws.on('close', (c) => resolve(c));
    ws.on('error', reject);
  });
  expect(code).toBe(TRY_AGAIN_LATER);
});

it("a graphql-ws client with its default retry settings keeps its subscription through the gateway's start", async () => {
  const client = createClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket });
  let closedWith: number | undefined;
  client.on('closed', (e) => (closedWith ??= (e as { code: number }).code));
  const first = new Promise<number>((resolve, reject) => {
    const dispose = client.subscribe<{ ticks: number }>(
      { query: 'subscription { ticks }' },
      {
        next: (r) => {
          dispose();
          resolve(r.data!.ticks);
        },
        error: reject,
        complete: () => undefined,
      },
    );
  });
  // Met the starting listener first...
  await new Promise<void>((resolve) => client.on('closed', () => resolve()));
  expect(closedWith).toBe(TRY_AGAIN_LATER);
  // ...then the gateway starts before the client's first retry (graphql-ws waits 1.3–4 s) and the stream goes on.
  start();
  expect(await first).toBe(1);
  await client.dispose();
}, 15_000);
