// Loaded with `node --import ./test/maxRss.mjs bin/dino-ref.js ...` by test/hostile.test.ts: when
// the process exits, writes its peak resident memory (process.resourceUsage().maxRSS, in kB) to
// the file named by DINO_REF_MAX_RSS_FILE. Node alone, no /usr/bin/time.
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  const file = process.env.DINO_REF_MAX_RSS_FILE;
  if (file) writeFileSync(file, String(process.resourceUsage().maxRSS));
});
