import { startProcessStack, ProcessStack } from '@shop/kernel/testing';

/** The multi-process harness itself: every service as its own process, answering through the gateway. */
let stack: ProcessStack;
beforeAll(async () => {
  stack = await startProcessStack();
}, 180_000);
afterAll(() => stack?.stop(), 60_000);

it('serves a query that spans subgraphs from separate processes, and each process stops on SIGTERM', async () => {
  const res = await stack.gql(`{ products(first: 1) { edges { node { id } } } me { id } }`);
  expect(res.errors?.[0]?.extensions?.code ?? null).toBe(null);
  expect(res.data?.products.edges).toEqual([]);
  expect(Object.keys(stack.processes)).toEqual([
    'user',
    'product',
    'cart',
    'order',
    'media',
    'notification',
    'gateway',
  ]);
  expect(await stack.processes.gateway.stop('SIGTERM')).toBe(0);
}, 60_000);
