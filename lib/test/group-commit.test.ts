import { GroupCommit } from '../src';

/** A write that records its batches and finishes only when the test lets it. */
function gatedWrite<T>() {
  const batches: T[][] = [];
  const gates: (() => void)[] = [];
  let failNext: Error | undefined;
  const write = async (items: T[]) => {
    batches.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    if (failNext) {
      const err = failNext;
      failNext = undefined;
      throw err;
    }
    return items.map((i) => `done ${String(i)}`);
  };
  return {
    batches,
    write,
    /** Lets the oldest running write finish, and waits until the next has started (or nothing is left). */
    finish: async () => {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    },
    failNextWith: (err: Error) => (failNext = err),
  };
}

describe('GroupCommit', () => {
  it('the first item goes at once and alone; items submitted while it runs go together next, each with its own result', async () => {
    const w = gatedWrite<number>();
    const gc = new GroupCommit<number, string>(w.write);
    const first = gc.submit(1);
    expect(w.batches).toEqual([[1]]);
    const rest = [2, 3, 4].map((i) => gc.submit(i));
    expect(w.batches).toEqual([[1]]);
    await w.finish();
    expect(await first).toBe('done 1');
    expect(w.batches).toEqual([[1], [2, 3, 4]]);
    await w.finish();
    expect(await Promise.all(rest)).toEqual(['done 2', 'done 3', 'done 4']);
    // Idle again: the next item goes at once.
    const later = gc.submit(5);
    expect(w.batches).toEqual([[1], [2, 3, 4], [5]]);
    await w.finish();
    expect(await later).toBe('done 5');
  });

  it('a failed write rejects its own batch only; the next batch is written', async () => {
    const w = gatedWrite<string>();
    const gc = new GroupCommit<string, string>(w.write);
    const a = gc.submit('a').catch((err: Error) => `failed: ${err.message}`);
    const b = gc.submit('b');
    const c = gc.submit('c');
    w.failNextWith(new Error('connection lost'));
    await w.finish();
    expect(await a).toBe('failed: connection lost');
    expect(w.batches).toEqual([['a'], ['b', 'c']]);
    await w.finish();
    expect(await Promise.all([b, c])).toEqual(['done b', 'done c']);
  });

  it('takes at most maxBatch items per write', async () => {
    const w = gatedWrite<number>();
    const gc = new GroupCommit<number, string>(w.write, { maxBatch: 2 });
    const all = [1, 2, 3, 4, 5, 6].map((i) => gc.submit(i));
    await w.finish();
    await w.finish();
    await w.finish();
    await w.finish();
    expect(await Promise.all(all)).toHaveLength(6);
    expect(w.batches).toEqual([[1], [2, 3], [4, 5], [6]]);
  });

  it('afterTurn: the items submitted in the same turn go together in the first write, then those that come while it runs', async () => {
    const w = gatedWrite<number>();
    const gc = new GroupCommit<number, string>(w.write, { afterTurn: true });
    const first = [1, 2, 3].map((i) => gc.submit(i));
    expect(w.batches).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(w.batches).toEqual([[1, 2, 3]]);
    const next = gc.submit(4);
    await new Promise((r) => setImmediate(r));
    const last = gc.submit(5);
    expect(w.batches).toEqual([[1, 2, 3]]);
    await w.finish();
    expect(w.batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    await w.finish();
    expect(await Promise.all([...first, next, last])).toEqual(['done 1', 'done 2', 'done 3', 'done 4', 'done 5']);
  });
});
