import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** The gateway's sources. A file directly in it (app.ts, errors.ts, config.ts) is a node of its own. */
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function folderOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0]! : parts.join('/');
}

/**
 * The relative modules a file loads when it runs: `import type`, `export type` and imports whose
 * every name is `type` are erased (verbatimModuleSyntax keeps the rest), so they are left out.
 * With `types`, those too: every module whose names it uses.
 */
function runtimeImports(file: string, { types = false } = {}): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      if (!types && clause?.phaseModifier === ts.SyntaxKind.TypeKeyword) continue;
      specifier = statement.moduleSpecifier;
    } else if (ts.isExportDeclaration(statement)) {
      if (!types && statement.isTypeOnly) continue;
      specifier = statement.moduleSpecifier;
    }
    if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    found.push(resolve(dirname(file), specifier.text.replace(/\.js$/, '.ts')));
  }
  return found;
}

/** Each folder pair that imports at runtime in both directions, with the files of each direction. */
function twoWayFolders(): string[] {
  const edges = new Map<string, string[]>(); // "from -> to" => files
  for (const file of sourceFiles(SRC)) {
    for (const target of runtimeImports(file)) {
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      const key = `${from} -> ${to}`;
      edges.set(key, [...(edges.get(key) ?? []), `${relative(SRC, file)} imports ${relative(SRC, target)}`]);
    }
  }
  const pairs: string[] = [];
  for (const [key, files] of edges) {
    const [from, to] = key.split(' -> ') as [string, string];
    if (from > to) continue;
    const back = edges.get(`${to} -> ${from}`);
    if (back === undefined) continue;
    pairs.push(`${from} <-> ${to}\n    ${[...files, ...back].join('\n    ')}`);
  }
  return pairs.sort();
}

/** Imports of `from` (a folder) from `to`, types included: `file imports target` each. */
function importsOf(from: string, to: string): string[] {
  return sourceFiles(join(SRC, from)).flatMap((file) =>
    runtimeImports(file, { types: true })
      .filter((target) => folderOf(target) === to)
      .map((target) => `${relative(SRC, file)} imports ${relative(SRC, target)}`),
  );
}

describe('the gateway import graph', () => {
  it('finds the runtime imports it checks (a sanity check on the parser)', () => {
    expect(runtimeImports(join(SRC, 'app.ts'))).toContain(join(SRC, 'hub/hub.ts'));
    expect(runtimeImports(join(SRC, 'hub/requests.ts'))).not.toContain(join(SRC, 'cluster/cluster.ts')); // import type
    expect(runtimeImports(join(SRC, 'hub/requests.ts'), { types: true })).toContain(join(SRC, 'cluster/cluster.ts'));
  });

  // A device attaches to a link (Hub.connect's `device`), not the other way: transports and the
  // hub are written without a word of devices/, types included.
  it.each(['transports', 'hub'])('%s imports nothing of devices/, not even a type', (folder) => {
    expect(importsOf(folder, 'devices')).toEqual([]);
  });

  it('has no two folders that import each other at runtime', () => {
    const pairs = twoWayFolders();
    if (pairs.length > 0) console.log(`folders importing each other at runtime:\n  ${pairs.join('\n  ')}`);
    expect(pairs).toEqual([]);
  });
});
