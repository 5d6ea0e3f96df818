import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths';
import { withMatrix } from './lib/authz-matrix';

/** `npm run docs:authz`: writes the authorization matrix (gateway/test/authz/matrix.ts) into docs/security.md. */
const file = path.join(ROOT, 'docs', 'security.md');
const before = fs.readFileSync(file, 'utf8');
const after = withMatrix(before);
if (after === before) {
  console.log('docs/security.md: authorization matrix already up to date');
} else {
  fs.writeFileSync(file, after);
  console.log('docs/security.md: authorization matrix updated');
}
