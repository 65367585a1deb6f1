"""Tamper tests of check-fixtures.sh's comparison rule (reference-tests/compare_fixtures.py).

Usage: /usr/bin/python3 reference-tests/test_check_fixtures.py   (CI runs it after check-fixtures.sh)

Each case copies fixtures/ into a temp folder, changes one thing there, and runs
compare_fixtures.py with the copy as the committed side and the real fixtures/ as the regenerated
side (fixtures/ IS a regeneration: check-fixtures.sh just said so); the last case runs the whole
check-fixtures.sh on a tampered copy. An edited case file also gets its MANIFEST.json entry
updated, as a regeneration would write it, so that the failure must come from the rule for that
file and not from a stale manifest. Expected: every change the rule forbids fails and names the
file; the allowed float32 differences pass. Exit 1 if any expectation is not met.
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "generate"))

import safetensors_io  # noqa: E402

PY = sys.executable
FIX = os.path.join(ROOT, "fixtures")
COMPARE = os.path.join(HERE, "compare_fixtures.py")

# files the cases edit (set/op/case)
VB = "golden/vit_backward/p4_d24_16x16_b2_native.safetensors"
TRAIN = "golden/dino_train_steps/nll_frozen_clip.safetensors"
TRAIN_EXT = "external/dino_train_steps/p3_d12_nll_frozen_clip2.safetensors"
ADAMW = "golden/adamw_step/step1000.safetensors"
SCHED = "golden/cosine_schedule/lr_warmup.safetensors"
KNN = "external/knn/ntr80_nte25_k7_c4.safetensors"
GRAD_IMAGES = '"out.grad_images":{"dtype":'   # VB's header entry (golden layout)


def update_manifest(root, rel):
    """Rewrite the manifest entry of rel with the file's sha256 and size (the writers' format)."""
    path, (s, f) = os.path.join(root, rel), rel.split("/", 1)
    mpath = os.path.join(root, s, "MANIFEST.json")
    with open(mpath, encoding="utf-8") as fh:
        m = json.load(fh)
    with open(path, "rb") as fh:
        data = fh.read()
    for e in m["cases"]:
        if e["file"] == f:
            e["sha256"], e["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    with open(mpath, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(json.dumps(m, sort_keys=True, indent=1) + "\n")


def edit_tensor(root, rel, name, fn):
    """Replace tensor `name` of the case file by fn(array) (same dtype and size), in place."""
    path = os.path.join(root, rel)
    buf = bytearray(open(path, "rb").read())
    tensors, _, info = safetensors_io.decode(bytes(buf), rel)
    a = tensors[name]
    b = np.asarray(fn(a.copy()), dtype=a.dtype)
    assert b.shape == a.shape and b.tobytes() != a.tobytes(), (rel, name)
    off = info["offsets"][name]
    buf[off:off + a.nbytes] = b.astype(a.dtype.newbyteorder("<")).tobytes()
    open(path, "wb").write(bytes(buf))
    update_manifest(root, rel)


def edit_header(root, rel, fn):
    """Replace the header text by fn(text); the data stays."""
    path = os.path.join(root, rel)
    buf = open(path, "rb").read()
    (n,) = struct.unpack("<Q", buf[:8])
    text = fn(buf[8:8 + n].decode("utf-8"))
    head = text.encode("utf-8")
    open(path, "wb").write(struct.pack("<Q", len(head)) + head + buf[8 + n:])
    update_manifest(root, rel)


def edit_meta(root, rel, key, fn):
    """Replace __metadata__[key] by fn(old value) inside the header text."""
    _, meta, _ = safetensors_io.read(os.path.join(root, rel))
    old = meta[key]
    new = fn(old)
    assert new != old

    def sub(text):
        assert text.count(json.dumps(old)) == 1, (rel, key)
        return text.replace(json.dumps(old), json.dumps(new))
    edit_header(root, rel, sub)


def ulp(a):
    """a with its first element moved up by one ulp of its dtype."""
    flat = a.reshape(-1)
    flat[0] = np.nextafter(flat[0], np.inf, dtype=a.dtype)
    return a


def tol_of(root, rel, name):
    _, meta, _ = safetensors_io.read(os.path.join(root, rel))
    t = json.loads(meta["tolerance"])
    return t.get(name, t["default"])


def shifted(rel, name, q):
    """Tamper: output `name` of rel moved by q x (atol + rtol |e|) on its largest element."""
    def tamper(root):
        atol, rtol = tol_of(root, rel, name)

        def fn(a):
            flat = a.reshape(-1)
            i = int(np.argmax(np.abs(flat)))
            e = float(flat[i])
            flat[i] = e + q * (atol + rtol * abs(e))
            return a
        edit_tensor(root, rel, name, fn)
    return tamper


def scale_tolerance(name, factor):
    def fn(text):
        t = json.loads(text)
        t[name] = [t[name][0] * factor, t[name][1]]
        return json.dumps(t, sort_keys=True, separators=(",", ":") if ": " not in text else None)
    return fn


def add_file(root):
    shutil.copy(os.path.join(root, SCHED), os.path.join(root, "golden/cosine_schedule/extra.safetensors"))


def remove_file(root):
    os.remove(os.path.join(root, "external/vit_forward/p6_d18_24x18_b2.safetensors"))


def manifest_field(root):
    p = os.path.join(root, "golden/MANIFEST.json")
    m = json.load(open(p))
    m["generator_sha256"] = "0" * 64
    open(p, "w", newline="\n").write(json.dumps(m, sort_keys=True, indent=1) + "\n")


def manifest_sha_of_identical_file(root):
    p = os.path.join(root, "external/MANIFEST.json")
    m = json.load(open(p))
    m["cases"][0]["sha256"] = "f" * 64
    open(p, "w", newline="\n").write(json.dumps(m, sort_keys=True, indent=1) + "\n")


def edit_without_manifest(root):
    """A within-rule edit of a vit_backward output whose manifest entry is NOT updated."""
    shifted(VB, "out.grad_images", 0.1)(root)
    shutil.copy(os.path.join(FIX, "golden/MANIFEST.json"), os.path.join(root, "golden/MANIFEST.json"))


# (name, tamper(root), expected exit code, file the FAIL line must name or None)
CASES = [
    ("unchanged copy", lambda r: None, 0, None),
    ("vit_backward F32 output +0.1 x tolerance (allowed)", shifted(VB, "out.grad_images", 0.1), 0, None),
    ("dino_train_steps F32 output +0.2 x tolerance (allowed)", shifted(TRAIN, "out.center", 0.2), 0, None),
    ("dino_train_steps tolerance atol x1.5 (allowed: measured)",
     lambda r: edit_meta(r, TRAIN_EXT, "tolerance", scale_tolerance("out.center", 1.5)), 0, None),
    ("input changed by 1 ulp", lambda r: edit_tensor(r, VB, "in.images", ulp), 1, VB),
    ("vit_backward F32 output +0.3 x tolerance", shifted(VB, "out.grad_images", 0.3), 1, VB),
    ("dino_train_steps F32 output +0.5 x tolerance", shifted(TRAIN, "out.center", 0.5), 1, TRAIN),
    ("adamw_step F32 output (no BLAS) by 1 ulp",
     lambda r: edit_tensor(r, ADAMW, "out.exp_avg.backbone.cls_token", ulp), 1, ADAMW),
    ("F64 output by 1 ulp", lambda r: edit_tensor(r, SCHED, "out.values", ulp), 1, SCHED),
    ("dino_train_steps F64 loss by 1 float64 ulp", lambda r: edit_tensor(r, TRAIN, "out.loss", ulp), 1, TRAIN),
    ("I64 output", lambda r: edit_tensor(r, KNN, "out.predictions", lambda a: (a + 1) % 4), 1, KNN),
    ("param changed", lambda r: edit_meta(r, VB, "params", lambda s: s.replace('"depth":3', '"depth":4')), 1, VB),
    ("description changed", lambda r: edit_meta(r, VB, "description", lambda s: s + " "), 1, VB),
    ("producer changed", lambda r: edit_meta(r, TRAIN, "producer", lambda s: s.replace("float32", "float64")),
     1, TRAIN),
    ("vit_backward tolerance atol x1.01",
     lambda r: edit_meta(r, VB, "tolerance", scale_tolerance("out.grad_images", 1.01)), 1, VB),
    ("dino_train_steps tolerance atol x5",
     lambda r: edit_meta(r, TRAIN_EXT, "tolerance", scale_tolerance("out.center", 5)), 1, TRAIN_EXT),
    ("dino_train_steps tolerance rtol changed",
     lambda r: edit_meta(r, TRAIN, "tolerance", lambda s: s.replace("9.54e-07", "9.55e-07", 1)), 1, TRAIN),
    ("tensor renamed",
     lambda r: edit_header(r, VB, lambda h: h.replace('"out.grad_images"', '"out.grad_imagez"')), 1, VB),
    ("shape changed (same size)", lambda r: edit_header(r, VB, lambda h: h.replace(
        GRAD_IMAGES + '"F32","shape":[2,3,16,16]', GRAD_IMAGES + '"F32","shape":[2,3,256,1]')), 1, VB),
    ("dtype changed (F32 -> U8, same bytes)", lambda r: edit_header(r, VB, lambda h: h.replace(
        GRAD_IMAGES + '"F32","shape":[2,3,16,16]', GRAD_IMAGES + '"U8","shape":[2,3,16,64]')), 1, VB),
    ("file added", add_file, 1, "golden/cosine_schedule/extra.safetensors"),
    ("file removed", remove_file, 1, "external/vit_forward/p6_d18_24x18_b2.safetensors"),
    ("MANIFEST generator_sha256", manifest_field, 1, "golden/MANIFEST.json"),
    ("MANIFEST sha256 of an identical file", manifest_sha_of_identical_file, 1, "external/MANIFEST.json"),
    ("edited file, manifest not updated", edit_without_manifest, 1, "golden/MANIFEST.json"),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    return p.returncode, p.stdout + p.stderr


def check(name, rc, out, want_rc, want_file):
    fails = [ln for ln in out.splitlines() if ln.startswith("FAIL")]
    ok = rc == want_rc and (want_file is None or any(f"FAIL  {want_file}:" in ln for ln in fails))
    if want_rc == 0:
        ok = ok and not fails
    shown = fails[0] if fails else out.strip().splitlines()[-1] if out.strip() else ""
    print(f"{'ok  ' if ok else 'BAD '} {name}: exit {rc} (want {want_rc}) | {shown[:200]}")
    if not ok:
        print(out)
    return ok


def main():
    good = True
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, tamper, want_rc, want_file) in enumerate(CASES):
            root = os.path.join(tmp, f"c{i}")
            shutil.copytree(FIX, root)
            tamper(root)
            rc, out = run([PY, COMPARE, root, FIX])
            good &= check(name, rc, out, want_rc, want_file)
            shutil.rmtree(root)
        # the whole script, regeneration included, on a copy with a changed param
        root = os.path.join(tmp, "e2e")
        shutil.copytree(FIX, root)
        edit_meta(root, TRAIN, "params", lambda s: s.replace('"clip_grad":3.0', '"clip_grad":3.5'))
        rc, out = run(["sh", os.path.join(HERE, "check-fixtures.sh"), root])
        good &= check("check-fixtures.sh on a copy with a changed param", rc, out, 1, TRAIN)
    print("test_check_fixtures: " + ("all expectations met" if good else "FAILED"))
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
