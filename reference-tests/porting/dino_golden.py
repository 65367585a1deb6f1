"""dino_golden: read dino-golden/1 case files, write your port's outputs, compare them -- with numpy
alone (no torch, no Node). The same comparison rule, verdicts and exit codes as `dino-ref compare`
(docs/porting.md); the diagnosis of a failing case (which known porting mistake your numbers
match) needs `dino-ref compare` itself.

As a module:
    import dino_golden as dg
    case = dg.read_case("fixtures/golden/dino_loss/k65_nc4_b3_tt0.07.safetensors")
    case.inputs["student"], case.params["student_temp"], case.outputs["loss"], case.tolerance_for("loss")
    dg.write_actual("actual.safetensors", {"loss": ..., "grad_student": ..., "center": ...})
    report = dg.compare_case(case, dg.read_actual("actual.safetensors"))

From the shell (exit 0: every compared case passes, 1: one fails, 2: invalid input, in one line):
    python3 dino_golden.py compare CASE ACTUAL [--json] [--partial] [--precision float32|bfloat16|float16]
    python3 dino_golden.py compare CASES_DIR ACTUALS_DIR [...]     (paired by file name)
    python3 dino_golden.py info CASE                               (op, params, inputs, outputs, tolerances)

The rule: an output passes when every element satisfies |actual - expected| <= atol + rtol |expected|
(numpy's allclose; NaN equals NaN, equal infinities are equal; integer outputs must be equal), with
[atol, rtol] the case's entry `out.<name>` or its `default`. An ACTUAL file holds `out.<name>`
tensors; a file without any `out.*` tensor is read by its bare tensor names (a trace).
"""
import argparse
import json
import os
import re
import struct
import sys

import numpy as np

FORMAT = "dino-golden/1"
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
          "U8": np.dtype("u1")}
INTEGER = ("I64", "I32", "U8")
MAX_HEADER_BYTES = 100 * 1024 * 1024
PRECISION_EPS = {"float32": 2.0 ** -23, "bfloat16": 2.0 ** -7, "float16": 2.0 ** -10}
TRACE_BLOCK_PARTS = ["norm1", "attn.qkv", "attn.weights", "attn.proj", "resid1", "norm2", "mlp.fc1", "mlp.act",
                     "mlp.fc2", "out"]


class InvalidInput(Exception):
    """A file or an argument that is not what is expected: one line, exit 2."""


# ---------------------------------------------------------------------------------------------
# safetensors (little-endian), read strictly and written with 8-byte-aligned data
# ---------------------------------------------------------------------------------------------

class Tensor:
    def __init__(self, dtype, array):
        self.dtype = dtype    # "F32", "F64", "I64", "I32", "U8"
        self.array = array    # numpy array of that dtype and shape


