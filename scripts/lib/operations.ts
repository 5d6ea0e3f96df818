import fs from 'node:fs';
import path from 'node:path';
import { Supergraph } from '@apollo/federation-internals';
import {
  buildSchema, findBreakingChanges, findDangerousChanges, GraphQLSchema, Kind, parse, printSchema, specifiedRules, validate, visit,
} from 'graphql';
import YAML from 'yaml';
import { loadConfig } from '@shop/kernel';
import { limitRules } from '../../gateway/src/edge/limits';
import { buildManifest, PersistedQueryManifest } from '../../gateway/src/edge/safelist';

/** The public API schema clients see: the supergraph without federation machinery and @inaccessible elements. */
export function apiSchemaOf(supergraphSdl: string): GraphQLSchema {
  return Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema();
}

export function printApiSchema(supergraphSdl: string): string {
  return `${printSchema(apiSchemaOf(supergraphSdl))}\n`;
}

export interface OperationSource {
  /** Path relative to the operations folder, e.g. `storefront/catalog.graphql`. */
  file: string;
  text: string;
}

/** Every `.graphql` file under `dir` (recursively), in path order. */
export function readOperationSources(dir: string): OperationSource[] {
  if (!fs.existsSync(dir)) return [];
  const out: OperationSource[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.graphql')) out.push({ file: path.relative(dir, p).split(path.sep).join('/'), text: fs.readFileSync(p, 'utf8') });
    }
  };
  walk(dir);
  return out;
}

export interface OperationsCheck {
  problems: string[];
  manifest: PersistedQueryManifest;
}

/**
 * Every client operation must be valid against the API schema AND within the gateway's default document limits
 * (an operation the gateway would refuse is as broken as one with a typo), and every root field of the API must be
 * used by at least one operation (a public field nobody calls is either dead or untested from the client's side).
 */
export function checkOperations(schema: GraphQLSchema, sources: OperationSource[]): OperationsCheck {
  const { manifest, problems } = buildManifest(sources);
  const rules = [...specifiedRules, ...limitRules(loadConfig({}).edge.limits)];
  const used = new Set<string>();
  for (const src of sources) {
    let document;
    try {
      document = parse(src.text);
    } catch {
      continue; // reported by buildManifest
    }
    for (const err of validate(schema, document, rules)) {
      const at = err.locations?.[0] ? `:${err.locations[0].line}:${err.locations[0].column}` : '';
      problems.push(`${src.file}${at}: ${err.message}`);
    }
    for (const def of document.definitions) {
      if (def.kind !== Kind.OPERATION_DEFINITION) continue;
      const root = def.operation === 'query' ? schema.getQueryType() : def.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
      if (!root) continue;
      // Root fields, through fragments on the root type.
      const fragments = new Map(document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d] as const));
      const seen = new Set<string>();
      const walk = (node: Parameters<typeof visit>[0]) =>
        visit(node, {
          Field: (f) => {
            used.add(`${root.name}.${f.name.value}`);
            return false; // only the root level
          },
          FragmentSpread: (s) => {
            const f = fragments.get(s.name.value);
            if (f && !seen.has(f.name.value)) {
              seen.add(f.name.value);
              walk(f.selectionSet);
            }
          },
        });
      walk(def.selectionSet);
    }
  }
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.keys(type?.getFields() ?? {})) {
      if (!used.has(`${type!.name}.${field}`)) {
        problems.push(`${type!.name}.${field} is not used by any operation in schema/operations: add the client operation that calls it`);
      }
    }
  }
  return { problems, manifest };
}

export interface IntendedChange {
  change: string;
  reason: string;
}

/** schema/intended-changes.yaml: `changes: [{ change: "<description printed by the check>", reason: "…" }]`. */
export function readIntendedChanges(file: string): { changes: IntendedChange[]; problems: string[] } {
  if (!fs.existsSync(file)) return { changes: [], problems: [] };
  const rel = path.basename(file);
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return { changes: [], problems: [`${rel}: not valid YAML: ${(err as Error).message}`] };
  }
  const list = (doc as { changes?: unknown } | null)?.changes ?? [];
  if (!Array.isArray(list)) return { changes: [], problems: [`${rel}: "changes" must be a list`] };
  const changes: IntendedChange[] = [];
  const problems: string[] = [];
  list.forEach((entry: { change?: unknown; reason?: unknown }, i) => {
    if (typeof entry?.change !== 'string' || !entry.change.trim()) problems.push(`${rel}: changes[${i}].change must name the change as the check prints it`);
    else if (typeof entry.reason !== 'string' || !entry.reason.trim()) problems.push(`${rel}: changes[${i}] ("${entry.change}") needs a reason`);
    else changes.push({ change: entry.change.trim(), reason: entry.reason.trim() });
  });
  return { changes, problems };
}

export interface ApiComparison {
  /** Breaking changes not listed as intended: each fails the check. */
  unlisted: string[];
  /** Breaking changes listed as intended. */
  intended: string[];
  /** Changes that are not breaking but can change client behaviour (e.g. a new enum value). */
  dangerous: string[];
}

/** graphql-js findBreakingChanges between two API schemas; a change is written `<TYPE>: <description>`. */
export function compareApiSchemas(oldSdl: string, newSdl: string, intended: IntendedChange[]): ApiComparison {
  const before = buildSchema(oldSdl);
  const after = buildSchema(newSdl);
  const listed = new Set(intended.map((c) => c.change));
  const out: ApiComparison = { unlisted: [], intended: [], dangerous: [] };
  for (const c of findBreakingChanges(before, after)) {
    const line = `${c.type}: ${c.description}`;
    (listed.has(line) || listed.has(c.description) ? out.intended : out.unlisted).push(line);
  }
  out.dangerous = findDangerousChanges(before, after).map((c) => `${c.type}: ${c.description}`);
  return out;
}
