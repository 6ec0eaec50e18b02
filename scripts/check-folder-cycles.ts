/**
 * Fails when folders of src/ import each other in a cycle (run by `npm run lint`).
 *
 *   node dist/scripts/check-folder-cycles.js [REPO_DIR]
 *
 * A node of the graph is a folder (its files together, sub-folders apart), except that each file
 * directly in src/ (the entry points and the few shared utilities) is a node of its own: `main.ts`
 * may import `server/` while `server/` imports `config.ts`. Edges are the relative specifiers of
 * `import ... from`, `export ... from` and `import(...)`; type-only imports count too (a cycle of
 * types is still a cycle a reader has to hold in mind).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

/** One folder-level edge with the import that makes it, for the message. */
export interface FolderEdge {
  readonly from: string;
  readonly to: string;
  readonly example: string;
}

/** Graph node of a repo-relative source path under `srcRoot`. */
export function folderNode(file: string, srcRoot = 'src'): string {
  const dir = posix.dirname(file);
  return dir === srcRoot ? file : dir;
}

/** Folder-level edges of a set of source files (repo-relative posix path -> text). */
export function folderEdges(files: ReadonlyMap<string, string>, srcRoot = 'src'): FolderEdge[] {
  const edges = new Map<string, FolderEdge>();
  for (const [file, text] of files) {
    const from = folderNode(file, srcRoot);
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1]!;
      const target = posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts');
      if (!target.startsWith(`${srcRoot}/`)) continue;
      const to = folderNode(target, srcRoot);
      const key = `${from}\0${to}`;
      if (from !== to && !edges.has(key)) edges.set(key, { from, to, example: `${file} imports '${spec}'` });
    }
  }
  return [...edges.values()];
}

/** Strongly connected components with more than one node (Tarjan), each sorted. */
export function folderCycles(edges: readonly FolderEdge[]): string[][] {
  const out = new Map<string, string[]>();
  for (const e of edges) {
    if (!out.has(e.from)) out.set(e.from, []);
    if (!out.has(e.to)) out.set(e.to, []);
    out.get(e.from)!.push(e.to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of out.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) cycles.push(scc.sort());
    }
  };
  for (const v of [...out.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

function sourceFiles(repo: string, dir: string, acc: Map<string, string>): Map<string, string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(repo, path, acc);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) acc.set(relative(repo, path).split(sep).join('/'), readFileSync(path, 'utf8'));
  }
  return acc;
}

export function main(argv: readonly string[]): number {
  // dist/scripts/check-folder-cycles.js -> the repo.
  const repo = resolve(argv[0] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
  const edges = folderEdges(sourceFiles(repo, join(repo, 'src'), new Map()));
  const cycles = folderCycles(edges);
  if (cycles.length === 0) {
    process.stdout.write(`check-folder-cycles: no folder-level import cycle in src/ (${edges.length} folder edges)\n`);
    return 0;
  }
  for (const scc of cycles) {
    const members = new Set(scc);
    process.stderr.write(`check-folder-cycles: these import each other in a cycle: ${scc.join(', ')}\n`);
    for (const e of edges) if (members.has(e.from) && members.has(e.to)) process.stderr.write(`  ${e.from} -> ${e.to}: ${e.example}\n`);
  }
  return 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  endQuietlyOnClosedOutput();
  process.exitCode = main(process.argv.slice(2));
}
