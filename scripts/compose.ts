/**
 * npm run compose            prints each subgraph's SDL to schema/<name>.graphql, composes schema/supergraph.graphql,
 *                            writes the public API schema schema/api.graphql and the operations' manifest
 *                            schema/persisted-queries.json — after checking schema/operations and breaking changes;
 *                            also deploy/k8s/base/supergraph.graphql (the supergraph with in-cluster routing URLs)
 * npm run compose -- --check writes nothing; exits 1 on composition errors, invalid or missing client operations,
 *                            unlisted breaking API changes to what an operation uses (those to unused parts only
 *                            warn), or when a checked-in schema file is stale
 * SCHEMA_BASE_REF=<git ref>  also compare the API with schema/api.graphql at that ref (e.g. origin/main in CI)
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { readVariable } from '@shop/kernel';
import { ApiOptions, checkSchemas, generateSchemas, writeSchemas } from './lib/compose';
import { readRoverConfig } from './lib/rover';
import {
  API_FILE,
  INTENDED_CHANGES_FILE,
  K8S_SUPERGRAPH_FILE,
  MANIFEST_FILE,
  OPERATIONS_DIR,
  ROOT,
  ROVER_FILE,
  SUPERGRAPH_FILE,
} from './paths';

/** schema/api.graphql as committed at `ref` (undefined when the ref does not have one yet). */
function apiAtRef(ref: string): ApiOptions['base'] {
  const file = path.relative(ROOT, API_FILE).split(path.sep).join('/');
  try {
    const sdl = execFileSync('git', ['show', `${ref}:${file}`], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { label: `${ref}:${file}`, sdl };
  } catch (err) {
    const msg = String((err as { stderr?: string }).stderr ?? err);
    if (/does not exist|exists on disk, but not in/.test(msg)) {
      console.warn(`note: ${ref} has no ${file} yet; comparing with the checked-in baseline only`);
      return undefined;
    }
    throw new Error(`SCHEMA_BASE_REF=${ref}: cannot read ${file} there: ${msg.trim()}`);
  }
}
import { subgraphs } from './subgraphs';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length) {
    console.error(`unknown argument(s): ${unknown.join(' ')}\nusage: npm run compose [-- --check]`);
    return 2;
  }
  const rover = readRoverConfig(ROVER_FILE);
  const baseRef = readVariable('SCHEMA_BASE_REF');
  const api: ApiOptions = {
    apiFile: API_FILE,
    operationsDir: OPERATIONS_DIR,
    manifestFile: MANIFEST_FILE,
    intendedChangesFile: INTENDED_CHANGES_FILE,
    base: undefined,
  };
  if (baseRef) {
    try {
      api.base = apiAtRef(baseRef);
    } catch (err) {
      console.error((err as Error).message);
      return 2;
    }
  }
  const opts = {
    rover,
    modules: subgraphs,
    supergraphFile: SUPERGRAPH_FILE,
    inClusterSupergraphFile: K8S_SUPERGRAPH_FILE,
    api,
  };
  const rel = (p: string) => path.relative(ROOT, p);

  if (args.includes('--check')) {
    const result = await checkSchemas(opts, ROOT);
    for (const w of result.warnings ?? []) console.warn(`warning: ${w}`);
    if (!result.ok) {
      console.error(`Schema check failed:\n${result.messages.join('\n')}`);
      return 1;
    }
    console.log(
      `Schema check passed: ${rover.subgraphs.map((s) => s.name).join(', ')} compose, every client operation is valid, no unlisted breaking API change an operation uses${api.base ? ` (also against ${api.base.label})` : ''}, and schema/ is up to date.`,
    );
    return 0;
  }

  const result = await generateSchemas(opts);
  for (const w of result.warnings ?? []) console.warn(`warning: ${w}`);
  if (result.problems.length || result.compositionErrors.length) {
    console.error(
      [
        ...result.problems,
        ...(result.compositionErrors.length
          ? ['composition failed:', ...result.compositionErrors.map((e) => `  - ${e}`)]
          : []),
      ].join('\n'),
    );
    console.error('Nothing was written.');
    return 1;
  }
  const written = writeSchemas(result.files);
  console.log(
    written.length
      ? `Wrote ${written.map(rel).join(', ')}`
      : `schema/ is already up to date (${result.files.map((f) => rel(f.path)).join(', ')})`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error((err as Error).stack ?? err);
    process.exit(1);
  },
);
