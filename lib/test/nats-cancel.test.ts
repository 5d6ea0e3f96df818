import { randomBytes } from 'node:crypto';
import { connect, ErrorCode, NatsConnection, NatsError } from 'nats';
import { stacklessCancelledErrors } from '../src/nats-cancel';
import { createTestEnv, TestEnv } from '../src/testing';

/**
 * nats.js rejects every settled request with a "cancelled" error nobody sees; the kernel has it made without a stack
 * (lib/src/nats-cancel.ts). What callers see does not change: real errors keep their stacks.
 */
let env: TestEnv;
let nc: NatsConnection;
beforeAll(async () => {
  env = await createTestEnv();
  stacklessCancelledErrors();
  nc = await connect({ servers: env.config.natsUrl, noAsyncTraces: true });
});
afterAll(async () => {
  await nc?.close();
  await env?.cleanup();
});

type Maker = { errorForCode: (code: string, chained?: Error) => NatsError };
const hasFrames = (err: Error) => /\n\s+at /.test(err.stack ?? '');

/** The errors nats.js makes while `fn` runs. */
async function errorsMadeDuring(fn: () => Promise<unknown>): Promise<NatsError[]> {
  const maker = NatsError as unknown as Maker;
  const make = maker.errorForCode;
  const made: NatsError[] = [];
  maker.errorForCode = function (this: unknown, code, chained) {
    const err = make.call(this, code, chained);
    made.push(err);
    return err;
  };
  try {
    await fn();
  } finally {
    maker.errorForCode = make;
  }
  return made;
}

it('a request that was answered leaves its "cancelled" error without a stack', async () => {
  const subject = `echo.${randomBytes(4).toString('hex')}`;
  const sub = nc.subscribe(subject, { callback: (_e, m) => m.respond(m.data) });
  await nc.flush();
  const made = await errorsMadeDuring(async () => {
    for (let i = 0; i < 5; i++) await nc.request(subject, new Uint8Array([i]), { timeout: 5000 });
  });
  sub.unsubscribe();
  // nats.js still makes one per request (if it stopped, this patch would have become useless: remove it).
  expect(made.map((e) => e.code)).toEqual(Array(5).fill(ErrorCode.Cancelled));
  expect(made.filter(hasFrames)).toEqual([]);
  expect(made.every((e) => e instanceof NatsError)).toBe(true);
});

it('a request that times out still rejects with TIMEOUT and a stack', async () => {
  const subject = `silent.${randomBytes(4).toString('hex')}`;
  const sub = nc.subscribe(subject, { callback: () => undefined });
  await nc.flush();
  const err = (await nc.request(subject, new Uint8Array(1), { timeout: 50 }).catch((e: unknown) => e)) as NatsError;
  sub.unsubscribe();
  expect(err).toBeInstanceOf(NatsError);
  expect(err.code).toBe(ErrorCode.Timeout);
  expect(hasFrames(err)).toBe(true);
});

it('is applied once however often it is called', () => {
  const before = (NatsError as unknown as Maker).errorForCode;
  stacklessCancelledErrors();
  expect((NatsError as unknown as Maker).errorForCode).toBe(before);
  const direct = (NatsError as unknown as Maker).errorForCode(ErrorCode.Cancelled);
  expect(direct.code).toBe(ErrorCode.Cancelled);
  expect(hasFrames(direct)).toBe(false);
  expect(hasFrames((NatsError as unknown as Maker).errorForCode(ErrorCode.Timeout))).toBe(true);
});
