import type { Config, Logger, SubgraphModule } from '@shop/kernel';

export interface MigrationReport {
  name: string;
  /** Names of the migrations applied by this run (empty: already up to date). */
  applied: string[];
}

/** Runs each module's migrations in registry order; stops at the first failure, naming the subgraph. */
export async function runMigrations(
  modules: SubgraphModule[],
  config: Config,
  logger: Logger,
  report: (r: MigrationReport) => void = () => undefined,
): Promise<MigrationReport[]> {
  const out: MigrationReport[] = [];
  for (const m of modules) {
    if (!m.migrate) continue;
    let applied: string[];
    try {
      applied = await m.migrate(config, logger.child({ service: m.name }));
    } catch (err) {
      throw new Error(`migrations of the ${m.name} subgraph failed: ${(err as Error).message}`, { cause: err });
    }
    const r = { name: m.name, applied };
    out.push(r);
    report(r);
  }
  return out;
}

export function describeMigration(r: MigrationReport): string {
  return r.applied.length
    ? `${r.name}: applied ${r.applied.length} migration(s): ${r.applied.join(', ')}`
    : `${r.name}: up to date`;
}

export interface MigrateArgs {
  /** Only these subgraphs (`--service <name>`, repeatable); undefined: every one. */
  services?: string[];
  ensureDevKeys: boolean;
}

/** `npm run migrate` arguments; a subgraph name must be one of `known`. */
export function parseMigrateArgs(argv: string[], known: string[]): MigrateArgs | { error: string } {
  const out: MigrateArgs = { ensureDevKeys: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--ensure-dev-keys') out.ensureDevKeys = true;
    else if (a === '--service' || a.startsWith('--service=')) {
      const name = a === '--service' ? argv[++i] : a.slice('--service='.length);
      if (!name || !known.includes(name))
        return { error: `--service needs one of ${known.join(', ')} (got "${name ?? ''}")` };
      (out.services ??= []).push(name);
    } else return { error: `unknown argument: ${a}` };
  }
  return out;
}
