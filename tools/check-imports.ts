// The import graph of src/: reports import cycles and every import from the core (src/tensor, src/ops,
// src/autograd, src/backends, src/errors.ts) to a file outside it. Imports point inward (DESIGN.md). Fails
// on: a cycle of value imports outside the core (a load-order hazard); a cycle between folders outside
// the core counting type-only and dynamic imports too (they couple the layers as much, even if they
// vanish at run time: ledger/ importing a type of train/ is the case this check was written for); an
// outward import from the core. Type-only cycles inside one folder (Model and its callbacks' types) and
// cycles inside the core are reported, not failed.
//   node dist/tools/check-imports.js [srcDir]     (exit 1 on a failure; run from the repository root)
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folders and files of src/ that make the core; paths relative to src/, with '/'. */
export const CORE = ['tensor/', 'ops/', 'autograd/', 'backends/', 'errors.ts'];

export function isCore(file: string): boolean {
  return CORE.some((c) => (c.endsWith('/') ? file.startsWith(c) : file === c));
}

/** Every .ts file under dir, relative to dir with '/' separators (declaration files left out). */
function listTs(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listTs(path, base));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(base, path).split(sep).join('/'));
  }
  return out;
}

/** How a file uses another: a value import runs the module; type-only and dynamic imports do not at load. */
export type EdgeKind = 'value' | 'type' | 'dynamic';

// Static imports and re-exports (`import ... from 'x'`, `import 'x'`, `export ... from 'x'`) and dynamic
// `import('x')`; comments are removed first so an import in a comment does not count.
const STATIC =
  /(?:^|[\n;])\s*(import|export)\s([^'"`;]*?)from\s*['"]([^'"]+)['"]|(?:^|[\n;])\s*import\s*['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/[^\n]*/g, '$1');
}

/** Whether an import clause brings in types only: `import type ...`, or braces whose every name is `type X`. */
function typeOnly(clause: string): boolean {
  const c = clause.trim();
  if (/^type\s/.test(c)) return true;
  const braces = /^\{([^}]*)\}$/.exec(c);
  if (!braces) return false;
  const names = braces[1]
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return names.length > 0 && names.every((n) => /^type\s/.test(n));
}

/** The relative imports of one source text, as written ('./x.js', '../y/z.js'), with their kind. */
export function importsOf(text: string): { spec: string; kind: EdgeKind }[] {
  const code = stripComments(text);
  const found: { spec: string; kind: EdgeKind }[] = [];
  for (const m of code.matchAll(STATIC))
    found.push(
      m[3] !== undefined ? { spec: m[3], kind: typeOnly(m[2]) ? 'type' : 'value' } : { spec: m[4], kind: 'value' },
    );
  for (const m of code.matchAll(DYNAMIC)) found.push({ spec: m[1], kind: 'dynamic' });
  return found.filter((f) => f.spec.startsWith('.'));
}

export interface ImportGraph {
  /** file (relative to src/) -> files it imports (relative to src/) -> the strongest kind of import. */
  edges: Map<string, Map<string, EdgeKind>>;
}

/** Reads src/ and resolves each relative import ('./x.js' names the source './x.ts'). */
export function readGraph(srcDir: string): ImportGraph {
  const files = listTs(srcDir);
  const known = new Set(files);
  const edges = new Map<string, Map<string, EdgeKind>>();
  for (const file of files) {
    const targets = new Map<string, EdgeKind>();
    for (const { spec, kind } of importsOf(readFileSync(join(srcDir, file), 'utf8'))) {
      const rel = relative(srcDir, resolve(srcDir, dirname(file), spec))
        .split(sep)
        .join('/');
      const ts = rel.replace(/\.js$/, '.ts');
      const target = known.has(ts) ? ts : known.has(`${rel}/index.ts`) ? `${rel}/index.ts` : undefined;
      if (target === undefined) continue;
      const was = targets.get(target);
      if (was !== 'value') targets.set(target, was === undefined || kind === 'value' ? kind : was);
    }
    edges.set(file, targets);
  }
  return { edges };
}

