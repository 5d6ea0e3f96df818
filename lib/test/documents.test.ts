import { buildSchema } from 'graphql';
import { DocumentCache, DocumentCheck, parseAndValidate } from '../src/documents';

const schema = buildSchema(`type Query { a: Int } type Subscription { tick(n: Int!): Int }`);

/** A cache over graphql-js's check that counts how often the check really ran. */
function cache(max?: number): { docs: DocumentCache; runs: () => number } {
  let runs = 0;
  const check = parseAndValidate(schema);
  const docs = new DocumentCache((q): DocumentCheck => (runs++, check(q)), max);
  return { docs, runs: () => runs };
}

test('the same query text is parsed and validated once: every subscriber shares one document', () => {
  const { docs, runs } = cache();
  const a = docs.get('subscription($n: Int!) { tick(n: $n) }');
  const b = docs.get('subscription($n: Int!) { tick(n: $n) }');
  expect(a.errors).toBeUndefined();
  expect(b.document).toBe(a.document);
  expect(runs()).toBe(1);
  expect(docs.get('subscription { tick(n: 1) }').document).not.toBe(a.document);
});

test('a refused text is checked and refused again, never remembered as valid', () => {
  const { docs, runs } = cache();
  const first = docs.get('subscription { nope }');
  const second = docs.get('subscription { nope }');
  expect(first.errors?.[0].message).toMatch(/nope/);
  expect(second.errors?.map((e) => e.message)).toEqual(first.errors?.map((e) => e.message));
  expect(runs()).toBe(2);
  expect(docs.get('subscription {').errors?.[0].message).toMatch(/Syntax Error/);
  expect(docs.get(42).errors?.[0].message).toMatch(/query string is required/);
});

test('bounded: the least recently used text is forgotten first', () => {
  const { docs } = cache(2);
  const one = docs.get('subscription { tick(n: 1) }').document;
  const two = docs.get('subscription { tick(n: 2) }').document;
  expect(docs.get('subscription { tick(n: 1) }').document).toBe(one); // 1 is now the most recent
  docs.get('subscription { tick(n: 3) }'); // evicts 2
  expect(docs.get('subscription { tick(n: 1) }').document).toBe(one);
  expect(docs.get('subscription { tick(n: 2) }').document).not.toBe(two);
});
