/** npm run migrate: applies every subgraph's database migrations (configuration from the environment). */
import { createLogger, loadConfig } from '@shop/kernel';
import { describeMigration, runMigrations } from './lib/migrate';
import { subgraphs } from './subgraphs';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  const logger = createLogger('migrate', process.env.LOG_LEVEL ?? 'warn');
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
