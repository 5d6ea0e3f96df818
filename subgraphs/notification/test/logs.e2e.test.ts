import { randomUUID } from 'node:crypto';
import { INTERNAL_TOKEN_HEADER, isUuid, REQUEST_ID_HEADER, signAccessToken, signInternalToken } from '@shop/kernel';
import { graphql, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../../product/src';
import { createCartSubgraph } from '../../cart/src';
import { ADD, CREATE_CART, product } from '../../cart/test/helpers';
import notification, { StartedNotification } from '../src';
import { ConnectionOf, eventually, ok } from './helpers';

/**
 * Central logs end to end: the stack's processes (here one jest process: gateway, product, cart and notification)
 * ship their lines over NATS to the notification subgraph, and admins read them with `logs`.
 * LOG_LEVEL=debug so that each subgraph logs its per-request line; stdout stays at TEST_LOG_LEVEL.
 */
let stack: Stack;
let svc: StartedNotification;
let admin: string;

beforeAll(async () => {
  stack = await startStack({
    subgraphs: [productSubgraph, createCartSubgraph(), notification],
    gateway: startGateway,
    env: { LOG_SHIPPING: 'on', LOG_LEVEL: 'debug' },
  });
  svc = stack.services.notification as StartedNotification;
  admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
});
afterAll(async () => {
  await stack?.stop();
});

interface LogNode {
  id: string;
  time: string;
  service: string;
  level: string;
  message: string;
  requestId: string | null;
  traceId: string | null;
  fields: Record<string, any> | null;
}

const LOGS = `query Logs($filter: LogFilter, $first: Int, $after: String) {
  logs(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id time service level message requestId traceId fields } }
  }
}`;

async function logs(variables: Record<string, unknown>, token = admin): Promise<ConnectionOf<LogNode>> {
  return ok(await stack.gql<{ logs: ConnectionOf<LogNode> }>(LOGS, variables, token)).logs;
}

/** Every stored line matching `filter` (all pages), once `count` of them are stored. */
async function linesOnceStored(filter: Record<string, unknown>, count: number): Promise<LogNode[]> {
  return eventually(`${count} log lines for ${JSON.stringify(filter)}`, async () => {
    const page = await logs({ filter, first: 100 });
    // The page and its totalCount are two statements: a batch stored between them shows in the count only.
    return page.edges.length >= count && page.edges.map((e) => e.node);
  });
}

describe('a request followed through three services', () => {
  it("finds the gateway's, the cart's and the product's lines by the client's x-request-id", async () => {
    const p = await product(stack, { name: 'Logged Lamp', stock: 5 });
    const cartId = ok(await stack.gql(CREATE_CART)).createCart.id as string;
    ok(await stack.gql(ADD, { c: cartId, p: p.id, q: 1 }));

    const requestId = `cart-view-${randomUUID().slice(0, 8)}`;
    const res = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [REQUEST_ID_HEADER]: requestId },
      body: JSON.stringify({
        query: 'query CartView($id: ID!) { cart(id: $id) { items { product { name } quantity } } }',
        variables: { id: cartId },
      }),
    });
    const body = (await res.json()) as { data: { cart: { items: { product: { name: string } }[] } } };
    expect(body.data.cart.items[0].product.name).toBe('Logged Lamp');
    expect(res.headers.get(REQUEST_ID_HEADER)).toBe(requestId);

    const lines = await eventually('lines from gateway, cart and product', async () => {
      const page = await logs({ filter: { requestId }, first: 100 });
      const nodes = page.edges.map((e) => e.node);
      const services = new Set(nodes.map((n) => n.service));
      return ['gateway', 'cart', 'product'].every((s) => services.has(s)) && nodes;
    });
    expect(lines.every((l) => l.requestId === requestId)).toBe(true);
    // The gateway's access log line: operation, duration, outcome, request id.
    const access = lines.find((l) => l.service === 'gateway' && l.message === 'graphql request')!;
    expect(access).toMatchObject({ level: 'INFO', requestId });
    expect(access.fields).toMatchObject({ operationName: 'CartView', outcome: 'ok' });
    expect(typeof access.fields!.durationMs).toBe('number');
    // The subgraphs' per-request lines are debug.
    expect(lines.find((l) => l.service === 'product')).toMatchObject({ level: 'DEBUG', message: 'graphql request' });
    // Newest first.
    const times = lines.map((l) => Date.parse(l.time));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it("logs the signed-in user's id and the error codes in the access log", async () => {
    const requestId = randomUUID();
    const user = randomUUID();
    const token = signAccessToken(stack.env.keys, { sub: user, role: 'USER' });
    const res = await graphql(
      stack.gatewayUrl,
      'query Denied { logs { totalCount } }',
      {},
      {
        token,
        headers: { [REQUEST_ID_HEADER]: requestId },
      },
    );
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const [line] = await linesOnceStored({ requestId, service: 'gateway' }, 1);
    expect(line.fields).toMatchObject({ operationName: 'Denied', outcome: 'FORBIDDEN', userId: user });
  });
});

