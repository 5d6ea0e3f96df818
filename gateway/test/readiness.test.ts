import { registry } from '@shop/kernel';
import { eventually, Stack, startStack } from '@shop/kernel/testing';
import productSubgraph from '../../subgraphs/product/src';
import { RunningGateway, startGateway } from '../src';

/**
 * The gateway's `/ready` is its own readiness ("can serve traffic"), not "every subgraph is up": a subgraph that is
 * not ready shows in the body and in `shop_gateway_subgraph_up`, and the gateway stays ready; from SIGTERM on
 * (`beginShutdown`) the gateway answers 503 "shutting down".
 */
let stack: Stack;
let gateway: RunningGateway;
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [productSubgraph],
    gateway: async (deps) => (gateway = await startGateway({ ...deps, healthIntervalMs: 100 })),
  });
});
afterAll(() => stack?.stop());

const origin = () => new URL(stack.gatewayUrl).origin;
async function ready() {
  const res = await fetch(`${origin()}/ready`);
  return { status: res.status, body: await res.json() };
}
async function subgraphUp(name: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric('shop_gateway_subgraph_up')?.get();
  return metric?.values.find((v) => v.labels.subgraph === name)?.value;
}

test('ready with every subgraph up; still ready, with the subgraph reported down, when one is not', async () => {
  const up = await eventually('the first health check', async () => {
    const r = await ready();
    return r.body.subgraphs[0]?.checkedAt ? r : undefined;
  });
  expect(up.status).toBe(200);
  expect(up.body).toEqual({
    status: 'ready',
    service: 'gateway',
    subgraphs: [{ name: 'product', up: true, checkedAt: expect.any(String) }],
  });
  expect(await subgraphUp('product')).toBe(1);

  // The product subgraph goes out of rotation (its SIGTERM's first step): the gateway notices, and stays ready.
  stack.services.product.beginShutdown!();
  const down = await eventually('product reported down', async () => {
    const r = await ready();
    return r.body.subgraphs[0]?.up === false ? r : undefined;
  });
  expect(down.status).toBe(200);
  expect(down.body.status).toBe('ready');
  expect(down.body.subgraphs).toEqual([
    { name: 'product', up: false, checkedAt: expect.any(String), error: 'status 503' },
  ]);
  expect(await subgraphUp('product')).toBe(0);
  // It still serves: the product subgraph keeps answering until it actually stops.
  const res = await stack.gql('{ categories { slug } }');
  expect(res.errors).toBeUndefined();
});

test('from the shutdown signal on, /ready answers 503 "shutting down" while queries are still served', async () => {
  gateway.beginShutdown();
  const r = await ready();
  expect(r.status).toBe(503);
  expect(r.body.status).toBe('shutting down');
  expect((await fetch(`${origin()}/health`)).status).toBe(200);
  expect((await stack.gql('{ categories { slug } }')).errors).toBeUndefined();
});
