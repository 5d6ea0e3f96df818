import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { registry } from '@shop/kernel';
import { eventually, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import { ANONYMOUS, knownOperationNames, OTHER } from '../src/metrics';
import { createProductSubgraph } from '../../subgraphs/product/src';
import { createCartSubgraph } from '../../subgraphs/cart/src';
import { adminToken, createProduct, ensureCategory, ok, userToken } from '../../subgraphs/product/test/helpers';

/**
 * The gateway's metrics move by exactly the traffic sent: GraphQL operations by (bounded) name, type and outcome,
 * subgraph fetches, cache lookups (response and entity cache), HTTP requests by route, WebSocket connections and
 * subscriptions. Values are read from the process registry (the one /metrics serves) as deltas.
 */
let stack: Stack;
let gatewayOrigin: string;

beforeAll(async () => {
  stack = await startStack({
    subgraphs: [createProductSubgraph(), createCartSubgraph()],
    gateway: (deps) =>
      startGateway({
        ...deps,
        perf: { responseCache: true, entityCache: true, responseCacheTtlSeconds: 300 },
      }),
  });
  gatewayOrigin = new URL(stack.gatewayUrl).origin;
  const admin = adminToken(stack);
  await ensureCategory(stack, admin, 'audio');
  await createProduct(stack, admin, { name: 'Metered speaker', stock: 3 });
});
afterAll(() => stack?.stop());

/** Sum of a metric's samples whose labels include `labels` (`suffix`: a histogram's `_count`, `_sum` or `_bucket`). */
async function value(name: string, labels: Record<string, string> = {}, suffix = ''): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => ((v as { metricName?: string }).metricName ?? name) === name + suffix)
    .filter((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
    .reduce((sum, v) => sum + v.value, 0);
}

/** The change of `read()` across `act()`. */
async function delta(read: () => Promise<number>, act: () => Promise<unknown>): Promise<number> {
  const before = await read();
  await act();
  return (await read()) - before;
}

const ops = (labels: Record<string, string>) => () => value('shop_graphql_operations_total', labels);
const times = async (n: number, fn: () => Promise<unknown>) => {
  for (let i = 0; i < n; i++) await fn();
};

test('operation names are bounded by the safelist manifest', () => {
  const names = knownOperationNames();
  expect(names.has('PlaceOrder')).toBe(true);
  expect(names.has('Categories')).toBe(true);
  expect(names.size).toBeGreaterThan(20);
});

test('N operations move the operation counter by N, labelled by name, type and outcome', async () => {
  const categories = { operation: 'Categories', type: 'query', outcome: 'success' };
  expect(
    await delta(ops(categories), () =>
      times(3, async () => ok(await stack.gql('query Categories { categories { slug } }'))),
    ),
  ).toBe(3);
  // A name no client of ours sends is bucketed, as is an operation without a name.
  expect(
    await delta(ops({ operation: OTHER, type: 'query', outcome: 'success' }), () =>
      times(2, async () => ok(await stack.gql('query SomethingElse { categories { slug } }'))),
    ),
  ).toBe(2);
  expect(
    await delta(ops({ operation: ANONYMOUS, type: 'query', outcome: 'success' }), () =>
      times(4, async () => ok(await stack.gql('{ categories { name } }'))),
    ),
  ).toBe(4);
  expect(await value('shop_graphql_operations_total', { operation: 'SomethingElse' })).toBe(0);

  // An error outcome is the first error's code.
  let code = '';
  const forbidden = await delta(ops({ operation: 'StockHistory', type: 'query' }), async () => {
    const res = await stack.gql(
      'query StockHistory($id: ID!) { stockHistory(productId: $id) { totalCount } }',
      { id: '00000000-0000-0000-0000-000000000000' },
      userToken(stack),
    );
    code = res.errors![0].extensions!.code;
  });
  expect(forbidden).toBe(1);
  expect(code).toBe('FORBIDDEN');
  expect(await value('shop_graphql_operations_total', { operation: 'StockHistory', outcome: 'FORBIDDEN' })).toBe(1);

  // A document that does not parse has no type.
  expect(
    await delta(ops({ operation: ANONYMOUS, type: 'unknown', outcome: 'GRAPHQL_PARSE_FAILED' }), () =>
      stack.gql('query Broken {'),
    ),
  ).toBe(1);
  // Mutations count as such.
  expect(
    await delta(ops({ operation: 'CreateCart', type: 'mutation', outcome: 'success' }), async () =>
      ok(await stack.gql('mutation CreateCart { createCart { id } }')),
    ),
  ).toBe(1);
  // The duration histogram saw the same operations.
  expect(
    await value('shop_graphql_operation_duration_seconds', { operation: 'Categories' }, '_count'),
  ).toBeGreaterThanOrEqual(3);
});

test('cache lookups: response cache miss then hit; entity cache miss then hit; fetches only on misses', async () => {
  const PAGE = `query ProductList { products(first: 5) { edges { node { id name } } } }`;
  const cache = (c: string, result: string) => () => value('shop_gateway_cache_requests_total', { cache: c, result });
  const fetches = () => value('shop_gateway_subgraph_fetch_duration_seconds', { subgraph: 'product' }, '_count');
  const snapshot = async () => ({
    responseHit: await cache('response', 'hit')(),
    responseMiss: await cache('response', 'miss')(),
    entityHit: await cache('entity', 'hit')(),
    entityMiss: await cache('entity', 'miss')(),
    fetches: await fetches(),
  });
  const diff = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));

  // Anonymous: the whole response is cached.
  let s0 = await snapshot();
  ok(await stack.gql(PAGE));
  let s1 = await snapshot();
  expect(diff(s0, s1)).toMatchObject({ responseMiss: 1, responseHit: 0, fetches: 1 });
  ok(await stack.gql(PAGE));
  let s2 = await snapshot();
  expect(diff(s1, s2)).toEqual({ responseMiss: 0, responseHit: 1, entityHit: 0, entityMiss: 0, fetches: 0 });

  // Signed in: never the response cache; the entity cache (keyed by role) misses once, then hits.
  const token = userToken(stack);
  s0 = await snapshot();
  ok(await stack.gql(PAGE, {}, token));
  s1 = await snapshot();
  expect(diff(s0, s1)).toEqual({ responseMiss: 0, responseHit: 0, entityHit: 0, entityMiss: 1, fetches: 1 });
  ok(await stack.gql(PAGE, {}, token));
  s2 = await snapshot();
  expect(diff(s1, s2)).toEqual({ responseMiss: 0, responseHit: 0, entityHit: 1, entityMiss: 0, fetches: 0 });
});

