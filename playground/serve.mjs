// A small static server for the playground (node:http, no framework): serves dist/playground/
// on localhost with the two headers that make the page cross-origin isolated (COOP/COEP), which
// browsers require before they create the kernels' SHARED wasm memory.
//
// node playground/serve.mjs [--port N] [--host H] [--dir DIR]
//   --port  default 8088 (or $PORT); 0 takes any free port. The URL is printed on the first line.
//   --host  default 127.0.0.1 (only this machine); 0.0.0.0 serves the network.
//   --dir   default dist/playground next to this script's package (npm run build:playground).

import { createServer } from "node:http";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".map": "application/json; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

const ISOLATION = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

class UsageError extends Error {}

/** Starts the server; resolves to { url, server } once it listens. */
export function startServer({ dir = join(root, "dist", "playground"), port = 8088, host = "127.0.0.1" } = {}) {
  const base = resolve(dir);
  if (!existsSync(join(base, "index.html"))) {
    throw new UsageError(`${join(base, "index.html")} is missing: build the page first with \`npm run build:playground\` (or run \`npm run playground\`, which builds it)`);
  }
  const server = createServer((req, res) => {
    const send = (status, body, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-cache", ...ISOLATION });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "only GET and HEAD\n");
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    } catch {
      return send(400, "bad URL\n");
    }
    if (path.endsWith("/")) path += "index.html";
    const file = resolve(base, `.${path}`);
    // nothing outside the served folder
    if (file !== base && !file.startsWith(base + sep)) return send(403, "forbidden\n");
    if (!existsSync(file) || !statSync(file).isFile()) return send(404, `not found: ${path}\n`);
    send(200, readFileSync(file), TYPES[extname(file)] ?? "application/octet-stream");
  });
  return new Promise((resolvePromise, reject) => {
    server.once("error", (e) => {
      if (e.code === "EADDRINUSE") reject(new UsageError(`port ${port} on ${host} is in use: pass --port with another number (0 takes any free port)`));
      else if (e.code === "EACCES") reject(new UsageError(`no permission to listen on port ${port}: pass --port with a number above 1023`));
      else reject(e);
    });
    server.listen(port, host, () => {
      const address = server.address();
      const shown = host === "0.0.0.0" || host === "::" ? "localhost" : host === "127.0.0.1" ? "localhost" : host;
      resolvePromise({ url: `http://${shown}:${address.port}/`, server });
    });
  });
}

/** Parses --port, --host, --dir. */
function parseArgs(argv) {
  const opts = { port: process.env.PORT === undefined ? 8088 : Number(process.env.PORT) };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--help" || flag === "-h") {
      console.log("usage: node playground/serve.mjs [--port N] [--host H] [--dir DIR]");
      process.exit(0);
    }
    if (!["--port", "--host", "--dir"].includes(flag)) throw new UsageError(`unknown argument ${flag}; expected --port N, --host H or --dir DIR`);
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === "--port") opts.port = Number(value);
    if (flag === "--host") opts.host = value;
    if (flag === "--dir") opts.dir = value;
    i++;
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new UsageError(`--port ${argv[argv.indexOf("--port") + 1] ?? process.env.PORT}: expected a whole number from 0 to 65535`);
  }
  return opts;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { url } = await startServer(parseArgs(process.argv.slice(2)));
    console.log(`dino-ref playground: ${url}`);
    console.log("(Ctrl-C stops the server)");
  } catch (e) {
    console.error(`dino-ref playground: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
}
