"""Writes the small PyTorch files the `.pth` reader, `dino-ref convert` and `--weights` are tested on.

Usage (Debian's torch: /usr/bin/python3):

  make_weight_fixtures.py --out fixtures/weights      # (re)write the fixtures and MANIFEST.json
  make_weight_fixtures.py --check fixtures/weights    # regenerate into a temp folder, compare byte for byte

Every file is written by torch.save (torch 1.13.1 here) from a tiny DINO built with
reference-tests/generate/official.py (patch 4, width 16, depth 2, 2 heads, mlp ratio 2, position
embedding for 28 px; DINO head hidden 24, bottleneck 8, K 32), seeded, so a regeneration gives the
same bytes. What each file is:

  backbone.pth            a released backbone: the plain state_dict of the teacher's ViT, as
                          dino_deitsmall16_pretrain.pth is (zip format, torch >= 1.6)
  backbone_legacy.pth     the same state_dict in torch.save's legacy format
                          (_use_new_zipfile_serialization=False)
  backbone_fp16.pth       the same backbone in half precision (model.half().state_dict())
  checkpoint.pth          a main_dino.py training checkpoint: {student (DDP: module.backbone...,
                          module.head...), teacher, optimizer (AdamW after one step), epoch, args
                          (argparse.Namespace), dino_loss (center), fp16_scaler}
  dtypes.pth              one tensor of every dtype torch.save stores (NaN and -0.0 included), a
                          0-d tensor, an empty one, a strided view and two views of one storage
  hf_backbone.safetensors the backbone in the Hugging Face ViTModel layout of facebook/dino-vit*
                          (renamed and q/k/v split as transformers' convert_dino_to_pytorch.py
                          does with base_model=True), metadata {"format": "pt"}
  hf_backbone.bin         the same state_dict saved by torch.save (a pytorch_model.bin)
  *.expected.safetensors  what reference-tests/convert_checkpoint.py (PyTorch) makes of each .pth:
                          the tensors torch.load sees, for `dino-ref convert` to match bit for bit
  plain_p0.pkl .. p5      plain Python data (ints, floats, str, lists, tuples, dicts, an
                          OrderedDict, an argparse.Namespace from protocol 2, bytes from 3)
                          pickled with each protocol; plain_p<N>.json: the same value in a tagged
                          JSON form ({"int": "7"}, {"float": "0.1"}, {"tuple": [...]}, ...)
  evil_system.pth         torch.save of an object whose __reduce__ calls os.system (GLOBAL
                          posix.system): loading it with torch.load would run a shell command
  evil_eval.pth           legacy-format torch.save of an object reducing to builtins.eval
                          (GLOBAL __builtin__.eval in protocol 2)
  evil_stack_global.pt    a bare protocol-4 pickle reducing to os.system through STACK_GLOBAL
  The three evil files would create /tmp/dino-ref-pickle-ran if anything ever ran them.
"""
import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "generate"))
sys.path.insert(0, os.path.join(HERE, ".."))

import torch  # noqa: E402

import convert_checkpoint as cc  # noqa: E402
import official  # noqa: E402
from test_convert import DDP  # noqa: E402  (DistributedDataParallel's state_dict layout: keys under module.)

MARKER = "/tmp/dino-ref-pickle-ran"
ARCH = dict(patch_size=4, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0, qkv_bias=True, img_size=28)
HEAD = dict(out_dim=32, nlayers=3, hidden_dim=24, bottleneck_dim=8)


def tiny_net():
    a = ARCH
    vit = official.VisionTransformer(a["patch_size"], a["embed_dim"], a["depth"], a["num_heads"], a["mlp_ratio"],
                                     a["qkv_bias"], img_size=a["img_size"])
    return official.MultiCropWrapper(vit, official.DINOHead(a["embed_dim"], **HEAD))


