import { Bus, makeEvent, registry } from '@shop/kernel';
import { createTestEnv, eventually, TestEnv } from '@shop/kernel/testing';

/**
 * NATS metrics move by exactly the traffic: N publishes → published +N; N deliveries acked → consumed{ack} +N; a
 * handler failing once → one retry and one redelivery; the consumer's pending counts are read from JetStream at scrape.
 */
let env: TestEnv;
let bus: Bus;
beforeAll(async () => {
  env = await createTestEnv();
  bus = await Bus.connect(env.config, env.logger, 'metrics-test');
});
afterAll(async () => {
  await bus?.close();
  await env?.cleanup();
});

async function value(name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
    .reduce((sum, v) => sum + v.value, 0);
}

const TYPE = 'product.metrics_probe';
const labels = { service: 'metrics-test' };

test('N publishes count N; pending is read at scrape; N acked deliveries count N; a retry counts a redelivery', async () => {
  const published = () => value('shop_nats_published_total', { ...labels, type: TYPE });
  const before = await published();
  for (let i = 0; i < 7; i++) await bus.publish(makeEvent(TYPE, { i }));
  expect((await published()) - before).toBe(7);

  // The consumer is created with 7 messages waiting; the handler fails the first delivery of message 0 once.
  let failed = false;
  let handled = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const consumer = 'metrics-probe-product_metrics_probe';
  const pending = () => value('shop_nats_consumer_pending_messages', { ...labels, consumer });
  await bus.consume({
    durable: 'metrics-probe',
    subjects: [TYPE],
    ackWaitMs: 2000,
    handler: async (event) => {
      await gate;
      if ((event.data as { i: number }).i === 0 && !failed) {
        failed = true;
        throw new Error('first attempt fails');
      }
      handled++;
    },
  });
  // Held by the gate: all 7 delivered to this client and none acknowledged yet, as JetStream reports at scrape time.
  const unacked = () => value('shop_nats_consumer_ack_pending_messages', { ...labels, consumer });
  await eventually('7 messages awaiting their ack', async () => (await unacked()) === 7, 10_000);
  open();
  const acked = () => value('shop_nats_consumed_total', { ...labels, consumer, outcome: 'ack' });
  await eventually('7 messages handled', async () => handled === 7 && (await acked()) === 7, 20_000);
  expect(await value('shop_nats_consumed_total', { ...labels, consumer, outcome: 'retry' })).toBe(1);
  expect(await value('shop_nats_redelivered_total', { ...labels, consumer })).toBe(1);
  // Everything delivered: nothing pending at scrape time (the gauge is read through registry.metrics()).
  await registry.metrics();
  expect(await pending()).toBe(0);
  expect(await registry.metrics()).toMatch(
    new RegExp(`shop_nats_consumer_pending_messages\\{service="metrics-test",consumer="${consumer}"\\} 0`),
  );
}, 60_000);
