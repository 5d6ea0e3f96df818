/**
 * Reuse of the per-document operation that @apollo/gateway rebuilds on every request.
 *
 * `executeQueryPlan` (@apollo/gateway 2.14.4, dist/executeQueryPlan.js) starts each execution with
 * `operationFromDocument(apiSchema, { definitions: [operation, ...fragments] }, { validate: false })`: it turns the
 * client's document into federation-internals' `Operation` (every field resolved against the schema, fragments
 * expanded into selection sets), which `computeResponse` then walks to shape the result. That object depends only on
 * the schema and the document's definitions, never on variables, the caller or the data, and nothing mutates it (the
 * shaping only reads it; conditions read its variable definitions): one built per document can serve every request.
 *
 * No option or hook of ApolloGateway reaches that call, so the function is wrapped where `executeQueryPlan` looks it up
 * (`federation-internals`' index re-exports it through a getter over `dist/operations`). Only calls made exactly the
 * way `executeQueryPlan` makes them are reused (`validate: false`, an operation definition first); the planner's own
 * call is untouched. The wrap is installed only for the version it was written against (package.json pins it).
 *
 * Memory: entries are keyed by the document's operation node in a WeakMap. Apollo Server hands the same parsed
 * document to every request with the same query text (its document store, a bounded LRU), so an entry lives as long
 * as Apollo keeps that document and no longer; documents it does not keep (a one-off query) are collected with their
 * entry. A hit also requires the very same fragment nodes in the same order, so a document put together from another
 * request's nodes can never get another document's operation. Errors are never cached: a document that fails to
 * convert throws again on the next request, the same error.
 */
import { createRequire } from 'node:module';
import { DefinitionNode, DocumentNode, Kind, OperationDefinitionNode } from 'graphql';

type OperationFromDocument = (
  schema: object,
  document: DocumentNode,
  options?: { operationName?: string; validate?: boolean },
) => unknown;

/** The @apollo/gateway version whose `executeQueryPlan` was read to write this (see the comment above). */
export const SUPPORTED_GATEWAY_VERSION = '2.14.4';

interface Entry {
  definitions: readonly DefinitionNode[];
  operation: unknown;
}

export interface OperationReuseStats {
  hits: number;
  builds: number;
}

/** Counters, for tests and the bench: how many executions reused an operation, how many built one. */
export const operationReuseStats: OperationReuseStats = { hits: 0, builds: 0 };

const sameDefinitions = (a: readonly DefinitionNode[], b: readonly DefinitionNode[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** A memoizing wrapper of `operationFromDocument` for `executeQueryPlan`'s calls (exported for tests). */
export function reusingOperationFromDocument(original: OperationFromDocument): OperationFromDocument {
  const bySchema = new WeakMap<object, WeakMap<OperationDefinitionNode, Entry>>();
  return function operationFromDocument(schema, document, options) {
    const first = document.definitions[0];
    if (options?.validate !== false || options.operationName !== undefined || first?.kind !== Kind.OPERATION_DEFINITION)
      return original(schema, document, options);
    let entries = bySchema.get(schema);
    if (!entries) bySchema.set(schema, (entries = new WeakMap()));
    const hit = entries.get(first);
    if (hit && sameDefinitions(hit.definitions, document.definitions)) {
      operationReuseStats.hits++;
      return hit.operation;
    }
    const operation = original(schema, document, options);
    operationReuseStats.builds++;
    entries.set(first, { definitions: [...document.definitions], operation });
    return operation;
  };
}

let installed: boolean | undefined;

/**
 * Installs the wrapper (once per process); false when the installed @apollo/gateway is not the version it was written
 * for or the export is not where it was (then nothing changes: every request builds its operation, as before).
 */
export function installOperationReuse(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  const require = createRequire(__filename);
  const gatewayDir = require.resolve('@apollo/gateway');
  const local = createRequire(gatewayDir);
  const version = (local('@apollo/gateway/package.json') as { version: string }).version;
  if (version !== SUPPORTED_GATEWAY_VERSION) return false;
  const operations = local('@apollo/federation-internals/dist/operations') as {
    operationFromDocument?: OperationFromDocument;
  };
  const index = local('@apollo/federation-internals') as { operationFromDocument?: OperationFromDocument };
  const original = operations.operationFromDocument;
  if (typeof original !== 'function' || index.operationFromDocument !== original) return false;
  operations.operationFromDocument = reusingOperationFromDocument(original);
  // The index re-exports through a getter: executeQueryPlan's `federation_internals_1.operationFromDocument` sees it.
  installed = index.operationFromDocument === operations.operationFromDocument;
  if (!installed) operations.operationFromDocument = original;
  return installed;
}
