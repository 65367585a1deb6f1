"""Round-trip test of convert_checkpoint.py on a tiny DINO made here (no download).

Run: /usr/bin/python3 reference-tests/test_convert.py   (also collectable by pytest)

Builds a tiny ViT + DINOHead (reference-tests/generate/official.py) as student (wrapped like DDP:
keys module.backbone.* / module.head.*) and teacher (backbone.* / head.*), takes one AdamW step so
that the optimizer has state, and saves an official-format training checkpoint {student, teacher,
optimizer, epoch, args, dino_loss} and a backbone-only file. Each is converted to safetensors
(through the command line) and back, and the result must have the same keys in the same order and
bitwise-equal tensors of the same dtypes; the converted checkpoint must load strictly into the
models. Also: --key teacher --backbone-only equals the released backbone-only format, every dtype
round-trips, and the F32 files are valid for the golden reader.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "generate"))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import convert_checkpoint as cc  # noqa: E402
import official  # noqa: E402
import safetensors_io  # noqa: E402

PY = sys.executable
TOOL = os.path.join(HERE, "convert_checkpoint.py")


class MultiCropWrapper(torch.nn.Module):
    """utils.MultiCropWrapper's parameter layout: backbone, head."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone, self.head = backbone, head


class DDP(torch.nn.Module):
    """The state_dict layout of DistributedDataParallel: every key under `module.`."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def tiny_net():
    return MultiCropWrapper(official.VisionTransformer(4, 16, 2, 2, 4.0, True, img_size=16),
                            official.DINOHead(16, 32, nlayers=3, hidden_dim=24, bottleneck_dim=8))


def tiny_dino():
    """As main_dino.py: student and teacher built separately, teacher loaded from the student."""
    torch.manual_seed(0)
    student, teacher = tiny_net(), tiny_net()
    with torch.no_grad():
        for p in student.parameters():
            p.normal_(0, 0.1)
    student = DDP(student)
    teacher.load_state_dict(student.module.state_dict())
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-3)
    out = student.module.head(student.module.backbone(torch.randn(2, 3, 16, 16)))
    out.square().mean().backward()
    opt.step()
    center = torch.randn(1, 32)
    ckpt = {"student": student.state_dict(), "teacher": teacher.state_dict(), "optimizer": opt.state_dict(),
            "epoch": 7, "args": argparse.Namespace(arch="vit_tiny", patch_size=4, out_dim=32, lr=0.0005,
                                                       norm_last_layer=True, data_path="/x", local_crops_scale=(0.05, 0.4)),
            "dino_loss": {"center": center}}
    return student, teacher, ckpt


def same(a, b, what):
    """Same keys in the same order, same dtypes and shapes, identical bits."""
    assert list(a) == list(b), f"{what}: keys differ: {list(a)[:4]} vs {list(b)[:4]}"
    for k in a:
        x, y = a[k], b[k]
        assert x.dtype == y.dtype and x.shape == y.shape, f"{what}.{k}: {x.dtype}{tuple(x.shape)} vs {y.dtype}{tuple(y.shape)}"
        bits = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]
        xa, ya = (t.contiguous().to(torch.uint8) if t.dtype == torch.bool else t.contiguous() for t in (x, y))
        assert torch.equal(xa.view(bits) if xa.dtype != torch.uint8 else xa, ya.view(bits) if ya.dtype != torch.uint8 else ya), \
            f"{what}.{k}: bits differ"


def run(*args):
    r = subprocess.run([PY, TOOL, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_training_checkpoint_round_trip():
    student, teacher, ckpt = tiny_dino()
    with tempfile.TemporaryDirectory() as d:
        pth, st, back = (os.path.join(d, n) for n in ("checkpoint.pth", "checkpoint.safetensors", "back.pth"))
        torch.save(ckpt, pth)
        print(run("to-safetensors", pth, st))
        tensors, meta = cc.decode(open(st, "rb").read())
        assert all(k.startswith(("student.backbone.", "student.head.", "teacher.backbone.", "teacher.head."))
                   or k == "center" for k in tensors), list(tensors)[:5]
        assert "student.backbone.cls_token" in tensors and "student.head.last_layer.weight_g" in tensors
        assert meta["epoch"] == "7" and meta["student_prefix"] == "module." and meta["teacher_prefix"] == ""
        assert meta["dropped"] == "optimizer", meta["dropped"]
        print(run("to-pth", st, back))
        b = torch.load(back, map_location="cpu")
        assert set(b) == {"student", "teacher", "dino_loss", "epoch", "args"}, set(b)
        same(ckpt["student"], b["student"], "student")
        same(ckpt["teacher"], b["teacher"], "teacher")
        same(ckpt["dino_loss"], b["dino_loss"], "dino_loss")
        assert b["epoch"] == 7
        assert vars(b["args"]) == {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(ckpt["args"]).items()}
        # the official loaders: DDP student and plain teacher, strict
        student.load_state_dict(b["student"], strict=True)
        teacher.load_state_dict(b["teacher"], strict=True)
        # the golden reader accepts the file (all tensors F32 here)
        safetensors_io.read(st)


def test_backbone_only_round_trip_and_key_extraction():
    _, teacher, ckpt = tiny_dino()
    released = teacher.backbone.state_dict()          # what the released *_pretrain.pth files hold
    with tempfile.TemporaryDirectory() as d:
        pth, st, back = (os.path.join(d, n) for n in ("backbone.pth", "backbone.safetensors", "back.pth"))
        torch.save(released, pth)
        run("to-safetensors", pth, st)
        tensors, meta = cc.decode(open(st, "rb").read())
        assert list(tensors) == list(released) and meta["kind"] == "state_dict"
        run("to-pth", st, back)
        b = torch.load(back, map_location="cpu")
        same(released, b, "backbone")
        official.VisionTransformer(4, 16, 2, 2, 4.0, True, img_size=16).load_state_dict(b, strict=True)
        # --key teacher --backbone-only on the training checkpoint gives the same file content
        full, one = os.path.join(d, "checkpoint.pth"), os.path.join(d, "teacher_backbone.safetensors")
        torch.save(ckpt, full)
        run("to-safetensors", full, one, "--key", "teacher", "--backbone-only")
        tensors, meta = cc.decode(open(one, "rb").read())
        same(released, tensors, "teacher backbone")
        assert meta["checkpoint_key"] == "teacher" and meta["epoch"] == "7"
        assert meta["dropped"] == "dino_loss, optimizer, student", meta["dropped"]
        # --key student: backbone.* and head.* with module. stripped
        run("to-safetensors", full, one, "--key", "student")
        tensors, _ = cc.decode(open(one, "rb").read())
        assert list(tensors) == [k[len("module."):] for k in ckpt["student"]]


def test_every_dtype_round_trips():
    sd = {"f32": torch.randn(3, 2), "f64": torch.randn(4, dtype=torch.float64), "f16": torch.randn(5).half(),
          "bf16": torch.randn(2, 3).bfloat16(), "i64": torch.arange(-3, 4), "i32": torch.arange(6, dtype=torch.int32),
          "i16": torch.tensor([-7, 7], dtype=torch.int16), "i8": torch.tensor([-1, 2], dtype=torch.int8),
          "u8": torch.tensor([0, 255], dtype=torch.uint8), "bool": torch.tensor([True, False, True]),
          "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 4), "strided": torch.randn(4, 6)[:, ::2]}
    sd["f32"][0, 0] = float("nan")
    sd["f32"][1, 1] = -0.0
    tensors, meta = cc.checkpoint_to_tensors(sd)
    back, meta2 = cc.decode(cc.encode(tensors, meta))
    same(sd, back, "dtypes")
    assert meta2 == meta


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print(f"ok  {name}")
    print("test_convert passed")
