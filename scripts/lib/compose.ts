import fs from 'node:fs';
import path from 'node:path';
import { printSubgraphSchema } from '@apollo/subgraph';
import { buildSchema } from 'graphql';
import { composeSdl, CompositionError, SubgraphModule } from '@shop/kernel';
import {
  checkOperations,
  compareApiSchemas,
  printApiSchema,
  readIntendedChanges,
  readOperationSources,
  usedCoordinates,
} from './operations';
import type { RoverConfig } from './rover';
import { inClusterSupergraph } from './k8s';

/** A file `npm run compose` owns: its absolute path and the content it must have. */
export interface SchemaFile {
  path: string;
  content: string;
}

export interface GenerateResult {
  /** Each subgraph's SDL file, then the supergraph; empty when anything below went wrong. */
  files: SchemaFile[];
  /** rover.yaml and the registry disagree, or a module failed to build its schema. */
  problems: string[];
  /** Composition errors, one message per error. */
  compositionErrors: string[];
  /** Worth reading, not failing: dangerous API changes, and breaking ones to what no client operation uses. */
  warnings?: string[];
}

/** The public API checks (docs/schema-workflow.md); the compose tests of composition alone leave them out. */
export interface ApiOptions {
  /** Baseline API schema, written by `npm run compose`: schema/api.graphql. */
  apiFile: string;
  /** Client operations: schema/operations. */
  operationsDir: string;
  /** Persisted-query manifest of those operations (the safelist): schema/persisted-queries.json. */
  manifestFile: string;
  /** Breaking changes that are intended, with reasons: schema/intended-changes.yaml. */
  intendedChangesFile: string;
  /** Another baseline to compare with, e.g. the API schema on the main branch (`SCHEMA_BASE_REF`). */
  base?: { label: string; sdl: string };
}

export interface ComposeOptions {
  rover: RoverConfig;
  /** The subgraph registry (scripts/subgraphs.ts in the real run). */
  modules: SubgraphModule[];
  /** Where the composed supergraph goes. */
  supergraphFile: string;
  /** Also written: the supergraph with in-cluster routing URLs (`http://<subgraph>:<port>/graphql`) for deploy/k8s. */
  inClusterSupergraphFile?: string;
  api?: ApiOptions;
}

/** Version of @apollo/composition that `npm run compose` uses. */
export function compositionVersion(): string {
  const pkg = path.join(path.dirname(require.resolve('@apollo/composition')), '..', 'package.json');
  return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
}

/**
 * Builds what `schema/` should contain, in memory: every rover.yaml subgraph's SDL (printed from its module)
 * and the supergraph composed from them with rover.yaml's routing URLs. Writes nothing.
 */
export async function generateSchemas(opts: ComposeOptions): Promise<GenerateResult> {
  const problems: string[] = [];
  const byName = new Map(opts.modules.map((m) => [m.name as string, m]));
  const roverNames = new Set(opts.rover.subgraphs.map((s) => s.name));
  for (const s of opts.rover.subgraphs) {
    if (!byName.has(s.name))
      problems.push(`rover.yaml lists subgraph "${s.name}" but scripts/subgraphs.ts has no module for it`);
  }
  for (const m of opts.modules) {
    if (!roverNames.has(m.name))
      problems.push(`subgraph module "${m.name}" is registered in scripts/subgraphs.ts but missing from rover.yaml`);
  }
  if (problems.length) return { files: [], problems, compositionErrors: [] };

  const files: SchemaFile[] = [];
  const inputs: { name: string; url: string; sdl: string }[] = [];
  for (const s of opts.rover.subgraphs) {
    let sdl: string;
    try {
      sdl = printSubgraphSchema(await byName.get(s.name)!.buildSchema());
    } catch (err) {
      problems.push(`subgraph "${s.name}" failed to build its schema: ${(err as Error).message}`);
      continue;
    }
    inputs.push({ name: s.name, url: s.routingUrl, sdl });
    files.push({ path: s.schemaFile, content: withNewline(sdl) });
  }
  if (problems.length) return { files: [], problems, compositionErrors: [] };

  let supergraphSdl: string;
  try {
    supergraphSdl = withNewline(composeSdl(inputs));
  } catch (err) {
    if (err instanceof CompositionError) return { files: [], problems, compositionErrors: err.errors };
    throw err;
  }
  files.push({ path: opts.supergraphFile, content: supergraphSdl });
  if (opts.inClusterSupergraphFile)
    files.push({ path: opts.inClusterSupergraphFile, content: inClusterSupergraph(supergraphSdl) });
  const warnings: string[] = [];
  if (opts.api) {
    const api = await checkApi(opts.api, supergraphSdl, path.dirname(opts.rover.file));
    problems.push(...api.problems);
    warnings.push(...api.warnings);
    files.push(...api.files);
  }
  return { files: problems.length ? [] : files, problems, compositionErrors: [], warnings };
}

/**
 * The API schema (schema/api.graphql) and the client operations' manifest, after checking that every operation is
 * valid and every root field used, and that the API has no breaking change against the baseline(s) to what a client
 * operation uses, unless listed in intended-changes.yaml. A breaking change to what no operation uses is a warning.
 */
