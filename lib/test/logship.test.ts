import { Writable } from 'node:stream';
import { connect } from 'nats';
import { acceptRequestId, createLogger, isUuid, LogShipper, logStreamName, redactLogFields, scrubLine } from '../src';
import { eventually, PrivateNats, startPrivateNats } from '../src/testing';

describe('acceptRequestId', () => {
  it('keeps a UUID or a short token', () => {
    for (const id of ['3f1c2a64-8a8e-4a53-9d5e-0e0c8a2b9f10', 'abc', 'A.b_c-9', 'x'.repeat(64)])
      expect(acceptRequestId(id)).toBe(id);
  });
  it('replaces anything else with a fresh UUID', () => {
    for (const id of [undefined, null, '', 'x'.repeat(65), 'with space', 'a\nb', 'ümlaut', '{"a":1}', 'a/b']) {
      const got = acceptRequestId(id);
      expect(got).not.toBe(id);
      expect(isUuid(got)).toBe(true);
    }
  });
});

describe('redaction of shipped lines', () => {
  it('leaves a line without secrets untouched (no parse on the way out)', () => {
    const line = '{"level":30,"msg":"ok","password":"[redacted]","user":{"id":"u1"}}\n';
    expect(scrubLine(line)).toBe(line);
  });
  it('redacts secrets pino left deeper than its paths reach', () => {
    const line = JSON.stringify({ msg: 'x', a: { b: { c: { d: { token: 't', refreshToken: 'r' } } } }, n: 1 });
    expect(JSON.parse(scrubLine(line)!)).toEqual({
      msg: 'x',
      a: { b: { c: { d: { token: '[redacted]', refreshToken: '[redacted]' } } } },
      n: 1,
    });
    expect(redactLogFields([{ authorization: 'Bearer x' }, 'plain'])).toEqual([
      { authorization: '[redacted]' },
      'plain',
    ]);
  });
});

describe('LogShipper with the broker down', () => {
  let nats: PrivateNats;
  beforeAll(async () => {
    nats = await startPrivateNats();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  const devNull = () => new Writable({ write: (_c, _e, done) => done() });

  /** Lines stored in the stream (no consumer here: a work queue keeps them). */
  async function linesInStream(prefix: string): Promise<number> {
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(logStreamName(prefix));
      let lines = 0;
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(logStreamName(prefix), { seq }).catch(() => undefined);
        if (m) lines += new TextDecoder().decode(m.data).split('\n').filter(Boolean).length;
      }
      return lines;
    } finally {
      await nc.close();
    }
  }

  it('never blocks a log call; what cannot leave is counted as dropped, the rest ships once the broker is back', async () => {
    const prefix = 'shiptest';
    const shipper = new LogShipper({
      service: 'down',
      maxBufferedLines: 1000,
      batchLines: 50,
      flushIntervalMs: 50,
      publishAttempts: 2,
      publishTimeoutMs: 300,
    });
    const log = createLogger('down', 'info', devNull(), { ship: shipper });
    await shipper.connect({ natsUrl: nats.url, natsPrefix: prefix });
    for (let i = 0; i < 100; i++) log.info({ i }, 'before the outage');
    await shipper.drain(5000);
    expect(shipper.stats).toEqual({ shipped: 100, dropped: 0 });

    await nats.stop();
    for (let i = 0; i < 2000; i++) log.info({ i }, 'during the outage');
    // The buffer holds 1000; the rest was dropped at once, inside the log calls, without waiting. What the buffer
    // holds (and any batch caught in flight) waits for the broker.
    expect(shipper.stats.dropped).toBeGreaterThanOrEqual(1000);
    expect(shipper.stats.shipped).toBe(100);

    await nats.start();
    await eventually('the buffer to empty after the broker is back', async () => shipper.buffered === 0, 20_000);
    await shipper.drain(10_000);
    for (let i = 0; i < 100; i++) log.info({ i }, 'after the outage');
    await shipper.drain(10_000);
    const { shipped, dropped } = shipper.stats;
    expect(shipped + dropped).toBe(2200);
    expect(shipped).toBeGreaterThanOrEqual(200);
    expect(await linesInStream(prefix)).toBe(shipped);
    await shipper.close();
  });
});
