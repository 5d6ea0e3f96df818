import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths';
import { withMatrix } from './lib/authz-matrix';

/** `npm run docs:authz`: writes the authorization matrix (gateway/test/authz/matrix.ts) into README.md's Security section. */
const file = path.join(ROOT, 'README.md');
const before = fs.readFileSync(file, 'utf8');
const after = withMatrix(before);
if (after === before) {
  console.log('README.md: authorization matrix already up to date');
} else {
  fs.writeFileSync(file, after);
  console.log('README.md: authorization matrix updated');
}
