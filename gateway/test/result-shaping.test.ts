import fs from 'node:fs';
import path from 'node:path';
import { parse, DocumentNode, OperationDefinitionNode, Kind } from 'graphql';
import * as fi from '@apollo/federation-internals';
import { computeResponse as libraryComputeResponse } from '@apollo/gateway/dist/resultShaping';
import { computeResponse } from '../src/perf/resultShaping';

/**
 * gateway/src/perf/resultShaping.ts must answer exactly what @apollo/gateway's own `computeResponse` answers — data,
 * error messages and paths, null bubbling, thrown assertions — for every operation the clients send, on random data
 * with missing, null, wrongly typed and wrongly named values, with different variables on the same (reused)
 * operation object. A shaping that kept anything of one response for the next (or of one variable set for another)
 * would differ from the library on the second call.
 */
const ROOT = path.join(__dirname, '../..');
const api = fi.Supergraph.build(fs.readFileSync(path.join(ROOT, 'schema/supergraph.graphql'), 'utf8')).apiSchema();

function documents(): { name: string; doc: DocumentNode; op: OperationDefinitionNode }[] {
  const out: { name: string; doc: DocumentNode; op: OperationDefinitionNode }[] = [];
  for (const dir of ['bench', 'storefront', 'admin']) {
    const d = path.join(ROOT, 'schema/operations', dir);
    for (const f of fs.readdirSync(d).filter((x) => x.endsWith('.graphql'))) {
      const doc = parse(fs.readFileSync(path.join(d, f), 'utf8'));
      for (const op of doc.definitions.filter(
        (x): x is OperationDefinitionNode => x.kind === Kind.OPERATION_DEFINITION,
      ))
        if (op.operation !== 'subscription') out.push({ name: `${dir}/${f}#${op.name?.value}`, doc, op });
    }
  }
  // Conditions, aliases, __typename (aliased too) and inline fragments, which no client file happens to combine.
  const extra = parse(`query Extra($withPrice: Boolean!, $skipName: Boolean = false) {
    t: __typename
    products(first: 2) {
      __typename
      edges { node { id kind: __typename name @skip(if: $skipName) price @include(if: $withPrice) { amount }
        ... on Product { sku again: name @include(if: true) } } }
    }
  }`);
  out.push({ name: 'extra', doc: extra, op: extra.definitions[0] as OperationDefinitionNode });
  return out;
}

/** A deterministic generator (the same data every run). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random subgraph-merged data for a selection set: mostly right, sometimes null, missing, wrongly typed or named. */
function randomData(selectionSet: any, random: () => number): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const selection of selectionSet.selections()) {
    if (selection.kind !== 'FieldSelection') {
      Object.assign(obj, randomData(selection.selectionSet, random));
      continue;
    }
    const field = selection.element;
    const name = field.responseName();
    if (field.name === '__typename') {
      const r = random();
      if (r < 0.9) obj[name] = field.parentType.name;
      else if (r < 0.95) obj[name] = 'NoSuchType';
      continue;
    }
    const r = random();
    if (r < 0.03) continue; // missing
    obj[name] = r < 0.1 ? null : value(field.definition.type, selection.selectionSet, random);
  }
  if (random() < 0.03) obj.__typename = 'NoSuchType';
  return obj;
}

function value(type: any, selectionSet: any, random: () => number): unknown {
  if (fi.isNonNullType(type)) return value(type.ofType, selectionSet, random);
  if (fi.isListType(type))
    return Array.from({ length: Math.floor(random() * 3) }, () =>
      random() < 0.05 ? null : value(type.ofType, selectionSet, random),
    );
  if (fi.isCompositeType(type)) return randomData(selectionSet, random);
  if (random() < 0.02) return { wrong: true }; // an invalid leaf
  switch (type.name) {
    case 'Int':
      return Math.floor(random() * 1000);
    case 'Float':
      return random() * 100;
    case 'Boolean':
      return random() < 0.5;
    default:
      return fi.isEnumType(type) ? type.values[0].name : `v${Math.floor(random() * 100)}`;
  }
}

type Outcome = { data?: unknown; errors?: [string, unknown][]; threw?: string };
function run(fn: typeof computeResponse, args: Parameters<typeof computeResponse>[0]): Outcome {
  try {
    const r = fn(args);
    // Both build null-prototype objects: compare as plain JSON.
    return { data: JSON.parse(JSON.stringify(r.data ?? null)), errors: r.errors.map((e: any) => [e.message, e.path]) };
  } catch (err) {
    return { threw: (err as Error).message };
  }
}

test.each(documents().map((d) => [d.name, d] as const))(
  '%s: the same answers as the library on 300 random results, on one reused operation',
  (_name, { doc, op }) => {
    const fragments = doc.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
    const operation = fi.operationFromDocument(
      api,
      { kind: Kind.DOCUMENT, definitions: [op, ...fragments] },
      { validate: false },
    ) as any;
    const random = rng(op.name?.value.length ?? 7);
    let errorsSeen = 0;
    for (let i = 0; i < 300; i++) {
      const input = random() < 0.02 ? null : randomData(operation.selectionSet, random);
      const variables: Record<string, unknown> = { withPrice: random() < 0.5, skipName: random() < 0.5 };
      const args = {
        operation,
        variables,
        input: input as any,
        introspectionHandling: () => ({ introspected: true }),
      };
      const theirs = run(libraryComputeResponse as never, args);
      const ours = run(computeResponse, args);
      expect(ours).toEqual(theirs);
      if (theirs.errors?.length || theirs.threw) errorsSeen++;
    }
    // The random data really exercised the error paths (nulls in non-null fields, invalid values and typenames).
    expect(errorsSeen).toBeGreaterThan(0);
  },
);

test('a variable an @include needs but the request lacks fails the same way', () => {
  const doc = parse(`query V($w: Boolean!) { products(first: 1) { edges { node { id name @include(if: $w) } } } }`);
  const operation = fi.operationFromDocument(api, doc, { validate: false }) as any;
  const input = { products: { edges: [{ node: { id: '1', name: 'n' } }] } };
  const args = { operation, variables: {}, input, introspectionHandling: () => null };
  const theirs = run(libraryComputeResponse as never, args);
  expect(theirs.threw).toMatch(/Unexpected value undefined/);
  expect(run(computeResponse, args)).toEqual(theirs);
});

test('a response key `__proto__` (an alias) is an own key of the answer, as with the library', () => {
  const doc = parse(`{ products(first: 1) { edges { node { __proto__: name id } } } }`);
  const operation = fi.operationFromDocument(api, doc, { validate: false }) as any;
  // JSON.parse makes `__proto__` an own key, as in a subgraph's answer.
  const input = JSON.parse('{"products":{"edges":[{"node":{"__proto__":"n","id":"1"}}]}}');
  const args = { operation, variables: {}, input, introspectionHandling: () => null };
  const theirs = run(libraryComputeResponse as never, args);
  expect(JSON.stringify(theirs.data)).toContain('"__proto__":"n"');
  expect(run(computeResponse, args)).toEqual(theirs);
});
