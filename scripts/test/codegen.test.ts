import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The generated typed documents (storefront/src/gql, checked in) must match schema/operations: `graphql-codegen
 * --check` (part of `npm test`) fails when an operation changed without `npm run codegen`. Run on a scratch copy of
 * what codegen.ts reads and writes, so the repository is never touched.
 */
const REPO = path.resolve(__dirname, '../..');
const BIN = path.join(REPO, 'node_modules/.bin/graphql-codegen');
const GENERATED = 'storefront/src/gql';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codegen-check-'));
  for (const rel of ['codegen.ts', 'schema/api.graphql', 'schema/operations', GENERATED]) {
    fs.cpSync(path.join(REPO, rel), path.join(dir, rel), { recursive: true });
  }
  // codegen.ts imports its plugins and Apollo's addTypenameToDocument from the repository's packages.
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function codegen(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync(BIN, ['--config', 'codegen.ts', ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
const read = (rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
const edit = (rel: string, change: (text: string) => string) =>
  fs.writeFileSync(path.join(dir, rel), change(read(rel)));
const snapshot = () =>
  Object.fromEntries(fs.readdirSync(path.join(dir, GENERATED)).map((f) => [f, read(`${GENERATED}/${f}`)]));

describe('the codegen stale check (graphql-codegen --check)', () => {
  it('passes on the checked-in operations and generated files', () => {
    const r = codegen('--check');
    expect(r.output).not.toMatch(/stale/i);
    expect(r.status).toBe(0);
  });

  it('fails when an operation changes without regenerating, writing nothing; passes once regenerated', () => {
    const before = snapshot();
    // A selection changed in an existing operation (the shape Apollo Client receives would no longer match the types).
    edit('schema/operations/admin/catalog.graphql', (t) => {
      const changed = t.replace('        name\n        stock\n', '        name\n        stock\n        inStock\n');
      expect(changed).not.toBe(t);
      return changed;
    });
    const stale = codegen('--check');
    expect(stale.status).not.toBe(0);
    expect(stale.output).toMatch(/stale files were detected/);
    expect(stale.output).toContain(`${GENERATED}/graphql.ts`);
    expect(snapshot()).toEqual(before);

    expect(codegen().status).toBe(0);
    expect(read(`${GENERATED}/graphql.ts`)).not.toBe(before['graphql.ts']);
    expect(codegen('--check').status).toBe(0);
  });

  it('fails when operations are added and removed', () => {
    edit(
      'schema/operations/storefront/catalog.graphql',
      (t) => `${t}\nquery StaleProbe {\n  categories {\n    slug\n  }\n}\n`,
    );
    fs.rmSync(path.join(dir, 'schema/operations/admin/users.graphql'));
    const r = codegen('--check');
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/stale files were detected/);
  });
});