def tiny_dino():
    """main_dino.py's objects after one step: DDP student, teacher, AdamW with state, centre."""
    torch.manual_seed(0)
    student, teacher = tiny_net(), tiny_net()
    with torch.no_grad():
        for name, p in student.named_parameters():
            if name.endswith("weight_g"):
                continue
            # LayerNorm weights near 1, everything else at a trained scale
            p.copy_(1 + 0.1 * torch.randn_like(p) if "norm" in name and name.endswith("weight") else 0.2 * torch.randn_like(p))
    student = DDP(student)
    teacher.load_state_dict(student.module.state_dict())
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-3)
    out = student.module.head(student.module.backbone(torch.randn(2, 3, 28, 28)))
    out.square().mean().backward()
    opt.step()
    with torch.no_grad():
        # the teacher as an EMA of the student (momentum 0.9), so the two differ
        for t, s in zip(teacher.parameters(), student.module.parameters()):
            t.mul_(0.9).add_(0.1 * s)
    args = argparse.Namespace(
        arch="vit_tiny", patch_size=4, out_dim=32, norm_last_layer=True, momentum_teacher=0.996, use_bn_in_head=False,
        warmup_teacher_temp=0.04, teacher_temp=0.04, warmup_teacher_temp_epochs=0, use_fp16=True, weight_decay=0.04,
        weight_decay_end=0.4, clip_grad=3.0, batch_size_per_gpu=64, epochs=100, freeze_last_layer=1, lr=0.0005,
        warmup_epochs=10, min_lr=1e-06, optimizer="adamw", drop_path_rate=0.1, global_crops_scale=(0.4, 1.0),
        local_crops_number=8, local_crops_scale=(0.05, 0.4), data_path="/path/to/imagenet/train/", output_dir=".",
        saveckp_freq=20, seed=0, num_workers=10, dist_url="env://", local_rank=0, rank=0, world_size=1, gpu=0)
    ckpt = {
        "student": student.state_dict(),
        "teacher": teacher.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "args": args,
        "dino_loss": collections.OrderedDict(center=0.1 * torch.randn(1, HEAD["out_dim"])),
        "fp16_scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 17},
    }
    return student, teacher, ckpt


def hf_layout(backbone_sd):
    """The ViTModel keys of facebook/dino-vit* (transformers convert_dino_to_pytorch.py, base_model=True):
    renamed, qkv split into query / key / value (rows 0:D, D:2D, 2D:3D)."""
    sd = collections.OrderedDict()
    D = ARCH["embed_dim"]
    sd["embeddings.cls_token"] = backbone_sd["cls_token"]
    sd["embeddings.position_embeddings"] = backbone_sd["pos_embed"]
    sd["embeddings.patch_embeddings.projection.weight"] = backbone_sd["patch_embed.proj.weight"]
    sd["embeddings.patch_embeddings.projection.bias"] = backbone_sd["patch_embed.proj.bias"]
    for i in range(ARCH["depth"]):
        b, e = f"blocks.{i}.", f"encoder.layer.{i}."
        w, bias = backbone_sd[b + "attn.qkv.weight"], backbone_sd[b + "attn.qkv.bias"]
        for j, name in enumerate(("query", "key", "value")):
            sd[e + f"attention.attention.{name}.weight"] = w[j * D:(j + 1) * D].clone()
            sd[e + f"attention.attention.{name}.bias"] = bias[j * D:(j + 1) * D].clone()
        for ours, theirs in (("attn.proj", "attention.output.dense"), ("mlp.fc1", "intermediate.dense"),
                             ("mlp.fc2", "output.dense"), ("norm1", "layernorm_before"), ("norm2", "layernorm_after")):
            for kind in ("weight", "bias"):
                sd[e + f"{theirs}.{kind}"] = backbone_sd[b + f"{ours}.{kind}"]
    sd["layernorm.weight"] = backbone_sd["norm.weight"]
    sd["layernorm.bias"] = backbone_sd["norm.bias"]
    return sd


