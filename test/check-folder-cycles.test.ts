/** scripts/check-folder-cycles.ts: the folder-level import cycle check run by `npm run lint`. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { folderCycles, folderEdges, folderNode, main } from '../scripts/check-folder-cycles.js';

describe('folder cycle check', () => {
  it('files at the root of src are nodes of their own; others are their folder', () => {
    expect(folderNode('src/config.ts')).toBe('src/config.ts');
    expect(folderNode('src/sim/live/live-run.ts')).toBe('src/sim/live');
  });

  it('finds a cycle between two folders and names the imports that make it', () => {
    const files = new Map([
      ['src/a/one.ts', "import { two } from '../b/two.js';"],
      ['src/b/two.ts', "import type { Three } from '../c/three.js';"],
      ['src/c/three.ts', "export { one } from '../a/one.js';"],
      ['src/d/leaf.ts', "const m = await import('../a/one.js');"],
    ]);
    const edges = folderEdges(files);
    expect(edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(['src/a>src/b', 'src/b>src/c', 'src/c>src/a', 'src/d>src/a']);
    expect(folderCycles(edges)).toEqual([['src/a', 'src/b', 'src/c']]);
  });

  it('root files importing folders that import other root files make no cycle', () => {
    const files = new Map([
      ['src/main.ts', "import { x } from './server/server.js';"],
      ['src/server/server.ts', "import { c } from '../config.js';"],
      ['src/config.ts', "import { d } from './duration.js';"],
      ['src/duration.ts', ''],
    ]);
    expect(folderCycles(folderEdges(files))).toEqual([]);
  });

  it('the tree of this repository has no folder-level cycle', () => {
    const repo = fileURLToPath(new URL('..', import.meta.url));
    expect(main([repo])).toBe(0);
  });
});
