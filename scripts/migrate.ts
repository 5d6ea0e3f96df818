/**
 * npm run migrate: applies every subgraph's database migrations (configuration from the environment).
 * --ensure-dev-keys also creates the development signing keys in KEYS_DIR when missing (no-op in production),
 * so that containers sharing that directory never race to create them (docker-compose.yml's migrate service).
 */
import path from 'node:path';
import { createLogger, loadConfig, loadKeys } from '@shop/kernel';
import { describeMigration, runMigrations } from './lib/migrate';
import { subgraphs } from './subgraphs';

async function main(): Promise<number> {
  let config;
  try {
    // Scripts log quietly unless LOG_LEVEL says otherwise.
    config = loadConfig({ LOG_LEVEL: 'warn', ...process.env });
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--ensure-dev-keys');
  if (unknown.length) {
    console.error(`unknown argument(s): ${unknown.join(' ')}\nusage: npm run migrate [-- --ensure-dev-keys]`);
    return 2;
  }
  if (args.includes('--ensure-dev-keys') && !config.isProduction) {
    loadKeys(config);
    console.log(`development signing keys: ${path.resolve(config.keysDir)}`);
  }
  const logger = createLogger('migrate', config.logLevel);
  try {
    const reports = await runMigrations(subgraphs, config, logger, (r) => console.log(describeMigration(r)));
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
