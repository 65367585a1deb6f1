"""Convert official DINO checkpoints (facebookresearch/dino @ 7c446df) to safetensors and back.

Usage (Debian's torch: /usr/bin/python3):

  convert_checkpoint.py to-safetensors IN.pth OUT.safetensors [--key teacher|student] [--backbone-only]
  convert_checkpoint.py to-pth IN.safetensors OUT.pth

to-safetensors
  * a backbone-only file (the released `dino_vits16_pretrain.pth` etc.: a plain state_dict of
    tensors, keys cls_token, pos_embed, patch_embed.proj.*, blocks.<i>.*, norm.*): every key as
    is. Any other plain state_dict of tensors is treated the same way.
  * a full training checkpoint (main_dino.py's checkpoint.pth: {student, teacher, optimizer,
    epoch, args, dino_loss[, fp16_scaler]}): `student.<key>` and `teacher.<key>` with the DDP
    prefix `module.` stripped (student keys then read student.backbone.cls_token, ...,
    student.head.last_layer.weight_v), plus `center` [1, K] from dino_loss.center. Metadata:
    epoch, args (JSON of vars(args); values JSON cannot hold are written as their repr), and the
    stripped prefixes (so that to-pth can restore them).
    DROPPED: `optimizer` (AdamW moments and step counts, stored by parameter INDEX: meaningless
    without the exact param-group construction; resuming from a converted file restarts AdamW,
    which the official restart_from_checkpoint tolerates: it prints "key 'optimizer' not found")
    and `fp16_scaler` (GradScaler state). The file says what it dropped in metadata `dropped`.
  * --key teacher|student: only that network (module. stripped: backbone.* and head.* keys);
    with --backbone-only, only its backbone with `backbone.` stripped as well, i.e. exactly the
    format of the released backbone-only weights (what eval_knn.py / eval_linear.py load with
    --checkpoint_key).
  Tensors keep their dtype (F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL) and bits; the
  header lists them in state_dict order (readers must not rely on it; our to-pth does).

to-pth
  * a file with student.* and teacher.* keys -> {student: {module.backbone..., module.head...},
    teacher: {backbone..., head...}, dino_loss: {center} (if present), epoch (if recorded),
    args (argparse.Namespace, if recorded)}: loadable by the official restart_from_checkpoint and
    by the evaluation scripts (--checkpoint_key teacher).
  * otherwise a plain state_dict (a backbone-only file: loadable by hubconf / vit_*().load_state_dict).
"""
import argparse
import json
import struct
import sys
from collections import OrderedDict

import torch

DTYPES = OrderedDict([
    (torch.float32, "F32"), (torch.float64, "F64"), (torch.float16, "F16"), (torch.bfloat16, "BF16"),
    (torch.int64, "I64"), (torch.int32, "I32"), (torch.int16, "I16"), (torch.int8, "I8"),
    (torch.uint8, "U8"), (torch.bool, "BOOL"),
])
BY_NAME = {v: k for k, v in DTYPES.items()}


# ---------------------------------------------------------------------------------------------
# safetensors codec (torch tensors; little-endian hosts, as torch's own CPU tensors here)
# ---------------------------------------------------------------------------------------------