describe('request ids', () => {
  const send = (url: string, id: string | undefined, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(id === undefined ? {} : { [REQUEST_ID_HEADER]: id }),
        ...headers,
      },
      body: JSON.stringify({ query: '{ __typename }' }),
    }).then((r) => r.headers.get(REQUEST_ID_HEADER));

  it('keeps a UUID or a short token and replaces anything else at the gateway', async () => {
    const uuid = randomUUID();
    expect(await send(stack.gatewayUrl, uuid)).toBe(uuid);
    expect(await send(stack.gatewayUrl, 'abc.DEF_123-x')).toBe('abc.DEF_123-x');
    for (const bad of ['has space', 'x'.repeat(65), 'line\\nbreak', '{"json":1}', '']) {
      const got = await send(stack.gatewayUrl, bad);
      expect(got).not.toBe(bad);
      expect(isUuid(got)).toBe(true);
    }
    expect(isUuid(await send(stack.gatewayUrl, undefined))).toBe(true);
  });

  it('is checked the same way by a subgraph', async () => {
    const cart = stack.services.cart;
    const token = { [INTERNAL_TOKEN_HEADER]: signInternalToken(stack.env.keys, {}, 'cart') };
    expect(await send(cart.url, 'gw-chosen-id', token)).toBe('gw-chosen-id');
    const replaced = await send(cart.url, 'not valid!', token);
    expect(isUuid(replaced)).toBe(true);
  });
});

