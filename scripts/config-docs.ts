import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths';
import { withConfigTable } from './lib/config-table';

/** `npm run docs:config`: writes the configuration table (the declaration in lib/src/config.ts) into docs/configuration.md. */
const file = path.join(ROOT, 'docs', 'configuration.md');
const before = fs.readFileSync(file, 'utf8');
const after = withConfigTable(before);
if (after === before) {
  console.log('docs/configuration.md: configuration table already up to date');
} else {
  fs.writeFileSync(file, after);
  console.log('docs/configuration.md: configuration table updated');
}
