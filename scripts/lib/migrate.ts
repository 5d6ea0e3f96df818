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
