// Builds the playground into dist/playground/: index.html, the page's script bundled by esbuild
// for the browser, and build/kernels.wasm (the same file the Node package loads). The bundle
// takes src/kernels/wasm.browser.ts and threads.browser.ts in place of the Node-only wasm.ts and
// threads.ts (fetch instead of the file system, one thread instead of worker_threads); every other
// module is the project's own, unchanged.
//
// node playground/build.mjs [--out DIR]

import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** esbuild plugin: src/kernels/{wasm,threads}.js imports resolve to their .browser.ts twins. */
const browserKernels = {
  name: "browser-kernels",
  setup(b) {
    b.onResolve({ filter: /^\.\/(wasm|threads)\.js$/ }, (args) => {
      if (resolve(args.resolveDir) !== join(root, "src", "kernels")) return undefined;
      const name = args.path.slice(2, -3);
      return { path: join(root, "src", "kernels", `${name}.browser.ts`) };
    });
  },
};

export async function buildPlayground(outDir = join(root, "dist", "playground")) {
  const wasm = join(root, "build", "kernels.wasm");
  if (!existsSync(wasm)) throw new Error(`${wasm} is missing: build the kernels first with \`npm run asbuild\``);
  // build into a fresh sibling folder, then swap it in: a server never sees half a build
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await bundleInto(tmp, wasm);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(dirname(outDir), { recursive: true });
  renameSync(tmp, outDir);
  return outDir;
}

/** The page's files in `dir`: the bundle (and its source map), the HTML and CSS, the kernels. */
async function bundleInto(dir, wasm) {
  await build({
    entryPoints: [join(root, "playground", "src", "main.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome110", "firefox110", "safari16"],
    outfile: join(dir, "playground.js"),
    sourcemap: true,
    plugins: [browserKernels],
    logLevel: "warning",
  });
  copyFileSync(join(root, "playground", "index.html"), join(dir, "index.html"));
  copyFileSync(join(root, "playground", "style.css"), join(dir, "style.css"));
  copyFileSync(wasm, join(dir, "kernels.wasm"));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--out");
  const out = i > 0 ? resolve(process.argv[i + 1] ?? "") : undefined;
  buildPlayground(out).then(
    (dir) => console.log(`playground built in ${dir}`),
    (e) => {
      console.error(`playground build: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
