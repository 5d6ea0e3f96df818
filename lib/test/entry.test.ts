import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Runtime code never loads the test harness or the development mailbox's SMTP stack: they are the subpaths
 * `@shop/kernel/testing` and `@shop/kernel/devmail`, asked for only by tests and the gateway's dev-mailbox branch.
 */
const ROOT = path.resolve(__dirname, '../..');
const HEAVY = [
  /[\\/]node_modules[\\/]smtp-server[\\/]/,
  /[\\/]node_modules[\\/]mailparser[\\/]/,
  /[\\/]lib[\\/](dist|src)[\\/]testing[\\/]/,
  /[\\/]lib[\\/](dist|src)[\\/]devmail\./,
];

/** Modules a fresh node process has loaded after requiring `request` (resolved from the repository root, as the services do). */
function loadedBy(request: string): string[] {
  const out = execFileSync(
    process.execPath,
    ['-e', `require(${JSON.stringify(request)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`],
    { cwd: ROOT, encoding: 'utf8' },
  );
  return JSON.parse(out) as string[];
}
const heavy = (files: string[]) =>
  files.filter((f) => HEAVY.some((re) => re.test(f))).map((f) => path.relative(ROOT, f));

beforeAll(() => {
  // The built kernel, as the services load it through node_modules/@shop/kernel (package.json "exports").
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', path.join(ROOT, 'lib')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}, 120_000);

test('the built kernel entry (@shop/kernel) loads neither smtp-server, mailparser, the mailbox nor the test harness', () => {
  const files = loadedBy('@shop/kernel');
  expect(files.some((f) => f.endsWith(path.join('lib', 'dist', 'index.js')))).toBe(true);
  expect(heavy(files)).toEqual([]);
});

test('the subpaths resolve to the built files and do load what they are for', () => {
  const mail = heavy(loadedBy('@shop/kernel/devmail'));
  expect(mail).toEqual(
    expect.arrayContaining([expect.stringMatching(/smtp-server/), expect.stringMatching(/mailparser/)]),
  );
  expect(heavy(loadedBy('@shop/kernel/testing'))).toEqual(
    expect.arrayContaining([path.join('lib', 'dist', 'testing', 'harness.js')]),
  );
});

test('the gateway and every subgraph module load without them too', () => {
  const loaded: string[] = [];
  jest.isolateModules(() => {
    for (const name of ['smtp-server', 'mailparser']) {
      jest.doMock(name, () => {
        loaded.push(name);
        return {};
      });
    }
    for (const file of [
      '../src/testing/harness',
      '../src/testing/private-nats',
      '../src/testing/private-postgres',
      '../src/testing/private-redis',
      '../src/devmail',
    ]) {
      jest.doMock(file, () => {
        loaded.push(file);
        return {};
      });
    }
    // Loading modules inside jest.isolateModules needs CommonJS require.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('../../gateway/src');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    for (const s of ['user', 'product', 'cart', 'order', 'media', 'notification']) require(`../../subgraphs/${s}/src`);
  });
  expect(loaded).toEqual([]);
});
