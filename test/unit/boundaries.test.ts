import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** engine ⟂ electron ⟂ react, joined only by app/ (VS Code's layering rule, as a test). */
const ROOT = join(__dirname, '../..');
const RULES: Record<string, RegExp> = {
  app: /^(node:|electron|react|zustand|recharts|onnxruntime|\.\.\/(engine|main|renderer))/,
  engine: /^(electron|react|zustand|recharts|\.\.\/.*(main|renderer)\/)/,
  renderer: /^(node:|electron|onnxruntime|.*\/engine\/|.*\/main\/)/,
  main: /^(react|zustand|recharts|.*\/renderer\/)/,
};

function files(dir: string): string[] {
  try {
    return readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx|mts)$/.test(f) ? [p] : [];
    });
  } catch {
    return [];
  }
}

describe('process boundaries', () => {
  for (const [layer, forbidden] of Object.entries(RULES)) {
    it(`${layer}/ imports nothing across its boundary`, () => {
      const bad: string[] = [];
      for (const f of files(join(ROOT, layer))) {
        for (const m of readFileSync(f, 'utf8').matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
          const spec = m[1] ?? m[2]!;
          if (forbidden.test(spec)) bad.push(`${f.slice(ROOT.length + 1)}: ${spec}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }
});

/** The modules a file loads at run time: imports, re-exports and import() calls; `import type` is erased, so skipped. */
const importsOf = new Map<string, string[]>();
function runtimeImports(file: string): string[] {
  const known = importsOf.get(file);
  if (known) return known;
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const specs: string[] = [];
  const typeOnly = (clause: ts.ImportClause | undefined): boolean =>
    !!clause && (clause.isTypeOnly || (!clause.name && !!clause.namedBindings && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !typeOnly(node.importClause) && ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) specs.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(src);
  importsOf.set(file, specs);
  return specs;
}

/** A relative specifier as the bundler resolves it (extensionless, .js for .ts, or a folder's index). */
function resolveRelative(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  const tries = [base, `${base}.ts`, `${base}.tsx`, base.replace(/\.m?js$/, '.ts'), join(base, 'index.ts')];
  const found = tries.find((p) => /\.(ts|tsx|mts|mjs)$/.test(p) && existsSync(p));
  if (!found) throw new Error(`${from.slice(ROOT.length + 1)}: cannot resolve '${spec}'`);
  return found;
}

/** Every package a file reaches through its static import graph, each with the chain that reaches it. */
function reachedPackages(entry: string): Map<string, string[]> {
  const reached = new Map<string, string[]>();
  const seen = new Set<string>();
  const walk = (file: string, chain: string[]): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) walk(resolveRelative(file, spec), [...chain, file.slice(ROOT.length + 1)]);
      else if (!reached.has(spec)) reached.set(spec, [...chain, file.slice(ROOT.length + 1), spec]);
    }
  };
  walk(entry, []);
  return reached;
}

describe('the native runtime stays in the engine host', () => {
  // main/engine-host is the one process that may load onnxruntime; a native crash there spares the window and history
  it('no file under main/host or main/electron reaches onnxruntime-node, directly or through its imports', () => {
    const chains: string[] = [];
    for (const f of [...files(join(ROOT, 'main/host')), ...files(join(ROOT, 'main/electron'))]) {
      for (const [pkg, chain] of reachedPackages(f)) if (pkg.startsWith('onnxruntime')) chains.push(chain.join(' -> '));
    }
    expect(chains).toEqual([]);
  });

  it('the walk follows imports: the engine host process reaches it, and so would a host file importing the model loader', () => {
    expect(reachedPackages(join(ROOT, 'main/engine-host/engine-process.ts')).has('onnxruntime-node')).toBe(true);
    expect(reachedPackages(join(ROOT, 'engine/model/model.ts')).get('onnxruntime-node')).toEqual(['engine/model/model.ts', 'engine/model/onnx-session.ts', 'onnxruntime-node']);
  });
});
