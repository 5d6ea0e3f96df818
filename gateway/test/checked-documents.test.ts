import { buildSchema } from 'graphql';
import { loadConfig } from '@shop/kernel';
import { CheckedDocuments, limitRules } from '../src/edge/limits';

const schema = buildSchema(`type Query { a: Int } type Subscription { tick(n: Int!): Int }`);

function documents(max?: number): CheckedDocuments {
  const limits = loadConfig({}).edge.limits;
  return new CheckedDocuments(schema, limits, limitRules(limits), max);
}

test('the same query text is parsed and validated once: every subscriber shares one document', () => {
  const docs = documents();
  const a = docs.check('subscription($n: Int!) { tick(n: $n) }');
  const b = docs.check('subscription($n: Int!) { tick(n: $n) }');
  expect(a.errors).toBeUndefined();
  expect(b.document).toBe(a.document);
  expect(docs.check('subscription { tick(n: 1) }').document).not.toBe(a.document);
});

test('a refused document is refused again with the same coded errors, never remembered as valid', () => {
  const docs = documents();
  const first = docs.check('subscription { nope }');
  const second = docs.check('subscription { nope }');
  expect(first.errors?.[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(second.errors?.map((e) => e.message)).toEqual(first.errors?.map((e) => e.message));
  expect(docs.check('subscription {').errors?.[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
  expect(docs.check(42).errors?.[0].extensions.code).toBe('BAD_REQUEST');
});

test('bounded: the least recently used text is forgotten first', () => {
  const docs = documents(2);
  const one = docs.check('subscription { tick(n: 1) }').document;
  const two = docs.check('subscription { tick(n: 2) }').document;
  expect(docs.check('subscription { tick(n: 1) }').document).toBe(one); // 1 is now the most recent
  docs.check('subscription { tick(n: 3) }'); // evicts 2
  expect(docs.check('subscription { tick(n: 1) }').document).toBe(one);
  expect(docs.check('subscription { tick(n: 2) }').document).not.toBe(two);
});
