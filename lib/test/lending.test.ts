import { ExecutionResult } from 'graphql';
import { lendResults, LendingIterator } from '../src/lending';

async function* events(): AsyncGenerator<ExecutionResult> {
  yield { data: { n: 1 } };
  yield { data: { n: 2 }, errors: undefined };
}

it("lends each result until the next one is asked for, then lets its payload go; the JSON is the result's", async () => {
  const it = lendResults(events()) as LendingIterator;
  const first = await it.next();
  expect(JSON.stringify(first.value)).toBe('{"data":{"n":1}}');
  const second = await it.next();
  expect(JSON.stringify(second.value)).toBe('{"data":{"n":2}}');
  const end = it.next();
  // Asked for the next one: the last result no longer holds its payload.
  expect(second.value.data).toBeUndefined();
  expect(await end).toEqual({ done: true, value: undefined });
});

it('passes return() to the source (graphql-ws ends a subscription that way) and lets go of the last payload', async () => {
  let returned = false;
  const source = {
    next: async () => ({ done: false as const, value: { data: { n: 1 } } }),
    return: async () => {
      returned = true;
      return { done: true as const, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  const it = lendResults(source as AsyncIterable<ExecutionResult>) as LendingIterator;
  const first = await it.next();
  expect(await it.return()).toEqual({ done: true, value: undefined });
  expect(returned).toBe(true);
  expect(first.value.data).toBeUndefined();
});

it('leaves a single result (a subscription refused with errors) as it is', () => {
  const refused: ExecutionResult = { errors: [] };
  expect(lendResults(refused)).toBe(refused);
});
