import { Writable } from 'node:stream';
import { createLogger, LogShipper, registry } from '@shop/kernel';
import { createTestEnv, TestEnv } from '@shop/kernel/testing';
import notification, { StartedNotification } from '../src';
import { eventually } from './helpers';

/**
 * The shipper under pressure, against the real broker and store: every line a logger is given ends up either
 * stored or counted in `shop_log_lines_dropped_total`, never both and never neither. The notification subgraph's own
 * lines are not shipped here (LOG_SHIPPING stays off in this env), so the metric moves only with the loggers below.
 */
let env: TestEnv;
let svc: StartedNotification;

beforeAll(async () => {
  env = await createTestEnv();
  svc = await notification.start({
    config: env.config,
    keys: env.keys,
    logger: env.logger.child({}, { level: 'silent' }),
    port: 0,
  });
});
afterAll(async () => {
  await svc?.stop();
  await env?.cleanup();
});

/** A destination that throws lines away: the flood must not reach the test's stdout. */
const devNull = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

async function metric(name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  return m ? (await m.get()).values.reduce((sum, v) => sum + v.value, 0) : 0;
}

async function shippingLogger(service: string): Promise<{ shipper: LogShipper; log: ReturnType<typeof createLogger> }> {
  const shipper = new LogShipper({ service, maxBufferedLines: env.config.logs.bufferLines });
  await shipper.connect(env.config);
  return { shipper, log: createLogger(service, 'info', devNull(), { ship: shipper }) };
}

const stored = (service: string) => svc.stores.logs.count({ service });

it('a flood of 100,000 lines: stored + dropped = sent', async () => {
  const sent = 100_000;
  const droppedBefore = await metric('shop_log_lines_dropped_total');
  const shippedBefore = await metric('shop_log_lines_shipped_total');
  const { shipper, log } = await shippingLogger('flood');
  // As fast as possible, without yielding: far more than the buffer (LOG_SHIP_BUFFER_LINES, 10,000) holds.
  for (let i = 0; i < sent; i++) log.info({ i, orderId: 'o-42' }, 'flooding the log');
  await shipper.drain(60_000);
  const dropped = (await metric('shop_log_lines_dropped_total')) - droppedBefore;
  const shipped = (await metric('shop_log_lines_shipped_total')) - shippedBefore;
  expect(dropped).toBeGreaterThan(0);
  expect(shipped + dropped).toBe(sent);
  expect(shipper.stats).toEqual({ shipped, dropped });
  // The store catches up with exactly what was shipped, and nothing more arrives.
  await eventually('the store to catch up', async () => (await stored('flood')) === shipped, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  expect((await stored('flood')) + dropped).toBe(sent);
  await shipper.close();
});

it('at a normal rate (2,000 lines, 20 per 10 ms) nothing is dropped', async () => {
  const droppedBefore = await metric('shop_log_lines_dropped_total');
  const { shipper, log } = await shippingLogger('steady');
  for (let tick = 0; tick < 100; tick++) {
    for (let i = 0; i < 20; i++) log.info({ tick, i }, 'steady traffic');
    await new Promise((r) => setTimeout(r, 10));
  }
  await shipper.drain(30_000);
  expect((await metric('shop_log_lines_dropped_total')) - droppedBefore).toBe(0);
  expect(shipper.stats).toEqual({ shipped: 2000, dropped: 0 });
  await eventually('2,000 stored lines', async () => (await stored('steady')) === 2000, 30_000);
  await shipper.close();
});

it('buffers lines until a connection is attached, and counts what the buffer cannot hold', async () => {
  const droppedBefore = await metric('shop_log_lines_dropped_total');
  const shipper = new LogShipper({ service: 'late', maxBufferedLines: 100 });
  const log = createLogger('late', 'info', devNull(), { ship: shipper });
  for (let i = 0; i < 150; i++) log.info({ i }, 'before the broker');
  expect(shipper.buffered).toBe(100);
  expect((await metric('shop_log_lines_dropped_total')) - droppedBefore).toBe(50);
  await shipper.connect(env.config);
  await shipper.drain(10_000);
  await eventually('the buffered lines stored', async () => (await stored('late')) === 100);
  await shipper.close();
});
