import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { databaseName, signAccessToken } from '@shop/kernel';
import {
  eventually,
  OTLP_KIND,
  OtlpReceiver,
  ProcessStack,
  ReceivedSpan,
  startOtlpReceiver,
  startProcessStack,
} from '@shop/kernel/testing';

// One placeOrder through the gateway, every service its own process exporting to an OTLP receiver in this test (as a
// collector would): one trace with the gateway's, order's, cart's, product's and notification's spans, joined across
// HTTP, the NATS commands, the outbox and the event consumer, down to the confirmation email sent.
// Needs the built JavaScript (`npx tsc -b tsconfig.build.json`), like every process-stack test.

let receiver: OtlpReceiver;
let stack: ProcessStack;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
  stack = await startProcessStack({
    envFor: (name) => ({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: name,
      OTEL_TRACES_SAMPLER: 'always_on',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    }),
  });
}, 240_000);
afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
}, 60_000);

const ADDRESS = { name: 'Ann Buyer', line1: '1 Main Street', city: 'Springfield', postalCode: '12345', country: 'US' };

async function must(p: Promise<{ data?: any; errors?: unknown[] }>): Promise<any> {
  const res = await p;
  if (res.errors?.length || !res.data) throw new Error(JSON.stringify(res.errors));
  return res.data;
}

/** A verified buyer, written straight into the user subgraph's database (as faults/helpers.ts does). */
async function verifiedBuyer(): Promise<{ id: string; email: string }> {
  const id = randomUUID();
  const email = `buyer.${id.slice(0, 8)}@example.test`;
  const url = new URL(stack.env.config.postgresUrl);
  url.pathname = `/${databaseName(stack.env.config, 'user')}`;
  const db = new Client({ connectionString: url.toString() });
  await db.connect();
  try {
    await db.query(
      `INSERT INTO users (id, email, password_hash, first_name, role, email_verified_at) VALUES ($1, $2, 'x', 'Ann', 'USER', now())`,
      [id, email],
    );
  } finally {
    await db.end();
  }
  return { id, email };
}

it('one placeOrder is one trace across gateway, order, cart, product and notification, NATS hops included', async () => {
  const admin = signAccessToken(stack.env.keys, { sub: randomUUID(), role: 'ADMIN' });
  await must(
    stack.gql(`mutation { createCategory(slug: "audio", name: "Audio") { slug } }`, {}, { token: admin }),
  ).catch(() => undefined);
  const product = (
    await must(
      stack.gql(
        `mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`,
        {
          input: {
            sku: `TRACE-${Date.now()}`,
            name: 'Traced headphones',
            description: 'x',
            category: 'audio',
            price: 1000,
            stock: 5,
          },
        },
        { token: admin },
      ),
    )
  ).createProduct.id as string;
  const buyer = await verifiedBuyer();
  const token = signAccessToken(stack.env.keys, { sub: buyer.id, role: 'USER' });
  const cartId = (await must(stack.gql('mutation { createCart { id } }', {}, { token }))).createCart.id as string;
  await must(
    stack.gql(
      'mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 2) { id } }',
      { c: cartId, p: product },
      { token },
    ),
  );

  // The client starts the trace (W3C traceparent), so the test knows its id; the gateway continues it.
  const traceId = randomBytes(16).toString('hex');
  const requestId = `trace-test-${randomBytes(4).toString('hex')}`;
  const placed = await must(
    stack.gql(
      `mutation($input: PlaceOrderInput!, $key: String!) { placeOrder(input: $input, idempotencyKey: $key) { id status } }`,
      { input: { cartId, shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, key: randomUUID() },
      {
        token,
        headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`, 'x-request-id': requestId },
      },
    ),
  );
  expect(placed.placeOrder.status).toBe('PAID');

  // Batches leave every 200 ms; the email is sent by the notification's queue shortly after the event.
  const trace = await eventually(
    'the email.send span of the trace',
    async () => {
      const spans = receiver.spans().filter((s) => s.traceId === traceId);
      return spans.some((s) => s.name === 'email.send') && spans;
    },
    30_000,
  );
  // Spans still in flight in other processes (a consumer ending after the email was queued) arrive within a batch.
  await new Promise((r) => setTimeout(r, 1000));
  trace.splice(0, trace.length, ...receiver.spans().filter((s) => s.traceId === traceId));
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const child = (parent: ReceivedSpan, pred: (s: ReceivedSpan) => boolean) =>
    trace.find((s) => s.parentSpanId === parent.spanId && pred(s));
  const describe = () =>
    trace.map((s) => `${s.service} ${s.name} kind=${s.kind} ${s.spanId}<-${s.parentSpanId ?? '-'}`).join('\n');

  // One trace through every service a checkout touches (user too: the buyer was written straight into the user
  // database, without its user.registered event, so the order's buyer directory lacks it and asks by command).
  if (process.env.TRACE_TEST_PRINT) console.log(describe());
  expect([...new Set(trace.map((s) => s.service))].sort()).toEqual([
    'cart',
    'gateway',
    'notification',
    'order',
    'product',
    'user',
  ]);
  // @apollo/gateway's own spans, through the registered provider.
  expect(trace.filter((s) => s.service === 'gateway').map((s) => s.name)).toEqual(
    expect.arrayContaining(['gateway.request', 'gateway.plan', 'gateway.fetch']),
  );

  // Command hops (request/reply): a CLIENT span in order, its SERVER span in cart / product as a direct child.
  for (const [service, command] of [
    ['cart', 'cart.checkout.begin'],
    ['cart', 'cart.checkout.complete'],
    ['product', 'product.commit'],
  ]) {
    const send = trace.find((s) => s.name === `send cmd.${command}` && s.kind === OTLP_KIND.CLIENT);
    expect({ command, send: send?.service, all: send ? '' : describe() }).toEqual({ command, send: 'order', all: '' });
    const served = child(send!, (s) => s.name === `process cmd.${command}`);
    expect(served).toMatchObject({ service, kind: OTLP_KIND.SERVER });
    expect(served!.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.operation.type': 'process' });
  }

  // Event hop through the outbox: order's relay publishes order.placed as a PRODUCER child of the transaction's
  // context; the notification's consumer (one per stream: audit and email) processes it as a CONSUMER child; the
  // email is sent under it.
  const publish = trace.find((s) => s.name === 'publish order.placed');
  expect(publish).toMatchObject({ service: 'order', kind: OTLP_KIND.PRODUCER });
  expect(publish!.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.operation.type': 'send' });
  const consumers = trace.filter((s) => s.name === 'process order.placed' && s.parentSpanId === publish!.spanId);
  expect(consumers.map((s) => [s.service, s.kind])).toEqual([['notification', OTLP_KIND.CONSUMER]]);
  const email = trace.find((s) => s.name === 'email.send')!;
  expect(email).toMatchObject({ service: 'notification', kind: OTLP_KIND.CLIENT });
  expect(byId.get(email.parentSpanId!)?.name).toBe('process order.placed');
  expect(email.attributes['email.template']).toBe('order-placed');

  // Every span but the gateway's first hangs under another span of this trace: nothing started a trace of its own.
  const orphans = trace.filter((s) => !byId.has(s.parentSpanId ?? ''));
  expect(orphans.map((s) => s.service)).toEqual(['gateway']);
}, 120_000);
