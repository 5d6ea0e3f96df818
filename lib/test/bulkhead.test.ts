import { AppError, Bulkhead } from '@shop/kernel';

/** A call that runs until its `finish` is called; `started` says whether it began. */
function held() {
  let finish!: (v?: unknown) => void;
  let fail!: (e: unknown) => void;
  const done = new Promise((resolve, reject) => ((finish = resolve), (fail = reject)));
  const call = { started: false, finish, fail, fn: async () => ((call.started = true), done) };
  return call;
}

const tick = () => new Promise((r) => setImmediate(r));

test('at most maxConcurrent run; the others start in arrival order as slots free up', async () => {
  const line = new Bulkhead({ maxConcurrent: 2, maxWaiting: 10, maxWaitMs: 10_000 });
  const calls = [held(), held(), held(), held()];
  // Outcomes collected as they come (a refusal is a message).
  const results = calls.map((c) => line.run(c.fn).catch((e: Error) => e.message));
  await tick();
  expect(calls.map((c) => c.started)).toEqual([true, true, false, false]);
  expect([line.active, line.waiting]).toEqual([2, 2]);
  calls[1].finish('b');
  await tick();
  expect(calls.map((c) => c.started)).toEqual([true, true, true, false]);
  // A failing call frees its slot too.
  calls[0].fail(new Error('declined'));
  await tick();
  expect(calls[3].started).toBe(true);
  calls[2].finish('c');
  calls[3].finish('d');
  expect(await Promise.all(results)).toEqual(['declined', 'b', 'c', 'd']);
  expect([line.active, line.waiting]).toEqual([0, 0]);
});

test('a full line refuses at once with RATE_LIMITED (retry after 1 s); the refused call never runs', async () => {
  const line = new Bulkhead({ maxConcurrent: 1, maxWaiting: 1, maxWaitMs: 10_000, busyMessage: 'busy' });
  const [a, b, c] = [held(), held(), held()];
  const ra = line.run(a.fn);
  const rb = line.run(b.fn);
  const err = await line.run(c.fn).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect(err).toMatchObject({ message: 'busy', extensions: { code: 'RATE_LIMITED', retryAfter: 1 } });
  expect(c.started).toBe(false);
  a.finish();
  b.finish();
  await Promise.all([ra, rb]);
  expect(b.started).toBe(true);
});

test('a call that waited longer than maxWaitMs is refused and never starts; the line moves on without it', async () => {
  const line = new Bulkhead({ maxConcurrent: 1, maxWaiting: 5, maxWaitMs: 50 });
  const [a, b, c] = [held(), held(), held()];
  const ra = line.run(a.fn);
  const rb = line.run(b.fn).catch((e: AppError) => e.extensions.code);
  await new Promise((r) => setTimeout(r, 80));
  expect(await rb).toBe('RATE_LIMITED');
  expect(line.waiting).toBe(0);
  const rc = line.run(c.fn);
  a.finish();
  await ra;
  await tick();
  expect(b.started).toBe(false);
  expect(c.started).toBe(true);
  c.finish();
  await rc;
  expect(line.active).toBe(0);
});

test('maxConcurrent 0: no limit, nothing waits', async () => {
  const line = new Bulkhead({ maxConcurrent: 0, maxWaiting: 0, maxWaitMs: 1 });
  const calls = Array.from({ length: 50 }, () => held());
  const results = calls.map((c) => line.run(c.fn));
  await tick();
  expect(calls.every((c) => c.started)).toBe(true);
  calls.forEach((c) => c.finish());
  await Promise.all(results);
});
