"""CI: the numpy helper dino_golden.py agrees with `dino-ref compare` on every fixture.

Usage: python3 reference-tests/porting/test_helper.py   (from anywhere; needs `npm ci` done, numpy,
and no torch: it checks that neither this script nor the helper imports it)

For every case file of fixtures/golden and fixtures/external, ACTUAL files are written (the case's
own outputs; one element of one output moved beyond its tolerance; one output of the wrong shape;
one output missing), and both tools compare them, whole folders at a time (CASES_DIR ACTUALS_DIR,
--json, --no-diagnosis for the CLI). Also the PyTorch-written mistakes of fixtures/porting-bugs,
--partial, --precision, and invalid input (truncated files, a case that breaks the format, a
missing output, a missing folder, bad arguments): both must exit 2 with one line. Agreement means:
the same exit code, and per case the same op, verdict, first divergence, and per output the same
verdict, problem, number of elements outside the tolerance and worst element.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import dino_golden as dg  # noqa: E402

CLI = ["node", os.path.join(ROOT, "bin", "dino-ref.js"), "compare"]
HELPER = [sys.executable, os.path.join(HERE, "dino_golden.py"), "compare"]
SETS = ["fixtures/golden", "fixtures/external"]
failures = []


def run(cmd, *args):
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=ROOT)
    return r.returncode, r.stdout, r.stderr


def summary(report):
    """What must agree, per case."""
    return [{"case": os.path.relpath(c["case"], ROOT), "op": c["op"], "verdict": c["verdict"],
             "first_divergence": (c["first_divergence"] or {}).get("output"),
             "outputs": [(o["output"], o["verdict"], o["problem"], o["mismatches"], o["worst_index"]) for o in c["outputs"]]}
            for c in report]


def agree(name, *args, expect=None):
    """Both tools on the same arguments: same exit code (and `expect` when given), same verdicts."""
    code_cli, out_cli, err_cli = run(CLI, "--json", "--no-diagnosis", *args)
    code_py, out_py, err_py = run(HELPER, "--json", *args)
    problems = []
    if code_cli != code_py:
        problems.append(f"exit codes differ: dino-ref {code_cli} ({err_cli.strip()[:200]}), dino_golden {code_py} ({err_py.strip()[:200]})")
    if expect is not None and code_cli != expect:
        problems.append(f"dino-ref exited {code_cli}, expected {expect} ({err_cli.strip()[:200]})")
    if code_cli == 2 or code_py == 2:
        for tool, err in (("dino-ref", err_cli), ("dino_golden", err_py)):
            lines = err.strip().split("\n")
            if len(lines) != 1 or not lines[0].startswith(("dino-ref: ", "dino_golden: ")):
                problems.append(f"{tool} did not say it in one line: {err.strip()[:300]}")
    elif not problems:
        a, b = summary(json.loads(out_cli)), summary(json.loads(out_py))
        for x, y in zip(a, b):
            if x != y:
                problems.append(f"{x['case']}: dino-ref {x} but dino_golden {y}")
                break
        if len(a) != len(b):
            problems.append(f"{len(a)} cases from dino-ref, {len(b)} from dino_golden")
    status = "ok  " if not problems else "FAIL"
    print(f"{status} {name}: exit {code_cli}")
    for p in problems:
        print(f"     {p}")
    if problems:
        failures.append(name)


def moved(a, tol):
    """a copy of `a` with its middle element moved beyond [atol, rtol] (and by a few ulps at least)."""
    out = np.array(a, copy=True)
    flat = out.reshape(-1)
    if flat.size == 0:
        return None
    i = flat.size // 2
    if out.dtype.kind in "iu":
        flat[i] = flat[i] + 1
        return out
    e = float(flat[i]) if np.isfinite(flat[i]) else 0.0
    step = max(4 * (tol[0] + tol[1] * abs(e)), 16 * float(np.spacing(out.dtype.type(abs(e)))), 1e-30)
    flat[i] = out.dtype.type(e + step)
    return out


def write_sets(tmp):
    """ACTUALS folders mirroring fixtures/: self, moved, reshaped; returns the cases with more than one output."""
    multi = []
    for s in SETS:
        for path in dg.find_case_files(os.path.join(ROOT, s)):
            rel = os.path.relpath(path, ROOT)
            case = dg.read_case(path)
            names = list(case.outputs)
            for kind in ("self", "moved", "reshaped"):
                outs = dict(case.outputs)
                if kind == "moved":
                    target = next((n for n in names if case.outputs[n].size > 0), names[0])
                    m = moved(case.outputs[target], case.tolerance_for(target))
                    if m is not None:
                        outs[target] = m
                elif kind == "reshaped":
                    outs[names[-1]] = np.concatenate([case.outputs[names[-1]].reshape(-1), case.outputs[names[-1]].reshape(-1)[:1]]) \
                        if case.outputs[names[-1]].size else np.zeros(1, case.outputs[names[-1]].dtype)
                dest = os.path.join(tmp, kind, rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                dg.write_actual(dest, outs)
            if len(names) > 1:
                multi.append(rel)
    return multi


def main():
    if "torch" in sys.modules:
        raise SystemExit("test_helper: torch was imported")
    tmp = tempfile.mkdtemp(prefix="dino-golden-")
    try:
        multi = write_sets(tmp)
        for s in SETS:
            agree(f"{s}: every case against its own outputs", s, os.path.join(tmp, "self", s), expect=0)
            agree(f"{s}: one element moved beyond its tolerance, in every case", s, os.path.join(tmp, "moved", s), expect=1)
            agree(f"{s}: one output of the wrong shape, in every case", s, os.path.join(tmp, "reshaped", s), expect=1)
            for p in ("float32", "bfloat16", "float16"):
                agree(f"{s}: moved elements, --precision {p}", "--precision", p, s, os.path.join(tmp, "moved", s))

        # the mistakes PyTorch made on purpose (fixtures/porting-bugs): every file against its case
        with open(os.path.join(ROOT, "fixtures/porting-bugs/MANIFEST.json")) as f:
            entries = json.load(f)["actuals"]
        bugs = os.path.join(tmp, "bugs")
        for e in entries:
            dest_case = os.path.join(bugs, "cases", e["file"])
            os.makedirs(os.path.dirname(dest_case), exist_ok=True)
            shutil.copyfile(os.path.join(ROOT, e["case"]), dest_case)
        agree("fixtures/porting-bugs against their cases", os.path.join(bugs, "cases"), "fixtures/porting-bugs",
              expect=1)

        # --partial: one output missing, and whole files missing
        partial = os.path.join(tmp, "partial")
        for rel in multi[:: max(1, len(multi) // 12)]:
            case = dg.read_case(os.path.join(ROOT, rel))
            outs = dict(case.outputs)
            outs.pop(list(outs)[0])
            dest = os.path.join(partial, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            dg.write_actual(dest, outs)
            agree(f"{rel}: an output missing", rel, dest, expect=2)
            agree(f"{rel}: an output missing, --partial", "--partial", rel, dest)
        agree("fixtures/golden with a few ACTUAL files", "fixtures/golden", os.path.join(partial, "fixtures/golden"), expect=2)
        agree("fixtures/golden with a few ACTUAL files, --partial", "--partial", "fixtures/golden",
              os.path.join(partial, "fixtures/golden"))

        # invalid input
        case = "fixtures/golden/softmax/k65_t0.1.safetensors"
        own = os.path.join(tmp, "self", case)
        raw = open(os.path.join(ROOT, case), "rb").read()
        bad = os.path.join(tmp, "bad")
        os.makedirs(bad)

        def bad_file(name, data):
            p = os.path.join(bad, name)
            with open(p, "wb") as f:
                f.write(data)
            return p

        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + n])

        def with_header(h):
            text = json.dumps(h).encode()
            text += b" " * ((8 - (8 + len(text)) % 8) % 8)
            return len(text).to_bytes(8, "little") + text + raw[8 + n:]

        meta = header["__metadata__"]
        tampered = {
            "truncated": raw[:-3],
            "short": raw[:5],
            "header_past_end": (len(raw)).to_bytes(8, "little") + raw[8:],
            "not_json": raw[:8] + b"{" + b"x" * (n - 1) + raw[8 + n:],
            "bad_format": with_header(dict(header, __metadata__=dict(meta, format="dino-golden/2"))),
            "no_op": with_header(dict(header, __metadata__={k: v for k, v in meta.items() if k != "op"})),
            "bad_tolerance": with_header(dict(header, __metadata__=dict(meta, tolerance='{"default": [1e-6]}'))),
            "no_default_tolerance": with_header(dict(header, __metadata__=dict(meta, tolerance='{"out.probs": [0, 0]}'))),
            "negative_tolerance": with_header(dict(header, __metadata__=dict(meta, tolerance='{"default": [-1, 0]}'))),
            "params_not_object": with_header(dict(header, __metadata__=dict(meta, params="[1]"))),
            "stray_tensor": with_header({(("x." + k[3:]) if k.startswith("in.") else k): v for k, v in header.items()}),
            "bad_dtype": with_header({k: (dict(v, dtype="F16") if k.startswith("out.") else v) for k, v in header.items()}),
            "bad_shape": with_header({k: (dict(v, shape=[3]) if k.startswith("out.") else v) for k, v in header.items()}),
        }
        for name, data in tampered.items():
            p = bad_file(f"{name}.safetensors", data)
            agree(f"case file {name}", p, own, expect=2)
            # an ACTUAL's metadata and in.* tensors are not read: only a broken file is invalid there
            broken = name in ("truncated", "short", "header_past_end", "not_json", "bad_dtype", "bad_shape")
            agree(f"ACTUAL file {name}", case, p, expect=2 if broken else 0)
        agree("no such file", case, os.path.join(bad, "missing.safetensors"), expect=2)
        agree("a folder and a file", "fixtures/golden", own, expect=2)
        agree("one argument", case, expect=2)
        agree("bad --precision", "--precision", "float8", case, own, expect=2)
        agree("an unrelated ACTUAL", case, os.path.join(tmp, "self", "fixtures/golden/gelu/single.safetensors"), expect=2)
        agree("a case against a case of another op", case, "fixtures/golden/gelu/single.safetensors", expect=2)
    finally:
        shutil.rmtree(tmp)
    if "torch" in sys.modules:
        failures.append("torch was imported")
    print(f"test_helper: {'FAILED: ' + ', '.join(failures) if failures else 'dino_golden.py agrees with dino-ref compare everywhere'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
