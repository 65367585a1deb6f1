"""CI: runs the worked example of docs/porting.md as it stands, so the page cannot go stale.

Usage: python3 reference-tests/porting/test_docs_example.py   (numpy; Node for the shell part)

The ```python block after <!-- example:python --> runs from the repository root (it must exit 0
and print what the page says it prints); the ```sh block after <!-- example:shell --> runs next
and must print the diagnosis the page quotes and exit 1. The files it writes (port-example/) are
removed afterwards.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def block(doc, marker, fence):
    m = re.search(re.escape(marker) + r"\s*```" + fence + r"\n(.*?)```", doc, re.S)
    if m is None:
        raise SystemExit(f"test_docs_example: no ```{fence} block after {marker} in docs/porting.md")
    return m.group(1)


def main():
    doc = open(os.path.join(ROOT, "docs", "porting.md"), encoding="utf-8").read()
    python, shell = block(doc, "<!-- example:python -->", "python"), block(doc, "<!-- example:shell -->", "sh")
    failures = []
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(python)
        r = subprocess.run([sys.executable, f.name], cwd=ROOT, capture_output=True, text=True)
        os.unlink(f.name)
        print(r.stdout, r.stderr, end="")
        if r.returncode != 0:
            failures.append(f"the python example exited {r.returncode}")
        for line in ("right pass [('center', 'pass'), ('grad_student', 'pass'), ('loss', 'pass')]",
                     "wrong fail [('center', 'pass'), ('grad_student', 'fail'), ('loss', 'fail')]"):
            if line not in r.stdout:
                failures.append(f"the python example did not print {line!r}")
            if f"`{line}`" not in doc:
                failures.append(f"the page does not quote {line!r}")
        command = shell.strip().replace("npx dino-ref", f"node {os.path.join(ROOT, 'bin', 'dino-ref.js')}")
        r = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True)
        print(r.stdout[-600:], r.stderr, end="")
        if r.returncode != 1:
            failures.append(f"the shell example exited {r.returncode}, the page says 1")
        if "[loss.center_added]" not in r.stdout or "your numbers match: the centre added" not in r.stdout:
            failures.append("the shell example did not name loss.center_added")
    finally:
        shutil.rmtree(os.path.join(ROOT, "port-example"), ignore_errors=True)
    print("test_docs_example:", "FAILED: " + "; ".join(failures) if failures else "the worked example of docs/porting.md runs as written")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
