#!/usr/bin/env node
// The dino-ref command: runs the compiled CLI (dist/, built by `npm install` / `npm run build`).
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
