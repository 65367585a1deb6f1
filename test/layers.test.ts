// The layers of docs/design.md, kept by a test: every relative import in src/ is read, and an
// import that goes up a layer, sideways into another folder of the same layer, or closes a cycle
// fails the test with the files named.

import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(__dirname, "../src");

/**
 * The layers, bottom to top (docs/design.md draws the same list). A file may import files of its
 * own folder and of folders in lower layers; folders that share a layer do not import each other.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["tensor"],
  ["kernels", "io", "plot"],
  ["model", "dino", "data"],
  ["eval"],
  ["train"],
  ["ops", "explain", "bench"],
  ["cli"],
  ["index.ts"],
];

/** The layer of a file under src/: its folder's (or, at the top, its own name's) row in LAYERS. */
function layerOf(file: string): { layer: number; group: string } {
  const group = file.includes("/") ? file.split("/")[0] : file;
  const layer = LAYERS.findIndex((row) => row.includes(group));
  if (layer < 0) throw new Error(`src/${file}: folder ${group} is not in the layer list of test/layers.test.ts (add it there and to docs/design.md)`);
  return { layer, group };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Relative imports (static, dynamic and `export ... from`) of a file, as paths under src/. */
function importsOf(path: string): string[] {
  const text = readFileSync(path, "utf8");
  const found = new Set<string>();
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)"(\.[^"]+)"/g)) {
    found.add(relative(SRC, resolve(dirname(path), m[1])).replace(/\.js$/, ".ts"));
  }
  return [...found];
}

const graph = new Map(sourceFiles(SRC).map((p) => [relative(SRC, p), importsOf(p)]));

describe("the layers of src/", () => {
  it("every import goes to the same folder or a lower layer", () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const from = layerOf(file);
      for (const target of imports) {
        if (target.startsWith("..")) {
          wrong.push(`src/${file} imports ${target}, outside src/`);
          continue;
        }
        const to = layerOf(target);
        if (to.group === from.group) continue;
        if (to.layer > from.layer) wrong.push(`src/${file} (layer ${from.layer}, ${from.group}) imports src/${target} from a higher layer (${to.layer}, ${to.group})`);
        else if (to.layer === from.layer) wrong.push(`src/${file} (${from.group}) imports src/${target} from ${to.group}, a folder of the same layer`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("no import closes a cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, "open");
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (!graph.has(next)) continue;
        if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => `src/${f}`).join(" → "));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it("reads the imports it checks (a file that imports nothing from src/ is rare)", () => {
    // guards the parser itself: if it found no imports, the two tests above would pass vacuously
    const withImports = [...graph.values()].filter((imports) => imports.length > 0).length;
    expect(withImports).toBeGreaterThan(graph.size / 2);
    expect(graph.get("cli/main.ts")).toContain("cli/train.ts");
  });
});
