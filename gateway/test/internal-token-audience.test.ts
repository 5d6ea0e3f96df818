import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  INTERNAL_TOKEN,
  INTERNAL_TOKEN_HEADER,
  keyAlgorithm,
  signAccessToken,
  StartedService,
  SubgraphModule,
} from '@shop/kernel';
import { graphql, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import userSubgraph from '../../subgraphs/user/src';
import mediaSubgraph from '../../subgraphs/media/src';
import { tickerSubgraph } from './fixtures/ticker';

/**
 * A compromised media service sees every internal token the gateway sends it, including an admin's. It must not be able
 * to replay one to another subgraph: each internal token names the subgraph it is for (aud shop:subgraph:<name>).
 * "Media" here is the attacker's server (the real media schema, for composition): it records what the gateway sends.
 */
const captured: string[] = [];
let fakeMedia: http.Server;
const compromisedMedia: SubgraphModule = {
  ...mediaSubgraph,
  async start(): Promise<StartedService> {
    fakeMedia = http.createServer((req, res) => {
      const token = req.headers[INTERNAL_TOKEN_HEADER];
      if (typeof token === 'string') captured.push(token);
      req.resume().on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { image: null } }));
      });
    });
    await new Promise<void>((r) => fakeMedia.listen(0, '127.0.0.1', () => r()));
    const { port } = fakeMedia.address() as AddressInfo;
    return {
      name: 'media',
      url: `http://127.0.0.1:${port}/graphql`,
      stop: () => new Promise((r) => fakeMedia.close(() => r())),
    };
  },
};

let stack: Stack;
const ADMIN_ID = randomUUID();
let adminMediaToken: string;
beforeAll(async () => {
  stack = await startStack({ subgraphs: [userSubgraph, tickerSubgraph, compromisedMedia], gateway: startGateway });
  const admin = signAccessToken(stack.env.keys, { sub: ADMIN_ID, role: 'ADMIN' });
  const res = await stack.gql(`query($id: ID!) { image(id: $id) { id } }`, { id: randomUUID() }, admin);
  expect(res.errors).toBeUndefined();
  expect(captured.length).toBeGreaterThan(0);
  adminMediaToken = captured[captured.length - 1];
});
afterAll(() => stack?.stop());

const codeOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.code;
const TICKER = `subscription($u: ID!) { ticker(userId: $u, count: 2) { n } }`;

/** Subscribes on the ticker subgraph directly; resolves with what came back: events, an error, or the close code. */
function subscribeDirect(
  connectionToken: string,
  subscribeToken?: string,
): Promise<{ events: unknown[]; error?: unknown; closeCode?: number }> {
  const url = stack.services.ticker.url.replace(/^http/, 'ws');
  const out: { events: unknown[]; error?: unknown; closeCode?: number } = { events: [] };
  return new Promise((resolve) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      connectionParams: { [INTERNAL_TOKEN_HEADER]: connectionToken },
      on: { closed: (e) => (out.closeCode ??= (e as { code?: number }).code) },
    });
    const done = () => void Promise.resolve(client.dispose()).then(() => resolve(out));
    client.subscribe(
      {
        query: TICKER,
        variables: { u: ADMIN_ID },
        ...(subscribeToken ? { extensions: { [INTERNAL_TOKEN_HEADER]: subscribeToken } } : {}),
      },
      { next: (v) => out.events.push(v), error: (e) => ((out.error = e), done()), complete: done },
    );
  });
}

test('the gateway sends media a token that names media', () => {
  expect(jwt.decode(adminMediaToken)).toMatchObject({ sub: ADMIN_ID, role: 'ADMIN', aud: 'shop:subgraph:media' });
});

test("HTTP: an admin's token captured by media, replayed to the user subgraph → 401 UNAUTHENTICATED", async () => {
  const res = await graphql(
    stack.services.user.url,
    `
      {
        me {
          id
        }
      }
    `,
    {},
    { headers: { [INTERNAL_TOKEN_HEADER]: adminMediaToken } },
  );
  expect(res.status).toBe(401);
  expect(codeOf(res)).toBe('UNAUTHENTICATED');
  expect(res.data ?? null).toBeNull();
});

test('WebSocket: the captured token opens no connection to another subgraph', async () => {
  const r = await subscribeDirect(adminMediaToken);
  expect(r.events).toEqual([]);
  expect(r.closeCode).toBe(4403);
});

test('WebSocket: on a connection the subgraph accepts, a subscribe carrying the captured token → UNAUTHENTICATED, no events', async () => {
  // A connection token the ticker accepts (anonymous, as the gateway's own upstream connection).
  const connection = jwt.sign({}, stack.env.keys.internal.privateKey!, {
    algorithm: keyAlgorithm(stack.env.keys.internal.privateKey!),
    issuer: INTERNAL_TOKEN.issuer,
    audience: ['shop:subgraph', 'shop:subgraph:ticker'],
    expiresIn: 60,
  });
  const r = await subscribeDirect(connection, adminMediaToken);
  expect(r.events).toEqual([]);
  expect((r.error as { extensions?: { code?: string } }[])?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
});

test('through the gateway, each subgraph still gets a token it accepts (HTTP and the subscription bridge)', async () => {
  const admin = signAccessToken(stack.env.keys, { sub: ADMIN_ID, role: 'ADMIN' });
  expect((await stack.gql(`{ me { id } }`, {}, admin)).errors).toBeUndefined();
  const client = createClient({
    url: stack.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${admin}` },
  });
  try {
    const events: unknown[] = [];
    for await (const e of client.iterate({ query: TICKER, variables: { u: ADMIN_ID } })) events.push(e);
    expect(events).toEqual([{ data: { ticker: { n: 1 } } }, { data: { ticker: { n: 2 } } }]);
  } finally {
    await client.dispose();
  }
});
