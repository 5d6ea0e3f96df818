import fs from 'node:fs';
import path from 'node:path';
import { Supergraph } from '@apollo/federation-internals';
import { CriticalityLevel, diff, Rule } from '@graphql-inspector/core';
import {
  buildSchema,
  getNamedType,
  GraphQLNamedType,
  GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  Kind,
  parse,
  printSchema,
  specifiedRules,
  TypeInfo,
  typeFromAST,
  validate,
  visit,
  visitWithTypeInfo,
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
      else if (e.name.endsWith('.graphql'))
        out.push({ file: path.relative(dir, p).split(path.sep).join('/'), text: fs.readFileSync(p, 'utf8') });
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
      const root =
        def.operation === 'query'
          ? schema.getQueryType()
          : def.operation === 'mutation'
            ? schema.getMutationType()
            : schema.getSubscriptionType();
      if (!root) continue;
      // Root fields, through fragments on the root type.
      const fragments = new Map(
        document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d] as const),
      );
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
        problems.push(
          `${type!.name}.${field} is not used by any operation in schema/operations: add the client operation that calls it`,
        );
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
    if (typeof entry?.change !== 'string' || !entry.change.trim())
      problems.push(`${rel}: changes[${i}].change must name the change as the check prints it`);
    else if (typeof entry.reason !== 'string' || !entry.reason.trim())
      problems.push(`${rel}: changes[${i}] ("${entry.change}") needs a reason`);
    else changes.push({ change: entry.change.trim(), reason: entry.reason.trim() });
  });
  return { changes, problems };
}

export interface ApiComparison {
  /** Breaking changes to what an operation in schema/operations uses, not listed as intended: each fails the check. */
  unlisted: string[];
  /** Breaking changes listed as intended. */
  intended: string[];
  /** Breaking changes to parts of the API no client operation uses: reported, not failing. */
  unused: string[];
  /** Changes that are not breaking but can change client behaviour (e.g. a new enum value, a new optional argument). */
  dangerous: string[];
}

/** Whether a schema coordinate (`Type`, `Type.field`, `Type.field.arg`, `Enum.VALUE`, `Input.field`, `@directive`) is used. */
export type UsageCheck = (coordinate: string) => boolean;

/** The schema coordinate a change's path points at: its path without a trailing applied directive (`Type.field.@dir`). */
function coordinateOf(changePath: string): string {
  const parts = changePath.split('.');
  const at = parts.findIndex((p, i) => i > 0 && p.startsWith('@'));
  return (at < 0 ? parts : parts.slice(0, at)).join('.');
}

/**
 * graphql-inspector rule: a breaking change to a coordinate no operation uses becomes dangerous (flagged
 * `isSafeBasedOnUsage`). Written here rather than the library's `considerUsage`, which suppresses by string prefix
 * (an unused `Product` would also excuse a used `ProductConnection.edges`).
 */
function usageRule(isUsed: UsageCheck): Rule {
  return ({ changes }) =>
    changes.map((c) =>
      c.criticality.level === CriticalityLevel.Breaking && c.path && !isUsed(coordinateOf(c.path))
        ? { ...c, criticality: { ...c.criticality, level: CriticalityLevel.Dangerous, isSafeBasedOnUsage: true } }
        : c,
    );
}

/**
 * graphql-inspector's diff between two API schemas; a change is printed `<TYPE>: <message>`, e.g.
 * `FIELD_REMOVED: Field 'weight' was removed from object type 'Product'`. With `isUsed`, a breaking change to what
 * no client operation uses is only reported (`unused`); without it, every breaking change counts.
 */
export async function compareApiSchemas(
  oldSdl: string,
  newSdl: string,
  intended: IntendedChange[],
  isUsed: UsageCheck = () => true,
): Promise<ApiComparison> {
  const listed = new Set(intended.map((c) => c.change));
  const out: ApiComparison = { unlisted: [], intended: [], unused: [], dangerous: [] };
  for (const c of await diff(buildSchema(oldSdl), buildSchema(newSdl), [usageRule(isUsed)])) {
    const line = `${c.type}: ${c.message}`;
    if (c.criticality.level === CriticalityLevel.Breaking)
      (listed.has(line) || listed.has(c.message) ? out.intended : out.unlisted).push(line);
    else if (c.criticality.isSafeBasedOnUsage) out.unused.push(line);
    else if (c.criticality.level === CriticalityLevel.Dangerous) out.dangerous.push(line);
  }
  return out;
}

/**
 * The schema coordinates the operations touch, resolved against `schema`: selected fields (on an interface also the
 * implementations' fields), their types, arguments, input fields and enum values written in literals, fragment type
 * conditions and directives. A variable's type counts whole (every field of an input type, every enum value), as
 * does an enum a selected field returns: the client may send or receive any of it.
 */
export function usedCoordinates(schema: GraphQLSchema, sources: OperationSource[]): Set<string> {
  const used = new Set<string>();
  const wholeType = (type: GraphQLNamedType | undefined) => {
    if (!type || used.has(type.name)) return;
    used.add(type.name);
    if (isEnumType(type)) for (const v of type.getValues()) used.add(`${type.name}.${v.name}`);
    if (isInputObjectType(type)) {
      for (const f of Object.values(type.getFields())) {
        used.add(`${type.name}.${f.name}`);
        wholeType(getNamedType(f.type));
      }
    }
  };
  const onTypeAndImplementations = (parent: GraphQLNamedType, suffix: string) => {
    const types = isInterfaceType(parent) ? [parent, ...schema.getPossibleTypes(parent)] : [parent];
    for (const t of types) used.add(`${t.name}${suffix}`);
  };
  for (const src of sources) {
    let document;
    try {
      document = parse(src.text);
    } catch {
      continue; // reported by buildManifest
    }
    const info = new TypeInfo(schema);
    visit(
      document,
      visitWithTypeInfo(info, {
        OperationDefinition: (op) => {
          const root = schema.getRootType(op.operation);
          if (root) used.add(root.name);
        },
        VariableDefinition: (v) => {
          const type = typeFromAST(schema, v.type);
          if (type) wholeType(getNamedType(type));
        },
        InlineFragment: () => {
          const t = info.getType();
          if (t) used.add(getNamedType(t).name);
        },
        FragmentDefinition: (f) => {
          used.add(f.typeCondition.name.value);
        },
        Field: () => {
          const parent = info.getParentType();
          const def = info.getFieldDef();
          if (!parent || !def) return;
          onTypeAndImplementations(parent, `.${def.name}`);
          const type = getNamedType(def.type);
          if (isEnumType(type)) wholeType(type);
          else used.add(type.name);
        },
        Argument: () => {
          const arg = info.getArgument();
          if (!arg) return;
          const directive = info.getDirective();
          const parent = info.getParentType();
          const def = info.getFieldDef();
          if (directive) used.add(`@${directive.name}.${arg.name}`);
          else if (parent && def) onTypeAndImplementations(parent, `.${def.name}.${arg.name}`);
          used.add(getNamedType(arg.type).name);
        },
        ObjectField: (f) => {
          const parent = info.getParentInputType();
          const input = parent && getNamedType(parent);
          if (input) used.add(`${input.name}.${f.name.value}`);
          const type = info.getInputType();
          if (type) used.add(getNamedType(type).name);
        },
        EnumValue: (v) => {
          const type = info.getInputType();
          if (type) used.add(`${getNamedType(type).name}.${v.value}`);
        },
        Directive: () => {
          const directive = info.getDirective();
          if (directive) used.add(`@${directive.name}`);
        },
      }),
    );
  }
  return used;
}