describe('the logs query', () => {
  it('is for admins only', async () => {
    const user = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'USER' });
    const asUser = await stack.gql(LOGS, {}, user);
    expect(asUser.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(asUser.data).toBeNull();
    const anonymous = await stack.gql(LOGS, {});
    expect(anonymous.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses bad arguments with BAD_USER_INPUT naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ first: 101 }, 'first'],
      [{ first: -1 }, 'first'],
      [{ after: 'not-a-cursor' }, 'after'],
      [{ filter: { since: '2030-01-02T00:00:00Z', until: '2030-01-01T00:00:00Z' } }, 'filter.until'],
      [{ filter: { search: '' } }, 'filter.search'],
      [{ filter: { search: 'x'.repeat(201) } }, 'filter.search'],
      [{ filter: { requestId: 'r'.repeat(101) } }, 'filter.requestId'],
    ];
    for (const [variables, field] of cases) {
      const res = await stack.gql(LOGS, variables, admin);
      expect({ variables, error: res.errors?.[0].extensions }).toMatchObject({
        variables,
        error: { code: 'BAD_USER_INPUT', field },
      });
    }
  });

  it('stores secret fields redacted, however deep', async () => {
    const marker = `secret-${randomUUID()}`;
    stack.env.logger.warn(
      {
        marker,
        password: 'hunter2-top',
        user: { token: 'tok-level-2' },
        event: { data: { deeper: { still: { refreshToken: 'rt-level-5', accessToken: 'at-level-5' } } } },
        list: [{ newPassword: 'in-an-array' }],
      },
      `signing in (${marker})`,
    );
    const [line] = await linesOnceStored({ search: marker }, 1);
    const raw = JSON.stringify(line);
    for (const secret of ['hunter2-top', 'tok-level-2', 'rt-level-5', 'at-level-5', 'in-an-array'])
      expect(raw).not.toContain(secret);
    expect(line.fields).toMatchObject({
      marker,
      password: '[redacted]',
      user: { token: '[redacted]' },
      event: { data: { deeper: { still: { refreshToken: '[redacted]', accessToken: '[redacted]' } } } },
      list: [{ newPassword: '[redacted]' }],
    });
    expect(line).toMatchObject({ level: 'WARN', service: 'test' });
  });

  it('filters by service, level, trace id, time and text, and pages newest first', async () => {
    const service = `svc-${randomUUID().slice(0, 8)}`;
    const log = stack.env.logger.child({ service });
    const traceId = randomUUID().replace(/-/g, '');
    log.debug('first debug');
    log.info({ traceId }, 'traced info');
    log.warn({ orderId: 'o-1' }, 'payment RETRIED');
    await new Promise((r) => setTimeout(r, 20));
    const middle = new Date();
    await new Promise((r) => setTimeout(r, 20));
    log.error({ traceId }, 'traced error');
    log.fatal('gone');
    const all = await linesOnceStored({ service }, 5);
    expect(all.map((l) => l.message)).toEqual([
      'gone',
      'traced error',
      'payment RETRIED',
      'traced info',
      'first debug',
    ]);
    expect(all.map((l) => l.level)).toEqual(['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG']);

    const messages = async (filter: Record<string, unknown>) =>
      (await logs({ filter: { service, ...filter } })).edges.map((e) => e.node.message);
    expect(await messages({ minLevel: 'WARN' })).toEqual(['gone', 'traced error', 'payment RETRIED']);
    expect(await messages({ traceId })).toEqual(['traced error', 'traced info']);
    expect(await messages({ since: middle.toISOString() })).toEqual(['gone', 'traced error']);
    expect(await messages({ until: middle.toISOString() })).toEqual(['payment RETRIED', 'traced info', 'first debug']);
    expect(await messages({ search: 'retried' })).toEqual(['payment RETRIED']);
    expect(all.find((l) => l.message === 'traced info')!.traceId).toBe(traceId);
    expect(all.find((l) => l.message === 'payment RETRIED')!.fields).toMatchObject({ orderId: 'o-1' });

    // Pages of two: every line once, in order, and the count over all pages.
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: ConnectionOf<LogNode> = await logs({ filter: { service }, first: 2, after });
      expect(page.totalCount).toBe(5);
      seen.push(...page.edges.map((e) => e.node.message));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(all.map((l) => l.message));
  });

  it('deletes lines older than LOG_RETENTION_DAYS', async () => {
    const service = `old-${randomUUID().slice(0, 8)}`;
    const day = 24 * 3600_000;
    const line = (ageDays: number, msg: string) =>
      JSON.stringify({ level: 30, time: new Date(Date.now() - ageDays * day).toISOString(), service, msg });
    await svc.logs.ingest(
      randomUUID(),
      [line(30, 'a month old'), line(8, 'eight days old'), line(6, 'six days old')].join('\n'),
      service,
    );
    await svc.logs.ingest(randomUUID(), line(0, 'today'), service);
    expect((await linesOnceStored({ service }, 4)).length).toBe(4);
    expect(stack.env.config.logs.retentionDays).toBe(7);
    expect(await svc.logs.purgeExpired()).toBeGreaterThanOrEqual(2);
    expect((await logs({ filter: { service } })).edges.map((e) => e.node.message)).toEqual(['today', 'six days old']);
  });
});
