import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayDeps, StartedGateway, SubgraphModule } from '@shop/kernel';
import { graphql, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import { Deadlines, isTimeout } from '../src/perf/subgraphFetch';
import productSubgraph from '../../subgraphs/product/src';
import mediaSubgraph from '../../subgraphs/media/src';
import { adminToken, ensureCategory } from '../../subgraphs/product/test/helpers';

/**
 * A subgraph that accepts the connection and never answers (a deadlocked process, a black-holed network): the
 * gateway gives up after SUBGRAPH_TIMEOUT_MS with SERVICE_UNAVAILABLE naming it, and the fields other subgraphs
 * resolved stand — with undici's pools (the default) and with Apollo's own fetcher.
 */
const TIMEOUT_MS = 500;
let hanging: http.Server;
let hits = 0;
/** `silent`: not even headers; `headers`: 200 and a JSON content type, then a body that never comes. */
let mode: 'silent' | 'headers' = 'silent';
let stack: Stack;
let deps: GatewayDeps;
const gateways: StartedGateway[] = [];

beforeAll(async () => {
  hanging = http.createServer((_req, res) => {
    hits++;
    if (mode === 'headers') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":');
    }
  });
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/graphql`;
  // The media subgraph's schema is composed in; its "instance" is the server that never answers.
  const media: SubgraphModule = {
    ...mediaSubgraph,
    start: async () => ({ name: 'media', url: hangingUrl, stop: async () => undefined }),
  };
  stack = await startStack({
    subgraphs: [productSubgraph, media],
    env: { SUBGRAPH_TIMEOUT_MS: String(TIMEOUT_MS) },
    gateway: async (d) => {
      deps = d;
      return startGateway({ ...d, perf: { subgraphFetch: 'undici' } });
    },
  });
  await ensureCategory(stack, adminToken(stack), 'audio');
});
afterAll(async () => {
  for (const g of gateways) await g.stop();
  await stack?.stop();
  hanging?.closeAllConnections();
  await new Promise((r) => hanging?.close(r));
});

const QUERY = `{ categories { slug } image(id: "00000000-0000-4000-8000-000000000000") { id } }`;

let apolloGateway: StartedGateway | undefined;
async function gatewayUrl(fetcher: 'undici' | 'apollo'): Promise<string> {
  if (fetcher === 'undici') return stack.gatewayUrl;
  if (!apolloGateway)
    gateways.push((apolloGateway = await startGateway({ ...deps, perf: { subgraphFetch: 'apollo' } })));
  return apolloGateway.url;
}

test.each([
  ['undici', 'silent'],
  ['undici', 'headers'],
  ['apollo', 'silent'],
  ['apollo', 'headers'],
] as const)(
  'fetcher %s, subgraph %s: SERVICE_UNAVAILABLE naming it within the timeout, the rest stands',
  async (fetcher, how) => {
    const url = await gatewayUrl(fetcher);
    mode = how;
    const before = hits;
    const started = Date.now();
    const res = await graphql(url, QUERY);
    const took = Date.now() - started;

    expect(hits).toBeGreaterThan(before); // the request did reach the hanging subgraph
    expect(res.status).toBe(200);
    expect(res.data?.categories).toEqual(expect.arrayContaining([{ slug: 'audio' }]));
    expect(res.data?.image).toBeNull();
    expect(res.errors?.map((e) => [e.extensions?.code, e.extensions?.service, e.message])).toEqual([
      ['SERVICE_UNAVAILABLE', 'media', 'The media service is unavailable; try again shortly'],
    ]);
    expect(JSON.stringify(res.errors)).not.toMatch(/127\.0\.0\.1|abort|timeout/i);
    // Bounded by the timeout, not undici's 300 s (generous margin for a loaded machine).
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(took).toBeLessThan(TIMEOUT_MS + 5000);
  },
  20_000,
);

describe('Deadlines (the undici fetcher’s timer for every request)', () => {
  test('aborts an unfinished request with a TimeoutError, not before its deadline; a finished one never', async () => {
    const deadlines = new Deadlines(200);
    const started = Date.now();
    const open = deadlines.start();
    const done = deadlines.start();
    deadlines.end(done);
    const reason = await new Promise<unknown>((resolve) =>
      open.controller.signal.addEventListener('abort', () => resolve(open.controller.signal.reason)),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(isTimeout(reason)).toBe(true);
    expect(done.controller.signal.aborted).toBe(false);
  });

  test('requests ended in any order leave none behind, and the timer stops with the last', async () => {
    const deadlines = new Deadlines(50);
    const all = Array.from({ length: 5 }, () => deadlines.start());
    for (const i of [2, 0, 4, 1, 3]) deadlines.end(all[i]);
    // A sixth request after the others ended still gets its own deadline (the timer starts again).
    const late = deadlines.start();
    await new Promise((r) => setTimeout(r, 150));
    expect(all.map((d) => d.controller.signal.aborted)).toEqual([false, false, false, false, false]);
    expect(late.controller.signal.aborted).toBe(true);
  });
});
