import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  ASTNode,
  DefinitionNode,
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  getOperationAST,
  GraphQLError,
  Kind,
  OperationDefinitionNode,
  parse,
  print,
  stripIgnoredCharacters,
  visit,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { ErrorCode } from '@shop/kernel';

/** Apollo's persisted query manifest format (what `@apollo/generate-persisted-query-manifest` writes and clients read). */
export interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: { id: string; name: string; type: 'query' | 'mutation' | 'subscription'; body: string }[];
}

const TYPENAME: FieldNode = { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } };

/**
 * Apollo Client's `addTypenameToDocument` rule, so an operation matches its manifest entry whether or not the client
 * added `__typename`: every selection set except the operation's root gets `__typename` appended, unless it already
 * selects `__typename` or another `__` field (introspection), or belongs to an `@export`ed field. Idempotent.
 * scripts/test/operations.test.ts compares it with Apollo's own function on every operation.
 */
export function addTypename<T extends ASTNode>(node: T): T {
  return visit(node, {
    SelectionSet: {
      enter(set, _key, parent) {
        const owner = parent && !Array.isArray(parent) ? (parent as ASTNode) : undefined;
        if (owner?.kind === Kind.OPERATION_DEFINITION) return undefined;
        if (set.selections.some((s) => s.kind === Kind.FIELD && s.name.value.startsWith('__'))) return undefined;
        if (owner?.kind === Kind.FIELD && owner.directives?.some((d) => d.name.value === 'export')) return undefined;
        return { ...set, selections: [...set.selections, TYPENAME] };
      },
    },
  });
}

/**
 * The canonical text of one operation: the operation followed by the fragments it uses (transitively) in name
 * order, with Apollo Client's `__typename` additions (`addTypename`), printed and stripped of ignored characters.
 * Whitespace, comments, commas, definition order, unused operations and Apollo's `__typename` fields in the sent
 * document do not change it.
 */
export function normalizeOperation(
  document: DocumentNode,
  operationName?: string | null,
): { operation: OperationDefinitionNode; body: string } | undefined {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) return undefined;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const used = new Map<string, FragmentDefinitionNode>();
  const collect = (node: DefinitionNode) =>
    visit(node, {
      FragmentSpread(spread) {
        const f = fragments.get(spread.name.value);
        if (f && !used.has(f.name.value)) {
          used.set(f.name.value, f);
          collect(f);
        }
      },
    });
  collect(operation);
  const definitions = [operation, ...[...used.values()].sort((a, b) => a.name.value.localeCompare(b.name.value))].map(
    (d) => addTypename(d),
  );
  return { operation, body: stripIgnoredCharacters(print({ kind: Kind.DOCUMENT, definitions })) };
}

/** Operation id = SHA-256 (hex) of the canonical body, which is also what Apollo's persisted-query protocol hashes. */
export function operationId(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** Builds the manifest from `.graphql` sources; every operation must be named, names unique. */
export function buildManifest(sources: { file: string; text: string }[]): {
  manifest: PersistedQueryManifest;
  problems: string[];
} {
  const problems: string[] = [];
  const operations: PersistedQueryManifest['operations'] = [];
  const names = new Map<string, string>();
  for (const src of sources) {
    let document: DocumentNode;
    try {
      document = parse(src.text);
    } catch (err) {
      problems.push(`${src.file}: ${(err as Error).message}`);
      continue;
    }
    for (const def of document.definitions) {
      if (def.kind !== Kind.OPERATION_DEFINITION) continue;
      const name = def.name?.value;
      if (!name) {
        problems.push(`${src.file}: every operation needs a name (clients and logs refer to it)`);
        continue;
      }
      if (names.has(name)) {
        problems.push(`${src.file}: operation name ${name} is also used in ${names.get(name)}`);
        continue;
      }
      names.set(name, src.file);
      const { body } = normalizeOperation(document, name)!;
      operations.push({ id: operationId(body), name, type: def.operation, body });
    }
  }
  operations.sort((a, b) => a.name.localeCompare(b.name));
  return { manifest: { format: 'apollo-persisted-query-manifest', version: 1, operations }, problems };
}

export function readManifest(file: string): PersistedQueryManifest {
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as PersistedQueryManifest;
  if (m.format !== 'apollo-persisted-query-manifest' || m.version !== 1 || !Array.isArray(m.operations)) {
    throw new Error(`${file} is not an Apollo persisted query manifest (version 1)`);
  }
  return m;
}

export function notOnSafelist(): GraphQLError {
  return new GraphQLError(
    'This operation is not on the safelist: only the operations in schema/operations can run here',
    {
      extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } },
    },
  );
}

/**
 * SAFELIST=on: only operations of the manifest run. Clients send the id as Apollo's persisted-query extension
 * (`extensions.persistedQuery.sha256Hash`, no query; unknown ids get Apollo's PERSISTED_QUERY_NOT_FOUND) or the full
 * text (any formatting; not listed → FORBIDDEN). Ids resolve through Apollo's own APQ cache hook, which never learns
 * new queries in this mode.
 */
export class Safelist {
  private readonly bodies = new Map<string, string>();
  /** Verdicts per sent text (Apollo's query hash) and operation name, so normalisation runs once per distinct document. */
  private readonly verdicts: LRUCache<string, boolean>;

  constructor(manifest: PersistedQueryManifest, maxCached = 10_000) {
    this.verdicts = new LRUCache({ max: maxCached });
    for (const op of manifest.operations) this.bodies.set(op.id, op.body);
  }

  get size(): number {
    return this.bodies.size;
  }

  isListed(document: DocumentNode, operationName?: string | null): boolean {
    const n = normalizeOperation(document, operationName);
    return !!n && this.bodies.has(operationId(n.body));
  }

  private verdict(key: string | undefined, document: DocumentNode, operationName?: string | null): boolean {
    if (!key) return this.isListed(document, operationName);
    let v = this.verdicts.get(key);
    if (v === undefined) {
      v = this.isListed(document, operationName);
      this.verdicts.set(key, v);
    }
    return v;
  }

  /** Apollo `persistedQueries.cache`: resolves listed ids to their text; read-only. */
  apqCache() {
    return {
      get: async (key: string) => this.bodies.get(key.replace(/^apq:/, '')),
      set: async () => undefined,
      delete: async () => true,
    };
  }

  plugin(): ApolloServerPlugin {
    return {
      requestDidStart: async () => ({
        didResolveOperation: async (rc) => {
          const key = rc.queryHash ? `${rc.queryHash}\u0000${rc.operationName ?? ''}` : undefined;
          if (!this.verdict(key, rc.document, rc.request.operationName)) throw notOnSafelist();
        },
      }),
    };
  }
}
