import fs from 'node:fs';
import path from 'node:path';
import { MATRIX_END, MATRIX_START, renderMatrix, withMatrix } from '../../../scripts/lib/authz-matrix';

/** The documented table is the tested one: it must be exactly what the matrix renders (`npm run docs:authz` rewrites it). */
test('docs/security.md shows the current authorization matrix', () => {
  const readme = fs.readFileSync(path.join(__dirname, '../../../docs/security.md'), 'utf8');
  expect(readme).toContain(MATRIX_START);
  const shown = readme.slice(readme.indexOf(MATRIX_START) + MATRIX_START.length, readme.indexOf(MATRIX_END)).trim();
  if (shown !== renderMatrix())
    throw new Error('docs/security.md authorization matrix is stale: run `npm run docs:authz`');
  expect(withMatrix(readme)).toBe(readme);
});

test('a changed cell is detected', () => {
  const readme = fs.readFileSync(path.join(__dirname, '../../../docs/security.md'), 'utf8');
  const tampered = readme.replace(
    /\| `users` \| `UNAUTHENTICATED` \| `FORBIDDEN`/,
    '| `users` | `UNAUTHENTICATED` | allowed',
  );
  expect(tampered).not.toBe(readme);
  expect(withMatrix(tampered)).toBe(readme);
});