/** The graph with only the edges of the given kinds, as adjacency lists. */
function adjacency(graph: ImportGraph, kinds: readonly EdgeKind[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [from, tos] of graph.edges)
    out.set(
      from,
      [...tos]
        .filter(([, k]) => kinds.includes(k))
        .map(([to]) => to)
        .sort(),
    );
  return out;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(edges: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let next = 0;
  // Iterative, so a long import chain cannot overflow the stack.
  for (const root of edges.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; i: number }[] = [{ node: root, i: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const succ = edges.get(top.node) ?? [];
      if (top.i < succ.length) {
        const w = succ[top.i++];
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== top.node);
        if (scc.length > 1 || succ.includes(top.node)) out.push(scc.sort());
      }
    }
  }
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

/** The top-level part of a path under src/: 'train' for 'train/model.ts', 'errors.ts' for 'errors.ts'. */
export function folderOf(file: string): string {
  return file.split('/')[0];
}

export interface ImportReport {
  files: number;
  /** Cycles of value imports with a file outside the core: load-order hazards (each fails the check). */
  cycles: string[][];
  /**
   * Cycles between folders outside the core, counting every import (value, type-only and dynamic): a
   * folder that imports one that imports it back breaks the layering (each fails the check). Files in
   * the cycle are listed.
   */
  layerCycles: string[][];
  /** 'from -> to' for each core file importing a file outside the core (each fails the check). */
  outward: string[];
  /** Cycles inside the core, and type-only cycles inside one folder (allowed, reported). */
  coreCycles: string[][];
  folderCycles: string[][];
}

export function checkImports(srcDir: string): ImportReport {
  const graph = readGraph(srcDir);
  const valueCycles = cycles(adjacency(graph, ['value']));
  const allCycles = cycles(adjacency(graph, ['value', 'type', 'dynamic']));
  const spansFolders = (c: string[]) => new Set(c.filter((f) => !isCore(f)).map(folderOf)).size > 1;
  const outward: string[] = [];
  for (const [from, tos] of graph.edges)
    if (isCore(from)) for (const to of tos.keys()) if (!isCore(to)) outward.push(`${from} -> ${to}`);
  const valueOutside = valueCycles.filter((c) => !c.every(isCore));
  const layer = allCycles.filter((c) => !c.every(isCore) && spansFolders(c));
  const flagged = new Set([...valueOutside, ...layer].map((c) => c.join(' ')));
  return {
    files: graph.edges.size,
    cycles: valueOutside,
    layerCycles: layer,
    outward,
    coreCycles: valueCycles.filter((c) => c.every(isCore)),
    folderCycles: allCycles.filter((c) => !c.every(isCore) && !spansFolders(c) && !flagged.has(c.join(' '))),
  };
}

function main(): void {
  const srcDir = resolve(process.argv[2] ?? 'src');
  const r = checkImports(srcDir);
  for (const c of r.cycles) console.log(`cycle of value imports: ${c.join(' <-> ')}`);
  for (const c of r.layerCycles) console.log(`cycle between folders: ${c.join(' <-> ')}`);
  for (const o of r.outward) console.log(`core imports outside the core: ${o}`);
  for (const c of r.coreCycles) console.log(`cycle inside the core (allowed): ${c.join(' <-> ')}`);
  for (const c of r.folderCycles) console.log(`type-only cycle inside one folder (allowed): ${c.join(' <-> ')}`);
  console.log(
    `${r.files} files checked: ${r.cycles.length} value-import cycles and ${r.layerCycles.length} ` +
      `folder cycles outside the core, ${r.outward.length} outward imports from the core`,
  );
  const failed = r.cycles.length + r.layerCycles.length + r.outward.length;
  process.exit(failed === 0 ? 0 : 1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
