/**
 * npm run compose            prints each subgraph's SDL to schema/<name>.graphql and composes schema/supergraph.graphql
 * npm run compose -- --check writes nothing; exits 1 on composition errors or when a checked-in schema file is stale
 */
import path from 'node:path';
import { checkSchemas, generateSchemas, writeSchemas } from './lib/compose';
import { readRoverConfig } from './lib/rover';
import { ROOT, ROVER_FILE, SUPERGRAPH_FILE } from './paths';
import { subgraphs } from './subgraphs';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length) {
    console.error(`unknown argument(s): ${unknown.join(' ')}\nusage: npm run compose [-- --check]`);
    return 2;
  }
  const rover = readRoverConfig(ROVER_FILE);
  const opts = { rover, modules: subgraphs, supergraphFile: SUPERGRAPH_FILE };
  const rel = (p: string) => path.relative(ROOT, p);

  if (args.includes('--check')) {
    const result = await checkSchemas(opts, ROOT);
    if (!result.ok) {
      console.error(`Schema check failed:\n${result.messages.join('\n')}`);
      return 1;
    }
    console.log(`Schema check passed: ${rover.subgraphs.map((s) => s.name).join(', ')} compose and schema/ is up to date.`);
    return 0;
  }

  const result = await generateSchemas(opts);
  if (result.problems.length || result.compositionErrors.length) {
    console.error(
      [...result.problems, ...(result.compositionErrors.length ? ['composition failed:', ...result.compositionErrors.map((e) => `  - ${e}`)] : [])].join('\n'),
    );
    console.error('Nothing was written.');
    return 1;
  }
  const written = writeSchemas(result.files);
  console.log(written.length ? `Wrote ${written.map(rel).join(', ')}` : `schema/ is already up to date (${result.files.map((f) => rel(f.path)).join(', ')})`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error((err as Error).stack ?? err);
    process.exit(1);
  },
);
