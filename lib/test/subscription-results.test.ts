import { buildSchema, ExecutionResult, parse } from 'graphql';
import { PulledResults, PushedResults, PushSink, PushSource, subscribeLent } from '../src/subscription-results';

const schema = buildSchema(`
  type Tick { n: Int! label: String! }
  type Query { ok: Boolean }
  type Subscription { tick: Tick }
`);
const document = parse('subscription { tick { n label } }');

/** A pushing source like the cart's timer queue: events queue until a consumer attaches, then go to it. */
class Source implements PushSource<unknown> {
  sink: PushSink<unknown> | undefined;
  attached = 0;
  returned = 0;
  readonly queued: unknown[] = [];
  constructor(readonly maxBacklog?: number) {}
  attach(sink: PushSink<unknown>): void {
    this.attached++;
    this.sink = sink;
    for (const e of this.queued) sink.push(e);
  }
  emit(n: number, label: unknown = `t${n}`): void {
    const event = { tick: { n, label } };
    if (this.sink) this.sink.push(event);
    else this.queued.push(event);
  }
  next(): Promise<IteratorResult<unknown>> {
    throw new Error('a pushed source is never pulled');
  }
  async return(): Promise<IteratorResult<unknown>> {
    this.returned++;
    return { done: true, value: undefined };
  }
  [Symbol.asyncIterator]() {
    return this;
  }
}

const subscribeTo = (source: AsyncIterator<unknown> | (() => never)) =>
  subscribeLent({ schema, document, rootValue: { tick: typeof source === 'function' ? source : () => source } });

const json = (r: IteratorResult<ExecutionResult>) => (r.done ? 'done' : JSON.stringify(r.value));

it('executes each pushed event as it arrives, in order, and ends after what was queued', async () => {
  const source = new Source();
  source.emit(1);
  const stream = (await subscribeTo(source)) as PushedResults;
  expect(stream).toBeInstanceOf(PushedResults);
  expect(source.attached).toBe(1);
  source.emit(2);
  // One next() at a time, as graphql-ws's `for await` asks.
  expect(json(await stream.next())).toBe('{"data":{"tick":{"n":1,"label":"t1"}}}');
  expect(json(await stream.next())).toBe('{"data":{"tick":{"n":2,"label":"t2"}}}');
  const waiting = stream.next();
  source.emit(3);
  source.sink!.end();
  source.emit(4); // after the end: dropped
  expect(json(await waiting)).toBe('{"data":{"tick":{"n":3,"label":"t3"}}}');
  expect(await stream.next()).toEqual({ done: true, value: undefined });
  // The source ended the stream itself: it is not told again.
  expect(source.returned).toBe(0);
});

it('lends each result: its payload is let go when the next one is asked for', async () => {
  const source = new Source();
  const stream = (await subscribeTo(source)) as PushedResults;
  source.emit(1);
  const first = await stream.next();
  expect(first.value.data).toEqual({ tick: { n: 1, label: 't1' } });
  const pending = stream.next();
  expect(first.value.data).toBeUndefined();
  source.emit(2);
  expect((await pending).value.data).toEqual({ tick: { n: 2, label: 't2' } });
});

it('a field error in one event is that event’s error; the stream goes on', async () => {
  const source = new Source();
  const stream = (await subscribeTo(source)) as PushedResults;
  source.emit(1, null);
  source.emit(2);
  const bad = await stream.next();
  expect(bad.value.data).toEqual({ tick: null });
  expect(bad.value.errors?.map((e: { path?: unknown }) => e.path)).toEqual([['tick', 'label']]);
  expect(json(await stream.next())).toBe('{"data":{"tick":{"n":2,"label":"t2"}}}');
});

it('return() (the subscriber left) tells the source once and ends a waiting next()', async () => {
  const source = new Source();
  const stream = (await subscribeTo(source)) as PushedResults;
  const waiting = stream.next();
  expect(await stream.return()).toEqual({ done: true, value: undefined });
  await stream.return();
  expect(await waiting).toEqual({ done: true, value: undefined });
  expect(source.returned).toBe(1);
  source.emit(5);
  expect(await stream.next()).toEqual({ done: true, value: undefined });
});

it('keeps at most the source’s backlog of undelivered results, the newest', async () => {
  const source = new Source(2);
  const stream = (await subscribeTo(source)) as PushedResults;
  for (const n of [1, 2, 3, 4]) source.emit(n);
  expect(json(await stream.next())).toBe('{"data":{"tick":{"n":3,"label":"t3"}}}');
  expect(json(await stream.next())).toBe('{"data":{"tick":{"n":4,"label":"t4"}}}');
});

it('pulls any other source as graphql-js does, lending the results and passing return() on', async () => {
  let returned = false;
  async function* ticks() {
    try {
      yield { tick: { n: 1, label: 'a' } };
      yield { tick: { n: 2, label: 'b' } };
    } finally {
      returned = true;
    }
  }
  const stream = (await subscribeTo(ticks())) as PulledResults;
  expect(stream).toBeInstanceOf(PulledResults);
  const first = await stream.next();
  expect(json(first)).toBe('{"data":{"tick":{"n":1,"label":"a"}}}');
  const asked = stream.next();
  expect(first.value.data).toBeUndefined();
  expect(json(await asked)).toBe('{"data":{"tick":{"n":2,"label":"b"}}}');
  expect(await stream.return()).toEqual({ done: true, value: undefined });
  expect(returned).toBe(true);
});

it('a subscribe resolver that fails gives a single result with its error (no stream)', async () => {
  const outcome = await subscribeTo(() => {
    throw new Error('no such cart');
  });
  expect(Symbol.asyncIterator in outcome).toBe(false);
  expect((outcome as ExecutionResult).errors?.[0].message).toBe('no such cart');
});
