import type { ExecutionResult } from 'graphql';
import type { Sink } from 'graphql-ws';
import { createLogger } from '@shop/kernel';
import { BridgedStream, UpstreamEvent as Event, UpstreamSource } from '../src/subscriptionStream';

const sync = (e: Event): ExecutionResult => ({ data: e.data ?? null });

/**
 * The bridge's push-based stream on its own: a scripted upstream (the graphql-ws client's sink API) drives it, and
 * the test pulls like graphql-ws's server does. The socket paths (a subgraph instance lost, resumed) are covered end
 * to end in subscription-resume.test.ts.
 */
class ScriptedUpstream implements UpstreamSource {
  service = 'cart';
  released = jest.fn();
  constructor(readonly shape: (e: Event) => ExecutionResult | Promise<ExecutionResult> = sync) {}
  lines: string[] = [];
  logger = createLogger('test', 'info', { write: (line: string) => void this.lines.push(JSON.parse(line).msg) });
  sinks: Sink<Event>[] = [];
  disposed = 0;
  open(sink: Sink<Event>): () => void {
    this.sinks.push(sink as Sink<Event>);
    return () => void this.disposed++;
  }
  get sink(): Sink<Event> {
    return this.sinks[this.sinks.length - 1];
  }
}

/** The next n results, each copied as it arrives (a result is emptied once the next one is asked for). */
const pull = async (s: BridgedStream, n: number) => {
  const out: IteratorResult<ExecutionResult>[] = [];
  for (let i = 0; i < n; i++) {
    const r = await s.next();
    out.push(r.done ? r : { done: false, value: { ...r.value } });
  }
  return out;
};
const waitFor = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
};

it('delivers events queued before the client pulls, in order, then ends once the subgraph completes', async () => {
  const up = new ScriptedUpstream();
  const s = new BridgedStream(up);
  up.sink.next({ data: { n: 1 } });
  up.sink.next({ data: { n: 2 } });
  up.sink.complete();
  expect(up.released).toHaveBeenCalledTimes(1);
  const got = await pull(s, 3);
  expect(got.map((r) => (r.done ? 'done' : r.value.data!.n))).toEqual([1, 2, 'done']);
  expect(await s.next()).toEqual({ done: true, value: undefined });
  expect(up.released).toHaveBeenCalledTimes(1);
});

it('keeps the events order when shaping is asynchronous and finishes out of order', async () => {
  const delays = [40, 0, 15];
  let i = 0;
  const up = new ScriptedUpstream(
    (e) => new Promise((r) => setTimeout(() => r({ data: e.data ?? null }), delays[i++])),
  );
  const s = new BridgedStream(up);
  const pending = pull(s, 3);
  for (const n of [1, 2, 3]) up.sink.next({ data: { n } });
  expect((await pending).map((r) => r.value?.data?.n)).toEqual([1, 2, 3]);
});

it('re-subscribes after a lost connection, says SERVICE_UNAVAILABLE once when the second attempt fails too, then resumes', async () => {
  const up = new ScriptedUpstream();
  const s = new BridgedStream(up);
  const lost = Object.assign(new Error('socket hang up'), { code: 1006 });
  up.sink.next({ data: { n: 1 } });
  up.sink.error(lost);
  await waitFor(() => up.sinks.length === 2);
  // An event from the replaced upstream is ignored.
  up.sinks[0].next({ data: { n: 99 } });
  up.sink.error(lost);
  await waitFor(() => up.sinks.length === 3);
  up.sink.error(lost);
  await waitFor(() => up.sinks.length === 4);
  up.sink.next({ data: { n: 2 } });
  const got = await pull(s, 3);
  expect(got[0].value.data).toEqual({ n: 1 });
  expect(got[1].value.errors?.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual([
    'SERVICE_UNAVAILABLE',
  ]);
  expect(got[2].value.data).toEqual({ n: 2 });
  // One warning per outage, one line when it ends.
  expect(up.lines).toEqual(['upstream subscription lost; re-subscribing', 'upstream subscription resumed']);
  await s.return();
  expect(up.disposed).toBe(1);
});

it("ends with the subgraph's own error and does not re-subscribe", async () => {
  const up = new ScriptedUpstream();
  const s = new BridgedStream(up);
  up.sink.error([{ message: 'Not your cart', extensions: { code: 'FORBIDDEN' } }]);
  const [first, second] = await pull(s, 2);
  expect(first.value.errors[0].message).toBe('Not your cart');
  expect(first.value.errors[0].extensions.code).toBe('FORBIDDEN');
  expect(second.done).toBe(true);
  await new Promise((r) => setTimeout(r, 200));
  expect(up.sinks).toHaveLength(1);
  expect(up.released).toHaveBeenCalledTimes(1);
});

it('stops re-subscribing when the client leaves during the back-off, and releases once', async () => {
  const up = new ScriptedUpstream();
  const s = new BridgedStream(up);
  const waiting = s.next();
  up.sink.error(Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  await s.return();
  expect(await waiting).toEqual({ done: true, value: undefined });
  await new Promise((r) => setTimeout(r, 300));
  expect(up.sinks).toHaveLength(1);
  expect(up.released).toHaveBeenCalledTimes(1);
  await s.return();
  expect(up.released).toHaveBeenCalledTimes(1);
});

it("lets go of a result's payload once the client asks for the next one, and serializes results as before", async () => {
  const up = new ScriptedUpstream();
  const s = new BridgedStream(up);
  up.sink.next({ data: { n: 1 } });
  up.sink.next({ data: { n: 2 } });
  const first = await s.next();
  // What graphql-ws's server sends: the result's JSON, without `errors`/`extensions` keys when there are none.
  expect(JSON.stringify(first.value)).toBe('{"data":{"n":1}}');
  const payload = first.value.data;
  const second = await s.next();
  expect(JSON.stringify(second.value)).toBe('{"data":{"n":2}}');
  expect(second.value.data).not.toBe(payload);
  const waiting = s.next();
  // Asked for the next one: the last result no longer holds its payload.
  expect(second.value.data).toBeUndefined();
  up.sink.next({ data: { n: 3 } });
  expect((await waiting).value).toEqual({ data: { n: 3 }, errors: undefined, extensions: undefined });
  await s.return();
  expect(second.value.data).toBeUndefined();
});
