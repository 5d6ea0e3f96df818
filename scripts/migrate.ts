/**
 * npm run migrate: applies every subgraph's database migrations (configuration from the environment), creating a
 * missing database first (unless POSTGRES_CREATE_DATABASE=false): this is the step that needs CREATE DATABASE rights,
 * so the running services need none in production.
 * --service <name> (repeatable) migrates only those subgraphs' databases (deploy/k8s runs one Job per database).
 * --ensure-dev-keys also creates the development signing keys in KEYS_DIR when missing (no-op in production),
 * so that containers sharing that directory never race to create them (docker-compose.yml's migrate service).
 */
import path from 'node:path';
import { createLogger, loadConfig, loadKeys } from '@shop/kernel';
import { describeMigration, parseMigrateArgs, runMigrations } from './lib/migrate';
import { subgraphs } from './subgraphs';

async function main(): Promise<number> {
  let config;
  try {
    // Scripts log quietly unless LOG_LEVEL says otherwise; migrating is what creates the databases.
    config = loadConfig({ LOG_LEVEL: 'warn', POSTGRES_CREATE_DATABASE: 'true', ...process.env });
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  const args = parseMigrateArgs(
    process.argv.slice(2),
    subgraphs.filter((m) => m.migrate).map((m) => m.name),
  );
  if ('error' in args) {
    console.error(`${args.error}\nusage: npm run migrate [-- --service <name> ...] [--ensure-dev-keys]`);
    return 2;
  }
  if (args.ensureDevKeys && !config.isProduction) {
    loadKeys(config);
    console.log(`development signing keys: ${path.resolve(config.keysDir)}`);
  }
  const logger = createLogger('migrate', config.logLevel);
  try {
    const modules = args.services ? subgraphs.filter((m) => args.services!.includes(m.name)) : subgraphs;
    const reports = await runMigrations(modules, config, logger, (r) => console.log(describeMigration(r)));
    if (!reports.length) console.log('No subgraph has migrations.');
    return 0;
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error((err as Error).stack ?? err);
    process.exit(1);
  },
);
