// One temporary folder for the whole test run: every test's mkdtemp(tmpdir()) lands under it (the
// test processes inherit TMPDIR), and it is removed when the run ends, so the suite leaves nothing
// behind in the system's temp folder.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "dino-ref-tests-"));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