test('HTTP requests by route and status class; /metrics is not on the public port', async () => {
  const health = () =>
    value(
      'shop_http_request_duration_seconds',
      { service: 'gateway', route: '/health', status_class: '2xx' },
      '_count',
    );
  expect(await delta(health, () => times(5, () => fetch(`${gatewayOrigin}/health`).then((r) => r.text())))).toBe(5);
  // GraphQL is served apart from Express (kernel httpFront) and timed the same way, refusals included.
  const graphqlCount = (status_class: string) => () =>
    value('shop_http_request_duration_seconds', { service: 'gateway', route: '/graphql', status_class }, '_count');
  const post = (body: string) =>
    fetch(`${gatewayOrigin}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
      (r) => r.text(),
    );
  expect(await delta(graphqlCount('2xx'), () => times(3, () => post('{"query":"{ __typename }"}')))).toBe(3);
  expect(await delta(graphqlCount('4xx'), () => times(2, () => post('{"query":')))).toBe(2);
  const res = await fetch(`${gatewayOrigin}/metrics`);
  expect(await res.text()).not.toContain('# TYPE');
  // A subgraph serves its metrics on its own port.
  const sub = await fetch(new URL('/metrics', stack.services.product.url));
  expect(sub.status).toBe(200);
  expect(await sub.text()).toContain('# TYPE shop_http_request_duration_seconds histogram');
});

test('WebSocket connections and subscriptions are counted while open', async () => {
  const cartId = ok(await stack.gql('mutation { createCart { id } }')).createCart.id as string;
  const connections = () => value('shop_gateway_websocket_connections');
  const subscriptions = () => value('shop_gateway_subscriptions_active');
  const [c0, s0] = [await connections(), await subscriptions()];
  const client = createClient({
    url: stack.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
  });
  const it = client.iterate({
    query: 'subscription CartTimer($id: ID!) { cartTimer(cartId: $id) { cartId status } }',
    variables: { id: cartId },
  });
  const first = await it.next();
  expect(first.value?.data?.cartTimer.cartId).toBe(cartId);
  expect(await connections()).toBe(c0 + 1);
  expect(await subscriptions()).toBe(s0 + 1);
  await it.return?.();
  await eventually('the subscription to end', async () => (await subscriptions()) === s0);
  await client.dispose();
  await eventually('the connection to close', async () => (await connections()) === c0);
});