async function checkApi(
  api: ApiOptions,
  supergraphSdl: string,
  root: string,
): Promise<{ files: SchemaFile[]; problems: string[]; warnings: string[] }> {
  const rel = (p: string) => path.relative(root, p);
  const problems: string[] = [];
  const warnings: string[] = [];
  const apiSdl = printApiSchema(supergraphSdl);

  const apiSchema = buildSchema(apiSdl);
  const sources = readOperationSources(api.operationsDir);
  const ops = checkOperations(apiSchema, sources);
  problems.push(
    ...ops.problems.map((p) => (/^[A-Z]\w*\.\w+ is not used/.test(p) ? p : `${rel(api.operationsDir)}/${p}`)),
  );

  const intended = readIntendedChanges(api.intendedChangesFile);
  problems.push(...intended.problems);
  const baselines: { label: string; sdl: string }[] = [];
  if (fs.existsSync(api.apiFile))
    baselines.push({ label: rel(api.apiFile), sdl: fs.readFileSync(api.apiFile, 'utf8') });
  if (api.base) baselines.push(api.base);
  const unlisted = new Set<string>();
  const usedNow = usedCoordinates(apiSchema, sources);
  for (const b of baselines) {
    // Coordinates resolved against both schemas: a removed field exists only in the baseline.
    const usedBefore = usedCoordinates(buildSchema(b.sdl), sources);
    const cmp = await compareApiSchemas(b.sdl, apiSdl, intended.changes, (c) => usedNow.has(c) || usedBefore.has(c));
    for (const c of cmp.unlisted) {
      if (!unlisted.has(c)) problems.push(`breaking change to the public API (against ${b.label}): ${c}`);
      unlisted.add(c);
    }
    warnings.push(
      ...cmp.unused.map(
        (c) => `breaking change to what no operation in ${rel(api.operationsDir)} uses (against ${b.label}): ${c}`,
      ),
    );
    warnings.push(...cmp.dangerous.map((c) => `dangerous change to the public API (against ${b.label}): ${c}`));
  }
  if (unlisted.size) {
    problems.push(
      `  clients written against the old schema break: restore it, or, if intended, list each change in ${rel(api.intendedChangesFile)} (change: "<as printed above>", reason: "…")`,
    );
  }
  return {
    files: [
      { path: api.apiFile, content: apiSdl },
      { path: api.manifestFile, content: `${JSON.stringify(ops.manifest, null, 2)}\n` },
    ],
    problems,
    warnings: [...new Set(warnings)],
  };
}

function withNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}

/** Files whose content on disk differs from `files` (missing ones included). */
export function staleFiles(files: SchemaFile[]): { path: string; reason: 'missing' | 'stale' }[] {
  const out: { path: string; reason: 'missing' | 'stale' }[] = [];
  for (const f of files) {
    let current: string;
    try {
      current = fs.readFileSync(f.path, 'utf8');
    } catch {
      out.push({ path: f.path, reason: 'missing' });
      continue;
    }
    if (current !== f.content) out.push({ path: f.path, reason: 'stale' });
  }
  return out;
}

export interface CheckResult {
  ok: boolean;
  /** One human-readable line per problem (composition errors, registry mismatches, stale files). */
  messages: string[];
  /** With the API checks: dangerous changes (reported, not failing). */
  warnings?: string[];
}

/** `npm run compose -- --check`: fails on composition errors, registry/rover.yaml mismatches and stale checked-in files. */
export async function checkSchemas(opts: ComposeOptions, root = path.dirname(opts.rover.file)): Promise<CheckResult> {
  const messages: string[] = [];
  const version = compositionVersion();
  if (opts.rover.federationVersion !== `=${version}`) {
    messages.push(
      `rover.yaml federation_version is "${opts.rover.federationVersion}" but npm run compose uses @apollo/composition ${version}: set it to "=${version}" so rover composes the same supergraph`,
    );
  }
  const result = await generateSchemas(opts);
  messages.push(...result.problems);
  if (result.compositionErrors.length) {
    messages.push('composition failed:', ...result.compositionErrors.map((e) => `  - ${e}`));
  }
  for (const s of staleFiles(result.files)) {
    messages.push(
      `${path.relative(root, s.path)} is ${s.reason === 'missing' ? 'missing' : 'stale (differs from what the subgraphs generate)'}: run \`npm run compose\``,
    );
  }
  return { ok: messages.length === 0, messages, ...(opts.api ? { warnings: result.warnings ?? [] } : {}) };
}

/** `npm run compose`: writes the files that changed; returns their paths. */
export function writeSchemas(files: SchemaFile[]): string[] {
  const written: string[] = [];
  for (const s of staleFiles(files)) {
    const f = files.find((x) => x.path === s.path)!;
    fs.mkdirSync(path.dirname(f.path), { recursive: true });
    fs.writeFileSync(f.path, f.content);
    written.push(f.path);
  }
  return written;
}