def every_dtype():
    torch.manual_seed(1)
    base = torch.randn(4, 6)
    sd = collections.OrderedDict([
        ("f32", torch.randn(3, 2)), ("f64", torch.randn(4, dtype=torch.float64)), ("f16", torch.randn(5).half()),
        ("bf16", torch.randn(2, 3).bfloat16()), ("i64", torch.arange(-3, 4)), ("i32", torch.arange(6, dtype=torch.int32)),
        ("i16", torch.tensor([-7, 7], dtype=torch.int16)), ("i8", torch.tensor([-1, 2], dtype=torch.int8)),
        ("u8", torch.tensor([0, 255], dtype=torch.uint8)), ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(2.5)), ("empty", torch.zeros(0, 4)), ("strided", base[:, ::2]),
        ("view_a", base[1]), ("view_b", base[2:, 1:3]), ("big_i64", torch.tensor([2 ** 62, -(2 ** 62)])),
    ])
    sd["f32"][0, 0] = float("nan")
    sd["f32"][1, 1] = -0.0
    return sd


class Evil:
    """Reduces to a call that would create MARKER: what a malicious checkpoint does."""

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


def tagged(v):
    """A Python value in the tagged JSON form the TypeScript test compares with."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, list):
        return {"list": [tagged(x) for x in v]}
    if isinstance(v, tuple):
        return {"tuple": [tagged(x) for x in v]}
    if isinstance(v, collections.OrderedDict):
        return {"odict": [[tagged(k), tagged(x)] for k, x in v.items()]}
    if isinstance(v, dict):
        return {"dict": [[tagged(k), tagged(x)] for k, x in v.items()]}
    if isinstance(v, argparse.Namespace):
        return {"namespace": [[k, tagged(x)] for k, x in vars(v).items()]}
    raise TypeError(type(v))


def plain(protocol):
    v = {"int": 7, "neg": -300, "int32": -(2 ** 31), "big": 2 ** 70, "negbig": -(2 ** 70) - 1, "float": 7.0, "tenth": 0.1,
         "tiny": 1e-06, "inf": float("inf"), "str": "h\u00e9llo \u4e16\u754c \U0001f600", "empty": "",
         "list": [1, 2.5, None, True, False], "tuple": (1, (2, 3)), "one": (4,), "nested": {"a": [{"b": ()}], 3: "int key"},
         "od": collections.OrderedDict([("z", 1), ("a", 2)]), "shared": None}
    shared = [1, 2]
    v["shared"] = [shared, shared]
    if protocol >= 2:
        v["ns"] = argparse.Namespace(lr=0.0005, crops=(0.4, 1.0), name="x")
    if protocol >= 3:
        v["bytes"] = b"\x00\xff\x10"
    return v


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def write_all(out):
    os.makedirs(out, exist_ok=True)
    _, teacher, ckpt = tiny_dino()
    backbone = teacher.backbone.state_dict()
    files = {}

    def save(name, obj, what, **kw):
        torch.save(obj, os.path.join(out, name), **kw)
        files[name] = what

    save("backbone.pth", backbone, "released backbone (plain state_dict), zip format")
    save("backbone_legacy.pth", backbone, "the same backbone, legacy format", _use_new_zipfile_serialization=False)
    save("backbone_fp16.pth", {k: v.half() for k, v in backbone.items()}, "the backbone in half precision")
    save("checkpoint.pth", ckpt, "main_dino.py training checkpoint (student, teacher, optimizer, epoch, args, dino_loss, fp16_scaler)")
    save("dtypes.pth", every_dtype(), "every dtype, NaN, -0.0, 0-d, empty, strided and shared-storage tensors")
    hf = hf_layout(backbone)
    with open(os.path.join(out, "hf_backbone.safetensors"), "wb") as f:
        f.write(cc.encode(hf, {"format": "pt"}))
    files["hf_backbone.safetensors"] = "the backbone in the Hugging Face ViTModel layout (facebook/dino-vit*)"
    save("hf_backbone.bin", hf, "the Hugging Face layout as torch.save writes pytorch_model.bin")
    for name in ("backbone.pth", "backbone_legacy.pth", "backbone_fp16.pth", "checkpoint.pth", "dtypes.pth", "hf_backbone.bin"):
        tensors, meta = cc.checkpoint_to_tensors(torch.load(os.path.join(out, name), map_location="cpu"))
        expected = name.rsplit(".", 1)[0] + ".expected.safetensors"
        with open(os.path.join(out, expected), "wb") as f:
            f.write(cc.encode(tensors, meta))
        files[expected] = f"{name} converted by reference-tests/convert_checkpoint.py (PyTorch)"
    for p in range(6):
        with open(os.path.join(out, f"plain_p{p}.pkl"), "wb") as f:
            pickle.dump(plain(p), f, protocol=p)
        with open(os.path.join(out, f"plain_p{p}.json"), "w") as f:
            json.dump(tagged(plain(p)), f)
            f.write("\n")
        files[f"plain_p{p}.pkl"] = f"plain data, pickle protocol {p}"
        files[f"plain_p{p}.json"] = f"plain_p{p}.pkl in tagged JSON"
    save("evil_system.pth", {"weights": torch.zeros(2), "x": Evil(os.system, f"touch {MARKER}")}, "malicious: __reduce__ to os.system (posix.system)")
    save("evil_eval.pth", {"x": Evil(eval, f"__import__('os').system('touch {MARKER}')")}, "malicious: __reduce__ to builtins.eval, legacy format",
         _use_new_zipfile_serialization=False)
    with open(os.path.join(out, "evil_stack_global.pt"), "wb") as f:
        pickle.dump(Evil(os.system, f"touch {MARKER}"), f, protocol=4)
    files["evil_stack_global.pt"] = "malicious: a bare protocol-4 pickle reducing to os.system via STACK_GLOBAL"

    manifest = {
        "producer": f"reference-tests/weights/make_weight_fixtures.py with torch {torch.__version__}, Python {sys.version.split()[0]}",
        "generator_sha256": sha256(os.path.abspath(__file__)),
        "files": [{"file": n, "bytes": os.path.getsize(os.path.join(out, n)), "sha256": sha256(os.path.join(out, n)), "what": files[n]}
                  for n in sorted(files)],
    }
    with open(os.path.join(out, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return manifest


# torch.save's legacy format names storages by their memory address: these files are compared by
# what torch.load gives (same keys, dtypes, shapes and bits), and their MANIFEST entries without
# sha256 and size
BY_CONTENT = {"backbone_legacy.pth"}


def same_file(committed, fresh, name):
    a, b = os.path.join(committed, name), os.path.join(fresh, name)
    if not (os.path.exists(a) and os.path.exists(b)):
        return False
    if name in BY_CONTENT:
        x, y = torch.load(a, map_location="cpu"), torch.load(b, map_location="cpu")
        return list(x) == list(y) and all(x[k].dtype == y[k].dtype and torch.equal(x[k].view(-1).view(torch.int32), y[k].view(-1).view(torch.int32)) for k in x)
    if name == "MANIFEST.json":
        strip = lambda m: [{k: v for k, v in f.items() if f["file"] not in BY_CONTENT or k not in ("sha256", "bytes")} for f in json.load(open(m))["files"]]
        return strip(a) == strip(b) and json.load(open(a))["generator_sha256"] == json.load(open(b))["generator_sha256"]
    return open(a, "rb").read() == open(b, "rb").read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out")
    g.add_argument("--check")
    a = ap.parse_args()
    if a.out:
        m = write_all(a.out)
        print(f"{a.out}: {len(m['files'])} files, {sum(f['bytes'] for f in m['files'])} bytes")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        write_all(tmp)
        bad = [n for n in sorted(set(os.listdir(tmp)) | set(os.listdir(a.check))) if not same_file(a.check, tmp, n)]
    for n in bad:
        print(f"check weight fixtures: {n} differs from a regeneration", file=sys.stderr)
    print("weight fixtures: " + ("FAIL" if bad else "identical to a regeneration"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
