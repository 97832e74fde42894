// No import cycles (issue 12, item 3), type-only imports included. eslint's import/no-cycle ignores `import type`
// by design (a type import is erased at run time), but a circle of types still ties two files into one unit that
// cannot be read, tested or moved alone: the mapper's service-map/tallies and the enricher's runtime/docker/
// containerd were such circles until their shared types and ports got files of their own. The graph is built with
// TypeScript's own pre-processor (every `import`, `import type`, `export ... from` and `import()`), across
// packages too: `@adi/<package>` resolves through the workspace packages' "exports".
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Source roots: every package's src/, and the CLI. Tests and benchmarks import freely and are not modules of ours. */
const SOURCE_ROOTS = ["shared/src", "services/capture/src", "services/classifier/src", "services/mapper/src", "services/enricher/src", "cli"];

/** `@adi/<name>[/<sub>]` to its file, from each workspace package's package.json "exports". */
function packageSurfaces(): Map<string, string> {
  const surfaces = new Map<string, string>();
  const workspaces = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces: string[] }).workspaces;
  for (const dir of workspaces) {
    const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as { name: string; exports?: Record<string, string> };
    for (const [sub, file] of Object.entries(pkg.exports ?? {})) surfaces.set(sub === "." ? pkg.name : `${pkg.name}/${sub.slice(2)}`, resolve(root, dir, file));
  }
  return surfaces;
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules" && entry.name !== "test" && entry.name !== "native") files.push(...sourceFiles(path));
    } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".spec.ts") && !entry.name.endsWith(".d.ts")) files.push(path);
  }
  return files;
}

/** Each source file (absolute path) to the source files it imports, type-only imports included. */
export function importGraph(): Map<string, string[]> {
  const surfaces = packageSurfaces();
  const files = SOURCE_ROOTS.flatMap((r) => sourceFiles(join(root, r)));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = new Set<string>();
    for (const { fileName } of importedFiles) {
      const target = fileName.startsWith(".") ? resolve(dirname(file), fileName) : surfaces.get(fileName);
      if (target !== undefined && known.has(target)) targets.add(target);
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** The strongly connected components with more than one file, or a file importing itself (Tarjan's algorithm). */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("lint: no import cycles", () => {
  it("finds a cycle when there is one (the check can fail)", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a", "d"]],
      ["d", []],
      ["e", ["e"]],
    ]);
    expect(cycles(graph)).toEqual([["a", "b", "c"], ["e"]]);
    expect(cycles(new Map([["a", ["b"]], ["b", []]]))).toEqual([]);
  });

  it("the sources of every package and the CLI import without a circle, type-only imports included", () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(50);
    // The surfaces resolve: the CLI reaches the services through them.
    expect(graph.get(join(root, "cli/replay/replay.ts"))).toContain(join(root, "services/mapper/src/index.ts"));
    expect(cycles(graph).map((c) => c.map((f) => relative(root, f)))).toEqual([]);
  });
});