def read_safetensors(path):
    """(tensors {name: Tensor}, metadata {str: str}); InvalidInput naming the file otherwise."""
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as e:
        raise InvalidInput(f"{path}: cannot read file ({e.strerror})")

    def fail(what):
        raise InvalidInput(f"{path}: not a valid safetensors file: {what}")

    if len(buf) < 8:
        fail(f"{len(buf)} bytes, expected at least 8 (the header length)")
    n = struct.unpack("<Q", buf[:8])[0]
    if n > len(buf) - 8:
        fail(f"header length {n} runs past the end of the file ({len(buf)} bytes)")
    if n > MAX_HEADER_BYTES:
        fail(f"header length {n} is above the {MAX_HEADER_BYTES}-byte limit")
    if n < 2 or buf[8] != 0x7B:
        fail("the JSON header must start with '{'")
    try:
        header = json.loads(buf[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        fail(f"the header is not valid UTF-8 JSON ({e})")
    if not isinstance(header, dict):
        fail("the header must be a JSON object")
    data = memoryview(buf)[8 + n:]
    metadata, entries = {}, []
    for name, value in header.items():
        if name == "__metadata__":
            if not isinstance(value, dict):
                fail("__metadata__ must be an object of strings")
            for k, v in value.items():
                if not isinstance(v, str):
                    fail(f"__metadata__.{k} must be a string, got {type(v).__name__}")
                metadata[k] = v
            continue
        where = f"tensor '{name}'"
        if not isinstance(value, dict):
            fail(f"{where}: expected {{dtype, shape, data_offsets}}")
        dtype, shape, offsets = value.get("dtype"), value.get("shape"), value.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            fail(f"{where}: dtype {json.dumps(dtype)} is not supported (expected one of {', '.join(DTYPES)})")
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            fail(f"{where}: shape must be an array of non-negative integers, got {json.dumps(shape)}")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
            fail(f"{where}: data_offsets must be [begin, end] with non-negative integers, got {json.dumps(offsets)}")
        begin, end = offsets
        if begin > end:
            fail(f"{where}: data_offsets [{begin}, {end}] has begin after end")
        if end > len(data):
            fail(f"{where}: data_offsets [{begin}, {end}] runs past the {len(data)} data bytes")
        need = int(np.prod(shape, dtype=np.int64)) * DTYPES[dtype].itemsize
        if end - begin != need:
            fail(f"{where}: {dtype} [{', '.join(map(str, shape))}] needs {need} bytes, data_offsets give {end - begin}")
        entries.append((name, dtype, shape, begin, end))
    at = 0
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin < at:
            fail(f"tensor '{name}': data_offsets [{begin}, {end}] overlap another tensor's bytes")
        if begin > at:
            fail(f"bytes {at}..{begin} of the data belong to no tensor (a hole before '{name}')")
        at = end
    if at != len(data):
        fail(f"bytes {at}..{len(data)} of the data belong to no tensor")
    tensors = {name: Tensor(dtype, np.frombuffer(data[b:e], DTYPES[dtype]).reshape(shape))
               for name, dtype, shape, b, e in entries}
    return tensors, metadata


def _is_count(x):
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 2 ** 53 - 1


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: numpy array} (float32, float64, int64, int32, uint8), written largest element
    size first so that every tensor starts aligned; the header padded to a multiple of 8."""
    by_dtype = {v: k for k, v in DTYPES.items()}
    items = []
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt not in by_dtype:
            raise InvalidInput(f"{path}: tensor {name} has dtype {a.dtype}; expected float32, float64, int64, int32 or uint8")
        items.append((name, by_dtype[dt], a.astype(dt.newbyteorder("<"), copy=False)))
    items.sort(key=lambda it: -DTYPES[it[1]].itemsize)
    header, at = {}, 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, dtype, a in items:
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [at, at + a.nbytes]}
        at += a.nbytes
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text.encode())) % 8) % 8)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text.encode())) + text.encode())
        for _, _, a in items:
            f.write(a.tobytes())
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Cases and ACTUAL files
# ---------------------------------------------------------------------------------------------

class Case:
    """A dino-golden/1 case: op, params, tolerance table, producer, description; inputs and outputs
    as numpy arrays by name (without the in. / out. prefix); dtypes by name."""

    def __init__(self, path, op, params, tolerance, producer, description, inputs, outputs, dtypes):
        self.path, self.op, self.params, self.tolerance = path, op, params, tolerance
        self.producer, self.description = producer, description
        self.inputs, self.outputs, self.dtypes = inputs, outputs, dtypes

    def tolerance_for(self, name):
        """[atol, rtol] of output `name`: its own entry, or the default."""
        return self.tolerance.get(f"out.{name}", self.tolerance["default"])


def read_case(path):
    tensors, meta = read_safetensors(path)

    def fail(what):
        raise InvalidInput(f"{path}: not a {FORMAT} case: {what}")

    if meta.get("format") != FORMAT:
        fail(f"__metadata__.format is {json.dumps(meta.get('format'))}, expected \"{FORMAT}\"")
    if not meta.get("op"):
        fail("__metadata__.op is missing")
    params = _json_object(meta.get("params", "{}"), "params", fail)
    tolerance = {}
    for k, v in _json_object(meta.get("tolerance", ""), "tolerance", fail).items():
        if not (isinstance(v, list) and len(v) == 2 and all(_is_number(x) and x >= 0 for x in v)):
            fail(f"tolerance.{k} must be [atol, rtol] with non-negative numbers, got {json.dumps(v)}")
        tolerance[k] = [float(v[0]), float(v[1])]
    if "default" not in tolerance:
        fail('tolerance has no "default" entry')
    inputs, outputs, dtypes = {}, {}, {}
    for name, t in tensors.items():
        if name.startswith("in."):
            inputs[name[3:]] = t.array
        elif name.startswith("out."):
            outputs[name[4:]] = t.array
            dtypes[name[4:]] = t.dtype
        else:
            fail(f"tensor '{name}' is neither an input (in.*) nor an output (out.*)")
    if not outputs:
        fail("it has no out.* tensors")
    return Case(path, meta["op"], params, tolerance, meta.get("producer", ""), meta.get("description", ""),
                inputs, outputs, dtypes)


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _json_object(text, key, fail):
    try:
        value = json.loads(text)
    except ValueError:
        fail(f"__metadata__.{key} is not valid JSON: {json.dumps(text[:80])}")
    if not isinstance(value, dict):
        fail(f"__metadata__.{key} must be a JSON object")
    return value


def read_actual(path):
    """An ACTUAL file's outputs {name: Tensor}: its out.<name> tensors, or, when it has none, every
    tensor not named in.* by its own name."""
    tensors, _ = read_safetensors(path)
    out = {n[4:]: t for n, t in tensors.items() if n.startswith("out.")}
    if out:
        return out
    return {n: t for n, t in tensors.items() if not n.startswith("in.")}


def write_actual(path, outputs, producer="your port"):
    """Writes your outputs {name: numpy array} as out.<name> tensors: the ACTUAL file of a case."""
    write_safetensors(path, {f"out.{n}": np.asarray(a) for n, a in outputs.items()}, {"producer": producer})


# ---------------------------------------------------------------------------------------------
# The comparison (src/io/golden.ts compareTensors and src/ops/comparison.ts, restated)
# ---------------------------------------------------------------------------------------------

def widen(tolerance, precision):
    """compare --precision: atol and rtol times eps_p / eps_case (at least 1); eps_case 2^-52 for a
    tolerance built for float64 values (rtol below 2^-40), 2^-23 otherwise."""
    if precision is None:
        return tolerance
    case_eps = 2.0 ** -52 if tolerance[1] < 2.0 ** -40 else 2.0 ** -23
    factor = max(1.0, PRECISION_EPS[precision] / case_eps)
    return [tolerance[0] * factor, tolerance[1] * factor]


def compare_output(name, expected, expected_dtype, actual, tolerance):
    """One output: {output, verdict, max_abs_error, max_rel_error, tolerance, mismatches,
    worst_index, worst_ratio, problem} as `dino-ref compare --json` writes it."""
    row = {"output": name, "verdict": "fail", "max_abs_error": None, "max_rel_error": None, "tolerance": tolerance,
           "mismatches": 0, "worst_index": [], "worst_ratio": None, "problem": None}
    if actual is None:
        return dict(row, verdict="not provided", problem="not provided")
    a_arr = actual.array
    if a_arr.shape != expected.shape:
        return dict(row, problem=f"shape [{','.join(map(str, a_arr.shape))}] but expected [{','.join(map(str, expected.shape))}]")
    integer = expected_dtype in INTEGER
    if integer != (actual.dtype in INTEGER):
        return dict(row, problem=f"dtype {actual.dtype} but expected {expected_dtype}")
    atol, rtol = (0.0, 0.0) if integer else tolerance
    e = expected.astype(np.float64).ravel()
    a = a_arr.astype(np.float64).ravel()
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        nan_e, nan_a = np.isnan(e), np.isnan(a)
        equal = (e == a) | (nan_e & nan_a)
        diff = np.abs(a - e)
        absdiff = np.where(equal, 0.0, np.where(nan_e | nan_a, np.inf, diff))
        rel = np.where(absdiff == 0, 0.0, absdiff / np.abs(e))
        bound = atol + rtol * np.abs(e)
        excess = np.where(absdiff == 0, -bound,
                          np.where(~np.isfinite(absdiff) | ~np.isfinite(e), np.inf, absdiff - bound))
        ratio = np.where(absdiff == 0, 0.0, np.where(np.isfinite(excess), absdiff / bound, np.inf))
    n = e.size
    mismatches = int(np.count_nonzero(excess > 0))
    # the first element with the largest excess (a NaN excess, NaN against NaN, is never the worst)
    worst = int(np.argmax(np.where(np.isnan(excess), -np.inf, excess))) if n else 0
    rel_ok = rel[~np.isnan(rel)]
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return dict(row, verdict="pass" if mismatches == 0 else "fail",
                max_abs_error=_num(float(absdiff.max()) if n else 0.0),
                max_rel_error=_num(float(rel_ok.max()) if rel_ok.size else 0.0),
                mismatches=mismatches, worst_index=_unravel(worst, expected.shape),
                worst_ratio=_num(float(ratio.max()) if n else 0.0))


def _unravel(flat, shape):
    """The index (per dimension) of flat element `flat`; zeros for an empty tensor."""
    if 0 in shape:
        return [0] * len(shape)
    return [int(i) for i in np.unravel_index(flat, shape)] if shape else []


def _num(x):
    return x if np.isfinite(x) else None


def trace_names(depth):
    names = ["patch_embed", "tokens"] + [f"blocks.{i}.{p}" for i in range(depth) for p in TRACE_BLOCK_PARTS]
    return names + ["norm", "cls", "head.mlp", "head.bottleneck", "head.logits"]


def output_order(case):
    """Forward order for a trace (vit_trace), the file's order otherwise."""
    names = list(case.outputs)
    depth = case.params.get("depth")
    if case.op != "vit_trace" or not isinstance(depth, int):
        return names
    order = trace_names(depth)
    return sorted(names, key=lambda n: order.index(n) if n in order else len(order))


def compare_case(case, actual, actual_path="", precision=None):
    """The report of `dino-ref compare --json` for one case, with "diagnosis": null (not computed
    here: run dino-ref compare for it). Outputs missing from `actual` are "not provided"."""
    outputs = [compare_output(n, case.outputs[n], case.dtypes[n], actual.get(n), widen(case.tolerance_for(n), precision))
               for n in output_order(case)]
    failed = any(o["verdict"] == "fail" for o in outputs)
    first = None
    if case.op == "vit_trace":
        i = next((k for k, o in enumerate(outputs) if o["verdict"] == "fail"), None)
        if i is not None:
            before = outputs[:i]
            first = {"output": outputs[i]["output"], "max_abs_error": outputs[i]["max_abs_error"],
                     "tolerance": outputs[i]["tolerance"],
                     "before_within_tolerance": sum(o["verdict"] == "pass" for o in before),
                     "before_not_provided": sum(o["verdict"] == "not provided" for o in before)}
    return {"case": case.path, "actual": actual_path, "op": case.op, "verdict": "fail" if failed else "pass",
            "outputs": outputs, "first_divergence": first, "diagnosis": None}


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

def find_case_files(folder):
    found = []
    for entry in sorted(os.listdir(folder)):
        p = os.path.join(folder, entry)
        if os.path.isdir(p):
            found += find_case_files(p)
        elif entry.endswith(".safetensors"):
            found.append(p)
    return found


def pairs(cases_path, actuals_path, partial):
    for p in (cases_path, actuals_path):
        if not os.path.exists(p):
            raise InvalidInput(f"{p}: no such file or folder")
    dirs = os.path.isdir(cases_path), os.path.isdir(actuals_path)
    if not dirs[0] and not dirs[1]:
        return [(cases_path, actuals_path)]
    if not (dirs[0] and dirs[1]):
        raise InvalidInput(f"compare: give two files (CASE ACTUAL) or two folders (CASES_DIR ACTUALS_DIR); "
                           f"{cases_path if dirs[0] else actuals_path} is a folder and the other is not")
    cases = find_case_files(cases_path)
    if not cases:
        raise InvalidInput(f"compare: no .safetensors case files under {cases_path}")
    found = []
    for c in cases:
        candidates = [os.path.join(actuals_path, os.path.relpath(c, cases_path)), os.path.join(actuals_path, os.path.basename(c))]
        found.append((c, next((p for p in candidates if os.path.exists(p)), None)))
    missing = [c for c, a in found if a is None]
    if len(missing) == len(found):
        raise InvalidInput(f"compare: no file of {actuals_path} has the name of a case under {cases_path} (pairs are made by file name)")
    if missing and not partial:
        raise InvalidInput(f"compare: {actuals_path} has no file for {len(missing)} case(s), e.g. "
                           f"{os.path.relpath(missing[0], cases_path)} (--partial compares the others)")
    return found


def compare_pair(case_path, actual_path, partial, precision):
    case = read_case(case_path)
    actual = read_actual(actual_path)
    lacking = [n for n in case.outputs if n not in actual]
    if len(lacking) == len(case.outputs):
        raise InvalidInput(f"{actual_path}: none of the outputs of {case_path} (e.g. out.{lacking[0]}) is in this file")
    if lacking and not partial:
        more = f" and {len(lacking) - 1} more" if len(lacking) > 1 else ""
        raise InvalidInput(f"{actual_path}: tensor out.{lacking[0]} is missing (the case {case_path} expects it{more}; "
                           f"--partial compares the others)")
    return compare_case(case, actual, actual_path, precision)


def _fmt(x):
    if x is None:
        return "-"
    return "0" if x == 0 else f"{x:.2e}"


def text_report(results, precision):
    lines = []
    for case_path, r in results:
        if r is None:
            lines.append(f"{case_path}: not provided (no ACTUAL file of that name)")
            continue
        for o in r["outputs"]:
            verdict = {"pass": "PASS", "not provided": "not provided"}.get(o["verdict"]) or (
                f"FAIL ({o['problem']})" if o["problem"] else f"FAIL ({o['mismatches']} outside, worst at {o['worst_index']})")
            lines.append(f"{case_path}  {r['op']}  {o['output']}  max abs {_fmt(o['max_abs_error'])}  "
                         f"tolerance {_fmt(o['tolerance'][0])}, {_fmt(o['tolerance'][1])}  {verdict}")
        d = r["first_divergence"]
        if d is not None:
            lines.append(f"{case_path}: first divergence: {d['output']}, max abs {_fmt(d['max_abs_error'])} (tolerance "
                         f"{_fmt(d['tolerance'][0])} + {_fmt(d['tolerance'][1])}·|expected|); the {d['before_within_tolerance']} "
                         f"outputs before it are within tolerance")
    done = [r for _, r in results if r is not None]
    failed = sum(r["verdict"] == "fail" for r in done)
    missing = len(results) - len(done)
    lines.append(f"{len(done) - failed} of {len(done)} cases passed" + (f", {failed} failed" if failed else "")
                 + (f", {missing} not provided" if missing else "")
                 + (f" (tolerances for {precision} computation)" if precision else ""))
    if failed:
        lines.append("(which porting mistake the failing numbers match: dino-ref compare, docs/porting.md)")
    return lines


def info(path):
    case = read_case(path)
    print(f"{path}: op {case.op}, params {json.dumps(case.params)}")
    for n, a in case.inputs.items():
        print(f"  in.{n}  {a.dtype} {list(a.shape)}")
    for n, a in case.outputs.items():
        print(f"  out.{n}  {a.dtype} {list(a.shape)}  tolerance {case.tolerance_for(n)}")
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise InvalidInput(message)


def main(argv=None):
    ap = _Parser(prog="dino_golden.py", description="dino-golden/1 cases with numpy alone")
    sub = ap.add_subparsers(dest="command")
    cp = sub.add_parser("compare", help="compare ACTUAL file(s) with case file(s)")
    cp.add_argument("paths", nargs="*")
    cp.add_argument("--json", action="store_true")
    cp.add_argument("--partial", action="store_true")
    cp.add_argument("--precision")
    ip = sub.add_parser("info", help="what a case holds")
    ip.add_argument("case")
    try:
        args = ap.parse_args(argv)
        if args.command == "info":
            return info(args.case)
        if args.command != "compare":
            raise InvalidInput("expected a command: compare CASE ACTUAL, compare CASES_DIR ACTUALS_DIR, or info CASE")
        if len(args.paths) != 2:
            raise InvalidInput(f"compare: expected CASE ACTUAL or CASES_DIR ACTUALS_DIR, got {len(args.paths)} argument(s)")
        if args.precision is not None and args.precision not in PRECISION_EPS:
            raise InvalidInput(f"--precision {args.precision}: expected float32, bfloat16, float16")
        results = []
        for case_path, actual_path in pairs(args.paths[0], args.paths[1], args.partial):
            results.append((case_path, None if actual_path is None else
                            compare_pair(case_path, actual_path, args.partial, args.precision)))
    except InvalidInput as e:
        message = re.sub(r"\s+", " ", str(e))
        print(f"dino_golden: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([r if r is not None else {"case": c, "actual": None, "op": None, "verdict": "not provided",
                                                     "outputs": [], "first_divergence": None, "diagnosis": []}
                          for c, r in results], indent=1))
    else:
        print("\n".join(text_report(results, args.precision)))
    return 1 if any(r is not None and r["verdict"] == "fail" for _, r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
