import fs from 'node:fs';
import path from 'node:path';

/**
 * The Dockerfile is not built in CI (no Docker engine here): this checks the structure the image relies on. Dependencies
 * are installed from the manifests alone (a layer a source change does not invalidate), only production dependencies
 * ship, the storefront is built in, and the image runs as a numeric non-root user (Kubernetes' runAsNonRoot).
 */
const ROOT = path.resolve(__dirname, '../..');
const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
/** Instructions with continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM /i.test(line)) acc.push([]);
  acc[acc.length - 1].push(line);
  return acc;
}, []);

/** Every workspace's package.json (root package.json `workspaces`, `dir/*` expanded). */
function workspaceManifests(): string[] {
  const { workspaces } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    workspaces: string[];
  };
  return workspaces
    .flatMap((w) =>
      w.endsWith('/*') ? fs.readdirSync(path.join(ROOT, w.slice(0, -2))).map((d) => `${w.slice(0, -2)}/${d}`) : [w],
    )
    .filter((dir) => fs.existsSync(path.join(ROOT, dir, 'package.json')))
    .map((dir) => `${dir}/package.json`);
}

test('the build stage installs dependencies from the lockfile and every workspace manifest before the sources', () => {
  const build = stages[0];
  const sources = build.indexOf('COPY . .');
  const install = build.findIndex((l) => /^RUN npm ci\b/.test(l));
  expect(sources).toBeGreaterThan(0);
  expect(install).toBeGreaterThan(0);
  expect(install).toBeLessThan(sources);
  const copiedBefore = build
    .slice(0, install)
    .filter((l) => l.startsWith('COPY '))
    .flatMap((l) => l.split(/\s+/).slice(1, -1));
  const manifests = ['package.json', 'package-lock.json', ...workspaceManifests()];
  expect(manifests.length).toBeGreaterThan(8);
  expect(copiedBefore.sort()).toEqual(manifests.sort());
});

test('the storefront is built in, development dependencies are pruned, the image runs as a numeric non-root user', () => {
  const build = stages[0].join('\n');
  expect(build).toMatch(/npm run build\b/);
  expect(build).toMatch(/npm run build:storefront\b/);
  expect(build).toMatch(/npm (prune|ci) [^\n]*--omit=dev/);
  const final = stages[stages.length - 1];
  expect(final).toContain('ENV NODE_ENV=production');
  const user = final.filter((l) => l.startsWith('USER ')).pop();
  expect(user).toMatch(/^USER [1-9]\d*$/);
});

test('.dockerignore keeps local builds, dependencies and secrets out of the build context', () => {
  const ignored = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const entry of ['**/node_modules', '**/dist', '.keys', 'storefront/dist', 'secrets.env', '.env'])
    expect(ignored).toContain(entry);
});