def _raw(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    elif t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.numpy().tobytes() if t.numel() else b""


def encode(tensors, metadata):
    """tensors: ordered name -> torch tensor; metadata: str -> str. Header in the given order,
    data 8-byte aligned (header padded with spaces)."""
    header, blobs, pos = OrderedDict(), [], 0
    header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    for name, t in tensors.items():
        if t.dtype not in DTYPES:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
        raw = _raw(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode()
    text += b" " * ((-(8 + len(text))) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def decode(buf):
    """-> (OrderedDict name -> torch tensor in header order, metadata dict)."""
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"), object_pairs_hook=OrderedDict)
    meta = dict(header.pop("__metadata__", {}) or {})
    data = memoryview(buf)[8 + n:]
    out = OrderedDict()
    for name, e in header.items():
        dtype = BY_NAME[e["dtype"]]
        begin, end = e["data_offsets"]
        chunk = bytearray(data[begin:end])
        store = {torch.bfloat16: torch.int16, torch.bool: torch.uint8}.get(dtype, dtype)
        t = torch.frombuffer(chunk, dtype=store) if chunk else torch.empty(0, dtype=store)
        t = t.reshape(e["shape"]).clone()
        out[name] = t.view(torch.bfloat16) if dtype == torch.bfloat16 else t.bool() if dtype == torch.bool else t
    return out, meta


# ---------------------------------------------------------------------------------------------
# conversions
# ---------------------------------------------------------------------------------------------

def _is_state_dict(obj):
    return isinstance(obj, dict) and obj and all(torch.is_tensor(v) for v in obj.values())


def _strip(sd, prefix):
    """Remove `prefix` from every key that has it; returns (new dict, prefix if all keys had it)."""
    had = all(k.startswith(prefix) for k in sd)
    return OrderedDict((k[len(prefix):] if k.startswith(prefix) else k, v) for k, v in sd.items()), \
        (prefix if had and sd else "")


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return repr(v)


def checkpoint_to_tensors(ckpt, key=None, backbone_only=False):
    """An official checkpoint object -> (ordered tensors, metadata)."""
    meta = {"format": "pt", "source": "facebookresearch/dino checkpoint (converted by reference-tests/convert_checkpoint.py)"}
    if _is_state_dict(ckpt):
        if key:
            raise SystemExit("--key applies to full training checkpoints; this file is a plain state_dict")
        meta["kind"] = "state_dict"
        return OrderedDict(ckpt), meta
    if not (isinstance(ckpt, dict) and "student" in ckpt and "teacher" in ckpt):
        raise SystemExit("not an official DINO checkpoint: expected a state_dict or {student, teacher, ...}")
    tensors = OrderedDict()
    nets = [key] if key else ["student", "teacher"]
    for net in nets:
        sd, stripped = _strip(ckpt[net], "module.")
        meta[f"{net}_prefix"] = stripped
        if backbone_only:
            sd = OrderedDict((k[len("backbone."):], v) for k, v in sd.items() if k.startswith("backbone."))
        for k, v in sd.items():
            tensors[k if key else f"{net}.{k}"] = v
    if key:
        meta["kind"] = "backbone" if backbone_only else "network"
        meta["checkpoint_key"] = key
    else:
        meta["kind"] = "training_checkpoint"
        if isinstance(ckpt.get("dino_loss"), dict) and "center" in ckpt["dino_loss"]:
            tensors["center"] = ckpt["dino_loss"]["center"]
    if "epoch" in ckpt:
        meta["epoch"] = str(int(ckpt["epoch"]))
    if ckpt.get("args") is not None:
        args = ckpt["args"]
        args = vars(args) if isinstance(args, argparse.Namespace) else args
        meta["args"] = json.dumps({k: _jsonable(v) for k, v in dict(args).items()}, sort_keys=True)
    written = set(nets) | {"epoch", "args"} | (set() if key else {"dino_loss"})
    meta["dropped"] = ", ".join(sorted(k for k in ckpt if k not in written))
    return tensors, meta


def tensors_to_checkpoint(tensors, meta):
    """Inverse of checkpoint_to_tensors for the training-checkpoint kind; a plain state_dict
    otherwise."""
    if not any(k.startswith("student.") for k in tensors) or not any(k.startswith("teacher.") for k in tensors):
        return OrderedDict(tensors)
    ckpt = OrderedDict()
    for net, default_prefix in (("student", "module."), ("teacher", "")):
        prefix = meta.get(f"{net}_prefix", default_prefix)
        ckpt[net] = OrderedDict((prefix + k[len(net) + 1:], v) for k, v in tensors.items() if k.startswith(net + "."))
    others = [k for k in tensors if not k.startswith(("student.", "teacher.")) and k != "center"]
    if meta.get("format") == "dino-ref-checkpoint/1":
        # a dino-ref training checkpoint: its AdamW moments (optimizer.*) are keyed by parameter
        # name, the official optimizer state by index; they are dropped and AdamW restarts, as
        # the official restart_from_checkpoint does when 'optimizer' is absent
        dropped = [k for k in others if k.startswith("optimizer.")]
        others = [k for k in others if not k.startswith("optimizer.")]
        if dropped:
            print(f"dropped {len(dropped)} optimizer.* tensors (AdamW moments; the official resume restarts them)", file=sys.stderr)
    if others:
        raise SystemExit(f"unexpected keys beside student.*, teacher.* and center: {others[:5]}")
    if "epoch" in meta:
        ckpt["epoch"] = int(meta["epoch"])
    if "args" in meta:
        ckpt["args"] = argparse.Namespace(**json.loads(meta["args"]))
    if "center" in tensors:
        ckpt["dino_loss"] = OrderedDict(center=tensors["center"])
    return ckpt


def to_safetensors(src, dst, key=None, backbone_only=False):
    ckpt = torch.load(src, map_location="cpu")
    tensors, meta = checkpoint_to_tensors(ckpt, key, backbone_only)
    with open(dst, "wb") as f:
        f.write(encode(tensors, meta))
    return tensors, meta


def to_pth(src, dst):
    with open(src, "rb") as f:
        tensors, meta = decode(f.read())
    ckpt = tensors_to_checkpoint(tensors, meta)
    torch.save(ckpt, dst)
    return ckpt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-safetensors", help="official .pth -> .safetensors")
    a.add_argument("src")
    a.add_argument("dst")
    a.add_argument("--key", choices=("teacher", "student"), help="only this network of a training checkpoint")
    a.add_argument("--backbone-only", action="store_true", help="with --key: its backbone, keys as in the released weights")
    b = sub.add_parser("to-pth", help=".safetensors -> official .pth")
    b.add_argument("src")
    b.add_argument("dst")
    args = ap.parse_args(argv)
    if args.cmd == "to-safetensors":
        if args.backbone_only and not args.key:
            ap.error("--backbone-only needs --key teacher|student")
        tensors, meta = to_safetensors(args.src, args.dst, args.key, args.backbone_only)
        n = sum(t.numel() for t in tensors.values())
        print(f"{args.dst}: {len(tensors)} tensors, {n} values, kind {meta['kind']}"
              + (f", epoch {meta['epoch']}" if "epoch" in meta else "")
              + (f"; dropped: {meta['dropped']}" if meta.get("dropped") else ""))
    else:
        ckpt = to_pth(args.src, args.dst)
        parts = [f"{k}: {len(v)} tensors" if isinstance(v, dict) else f"{k}: {v}" for k, v in ckpt.items()
                 if isinstance(v, (dict, int))] if "student" in ckpt else [f"state_dict: {len(ckpt)} tensors"]
        print(f"{args.dst}: " + "; ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
