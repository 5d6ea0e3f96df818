import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from '../paths';

/**
 * ESLint's import-x/no-cycle (npm run lint) skips `import type`, so a cycle held together by types alone passes it.
 * This check counts every static import and re-export, types included: modules that need each other's types still
 * cannot be read, tested or moved one at a time.
 */
function importCycles(files: string[], options: ts.CompilerOptions, root: string): string[][] {
  const host = ts.createCompilerHost(options);
  const inTree = new Set(files);
  const edges = new Map<string, Set<string>>();
  for (const file of files) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    const targets = new Set<string>();
    for (const node of source.statements) {
      const spec =
        ts.isImportDeclaration(node) || (ts.isExportDeclaration(node) && node.moduleSpecifier)
          ? node.moduleSpecifier
          : undefined;
      if (!spec || !ts.isStringLiteral(spec)) continue;
      const resolved = ts.resolveModuleName(spec.text, file, options, host).resolvedModule?.resolvedFileName;
      if (resolved && inTree.has(resolved)) targets.add(resolved);
    }
    edges.set(file, targets);
  }
  // Tarjan's strongly connected components: each group of two or more modules is one cycle (or several tangled).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(path.relative(root, w).split(path.sep).join('/'));
    } while (w !== v);
    if (group.length > 1) groups.push(group.sort());
  };
  for (const file of files) if (!index.has(file)) visit(file);
  return groups.sort((a, b) => a[0].localeCompare(b[0]));
}

function treeCycles(): string[][] {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, 'tsconfig.test.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  return importCycles(
    parsed.fileNames.filter((f) => !f.endsWith('.d.ts')),
    parsed.options,
    ROOT,
  );
}

describe('import cycles', () => {
  it('are found through type-only imports and re-exports too', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cycles-'));
    try {
      const write = (name: string, text: string) => {
        fs.writeFileSync(path.join(dir, name), text);
        return path.join(dir, name);
      };
      const files = [
        write('a.ts', "import type { B } from './b';\nexport interface A { b?: B }\n"),
        write('b.ts', "export * from './c';\n"),
        write(
          'c.ts',
          "import { a } from './d';\nimport type { A } from './a';\nexport type B = A;\nexport const c = a;\n",
        ),
        write('d.ts', 'export const a = 1;\n'),
      ];
      expect(importCycles(files, { moduleResolution: ts.ModuleResolutionKind.Node10 }, dir)).toEqual([
        ['a.ts', 'b.ts', 'c.ts'],
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('none in the tree (lib, gateway, subgraphs, scripts, bench, faults, tests included)', () => {
    expect(treeCycles()).toEqual([]);
  });
});
