"""PyTorch's side of `dino-ref convert` (run by .ci/run after npm ci has built dino-ref).

Usage: /usr/bin/python3 reference-tests/weights/check_pth_roundtrip.py

For the .pth fixtures of fixtures/weights (written by make_weight_fixtures.py with torch.save):
  1. `dino-ref convert X.pth X.safetensors` gives the tensors and metadata (but `source`) that
     reference-tests/convert_checkpoint.py gives, bit for bit;
  2. `dino-ref convert X.safetensors Y.pth`: torch.load(Y) equals torch.load(X) (the same keys in
     the same order, dtypes, shapes and bits; epoch, args with tuples as lists; the optimizer and
     fp16_scaler dropped), Y loads strictly into the official models (DDP student, teacher,
     dino_loss) as restart_from_checkpoint does, and into a backbone as eval_knn.py's
     load_pretrained_weights does with --checkpoint_key teacher;
  3. a dino-ref training checkpoint (`dino-ref train`, 1 step) converted to .pth loads strictly
     into the official ViT and DINOHead of its architecture;
  4. the Hugging Face layout: `--layout official` of hf_backbone.safetensors equals backbone.pth,
     and `--layout hf` of backbone.pth written as .bin equals hf_backbone.bin under torch.load.
Exit 1 with one line per failure.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "generate"))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import convert_checkpoint as cc  # noqa: E402
import make_weight_fixtures as mk  # noqa: E402
import official  # noqa: E402

FIX = os.path.join(ROOT, "fixtures", "weights")
failures = []


def dino_ref(*args):
    r = subprocess.run(["node", os.path.join(ROOT, "bin", "dino-ref.js"), *args], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"dino-ref {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def same(a, b):
    """Same structure, keys in the same order, tensors of the same dtype, shape and bits."""
    if torch.is_tensor(a):
        return torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape and (
            a.numel() == 0 or torch.equal(a.reshape(-1).contiguous().view(torch.uint8), b.reshape(-1).contiguous().view(torch.uint8)))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def strip_source(meta):
    return {k: v for k, v in meta.items() if k != "source"}


def main():
    tmp = tempfile.mkdtemp(prefix="dino-ref-pth-")
    for name in ("backbone.pth", "backbone_legacy.pth", "backbone_fp16.pth", "checkpoint.pth", "dtypes.pth", "hf_backbone.bin"):
        src = os.path.join(FIX, name)
        st, back = os.path.join(tmp, name + ".safetensors"), os.path.join(tmp, name + ".back.pth")
        dino_ref("convert", src, st)
        ours, ours_meta = cc.decode(open(st, "rb").read())
        theirs, theirs_meta = cc.checkpoint_to_tensors(torch.load(src, map_location="cpu"))
        check(same(collections.OrderedDict(ours), theirs) and strip_source(ours_meta) == strip_source(theirs_meta),
              f"{name}: dino-ref convert = convert_checkpoint.py (tensors bit for bit, metadata)")
        dino_ref("convert", st, back)
        original, loaded = torch.load(src, map_location="cpu"), torch.load(back, map_location="cpu")
        if name == "checkpoint.pth":
            check(list(loaded) == ["student", "teacher", "epoch", "args", "dino_loss"], f"{name}: keys {list(loaded)}")
            check(all(same(original[k], loaded[k]) for k in ("student", "teacher", "dino_loss", "epoch")), f"{name}: student, teacher, dino_loss, epoch identical under torch.load")
            check(vars(loaded["args"]) == {k: list(v) if isinstance(v, tuple) else v for k, v in vars(original["args"]).items()}, f"{name}: args identical (tuples as lists)")
            student, teacher = mk.DDP(mk.tiny_net()), mk.tiny_net()
            student.load_state_dict(loaded["student"], strict=True)
            teacher.load_state_dict(loaded["teacher"], strict=True)
            check(loaded["dino_loss"]["center"].shape == (1, 32), f"{name}: restart_from_checkpoint's student, teacher and dino_loss load strictly")
            # eval_knn.py load_pretrained_weights(model, path, "teacher", ...)
            sd = {k.replace("module.", "").replace("backbone.", ""): v for k, v in loaded["teacher"].items()}
            vit = official.VisionTransformer(4, 16, 2, 2, 2.0, True, img_size=28)
            msg = vit.load_state_dict(sd, strict=False)
            check(not msg.missing_keys, f"{name}: eval_knn.py's load_pretrained_weights --checkpoint_key teacher finds every backbone key")
        else:
            check(same(original, loaded), f"{name}: torch.load of the round trip is identical")

    # a dino-ref training checkpoint into the official code
    run = os.path.join(tmp, "run")
    dino_ref("train", "--preset", "mnist-official", "--set", "trainLimit=32", "--set", "batchSize=16", "--set", "embedDim=16", "--set", "depth=2",
             "--set", "numHeads=2", "--set", "mlpRatio=2", "--set", "outDim=32", "--set", "hiddenDim=24", "--set", "bottleneckDim=8",
             "--steps", "1", "--no-eval", "--out", run)
    pth = os.path.join(tmp, "dino_ref.pth")
    out = dino_ref("convert", os.path.join(run, "checkpoint.safetensors"), pth)
    ck = torch.load(pth, map_location="cpu")
    student, teacher = mk.DDP(mk.tiny_net()), mk.tiny_net()
    student.load_state_dict(ck["student"], strict=True)
    teacher.load_state_dict(ck["teacher"], strict=True)
    check("dropped" in out and "optimizer" not in ck and ck["epoch"] == 0 and ck["dino_loss"]["center"].shape == (1, 32),
          "a dino-ref checkpoint as .pth: student and teacher load strictly into the official modules; centre and epoch there; AdamW moments dropped (said)")

    # the Hugging Face layout
    off = os.path.join(tmp, "hf_official.safetensors")
    dino_ref("convert", os.path.join(FIX, "hf_backbone.safetensors"), off, "--layout", "official")
    check(same(collections.OrderedDict(cc.decode(open(off, "rb").read())[0]), torch.load(os.path.join(FIX, "backbone.pth"))),
          "hf_backbone.safetensors --layout official = backbone.pth")
    hf_bin = os.path.join(tmp, "hf.bin")
    dino_ref("convert", os.path.join(FIX, "backbone.pth"), hf_bin, "--layout", "hf")
    check(same(torch.load(hf_bin), torch.load(os.path.join(FIX, "hf_backbone.bin"))), "backbone.pth --layout hf as .bin = hf_backbone.bin under torch.load")

    print(json.dumps({"failures": len(failures)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
