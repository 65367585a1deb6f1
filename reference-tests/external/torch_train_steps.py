"""A second, independent producer of `dino_train_steps` cases (dino-golden/1): its own DINO
training step written with plain torch tensors and autograd, nothing imported from
reference-tests/generate/. It writes fixtures/external/dino_train_steps/*.safetensors with the
external tool's layout (numpy_cases.st_bytes: unaligned data, __metadata__ last) and rebuilds
fixtures/external/MANIFEST.json (numpy_cases.write_manifest).

Usage: /usr/bin/python3 reference-tests/external/torch_train_steps.py --out fixtures/external

How it differs from generate/ (official.py): no nn.Module at all; the patch embedding is an
unfold + matmul (not a conv), LayerNorm, GELU (erf), softmax/log-softmax, attention, the weight
norm (g v / ||v|| per row), F.normalize's clamp, the bicubic pos-embed resampling (a matrix from
the A = -0.75 kernel and the 1 / scale_factor source coordinates), the DINO loss (one masked sum
over all (teacher, student) crop pairs), per-tensor clipping, the last-layer cancel, AdamW
(decay, moments, bias corrections, eps after the square root) and the EMA are all written out
here; other sizes and seeds (numpy RandomState inputs).

Tolerance (this tool's own rule, same form as numpy_cases.py: atol = 8*eps*sum(L*S), rtol =
16*eps): per output two sources, (2 / eps, drift) and (10, max|out|), where drift is the largest
difference of the stored float32 run from the same run in float64 and from a float32 run with the
batch order reversed (a measured rounding drift; the float32 run is the reference because the
official code trains in float32). Note: the key third of every attn.qkv.bias has a mathematically
zero gradient (softmax ignores a per-row constant), so its float32 gradient is rounding noise that
AdamW scales up to ~lr per step; its drift, and so qkv.bias's tolerance, is of the order of lr.
"""
import argparse
import json
import math
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from numpy_cases import st_bytes, write_manifest  # noqa: E402  (the external writer only)

E32 = 2.0 ** -23
RULE = "external rule: atol = 8*eps*sum(L*S), rtol = 16*eps; dino_train_steps: L*S = 2*drift + 10*eps*max|out| (measured float32 drift)"


# ---------------------------------------------------------------------------------- the network
def layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdim=True)
    return xc / torch.sqrt(var + 1e-6) * w + b


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2.0)))


def log_softmax(z):
    z = z - z.max(-1, keepdim=True).values.detach()
    return z - torch.log(torch.exp(z).sum(-1, keepdim=True))


def cubic(t):
    a = -0.75
    t = abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def resample_matrix(g, n):
    """[n, g]: bicubic (A = -0.75, align_corners False) from g to n samples when the scale
    factor is (n + 0.1) / g: source x = (d + 0.5) * g / (n + 0.1) - 0.5, taps clamped to the edge."""
    M = np.zeros((n, g))
    inv = 1.0 / ((n + 0.1) / g)
    for d in range(n):
        x = (d + 0.5) * inv - 0.5
        x0 = math.floor(x)
        for k in range(-1, 3):
            M[d, min(max(x0 + k, 0), g - 1)] += cubic(x - (x0 + k))
    return M


def pos_for(pos, rows, cols, height, width):
    """The pos_embed for a rows x cols patch grid (CLS row kept; identity for the native square grid)."""
    g = int(round(math.sqrt(pos.shape[1] - 1)))
    if rows * cols == g * g and height == width:
        return pos
    D = pos.shape[2]
    grid = pos[0, 1:].reshape(g, g, D)
    My = torch.from_numpy(resample_matrix(g, rows)).to(pos.dtype)
    Mx = torch.from_numpy(resample_matrix(g, cols)).to(pos.dtype)
    res = torch.einsum("ri,ijd,cj->rcd", My, grid, Mx).reshape(1, rows * cols, D)
    return torch.cat([pos[:, :1], res], 1)


def backbone(W, x, arch):
    p, D, H = arch["patch_size"], arch["embed_dim"], arch["num_heads"]
    B, C, hp, wp = x.shape
    rows, cols = hp // p, wp // p
    x = x[:, :, :rows * p, :cols * p]
    patches = x.reshape(B, C, rows, p, cols, p).permute(0, 2, 4, 1, 3, 5).reshape(B, rows * cols, C * p * p)
    t = patches @ W["backbone.patch_embed.proj.weight"].reshape(D, -1).t() + W["backbone.patch_embed.proj.bias"]
    t = torch.cat([W["backbone.cls_token"].expand(B, 1, D), t], 1) + pos_for(W["backbone.pos_embed"], rows, cols, hp, wp)
    N, Dh = t.shape[1], D // H
    for i in range(arch["depth"]):
        b = f"backbone.blocks.{i}."
        h = layer_norm(t, W[b + "norm1.weight"], W[b + "norm1.bias"])
        qkv = (h @ W[b + "attn.qkv.weight"].t() + W[b + "attn.qkv.bias"]).reshape(B, N, 3, H, Dh)
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))
        a = torch.exp(log_softmax((q @ k.transpose(-1, -2)) * Dh ** -0.5))
        o = (a @ v).transpose(1, 2).reshape(B, N, D)
        t = t + o @ W[b + "attn.proj.weight"].t() + W[b + "attn.proj.bias"]
        h = layer_norm(t, W[b + "norm2.weight"], W[b + "norm2.bias"])
        h = gelu(h @ W[b + "mlp.fc1.weight"].t() + W[b + "mlp.fc1.bias"])
        t = t + h @ W[b + "mlp.fc2.weight"].t() + W[b + "mlp.fc2.bias"]
    return layer_norm(t[:, 0], W["backbone.norm.weight"], W["backbone.norm.bias"])


def head(W, x, nlayers):
    for j in range(nlayers):
        pre = "head.mlp." if nlayers == 1 else f"head.mlp.{2 * j}."
        x = x @ W[pre + "weight"].t() + W[pre + "bias"]
        if j < nlayers - 1:
            x = gelu(x)
    x = x / torch.clamp(torch.sqrt((x * x).sum(-1, keepdim=True)), min=1e-12)
    v = W["head.last_layer.weight_v"]
    weight = W["head.last_layer.weight_g"] * v / torch.sqrt((v * v).sum(1, keepdim=True))
    return x @ weight.t()


def network(W, crops, arch):
    """Consecutive crops of equal width through the backbone together, the head once."""
    cls, i = [], 0
    while i < len(crops):
        j = i
        while j < len(crops) and crops[j].shape[-1] == crops[i].shape[-1]:
            j += 1
        cls.append(backbone(W, torch.cat(crops[i:j]), arch))
        i = j
    return head(W, torch.cat(cls), arch["nlayers"])


def dino_loss(s_out, t_out, center, tau_s, tau_t, ncrops):
    """Mean over the 2 * ncrops - 2 (teacher crop iq, student crop v != iq) pairs of the batch
    mean of -sum_k q log p."""
    B = t_out.shape[0] // 2
    q = torch.exp(log_softmax((t_out - center) / tau_t)).detach().reshape(2, 1, B, -1)
    lp = log_softmax(s_out / tau_s).reshape(1, ncrops, B, -1)
    ce = -(q * lp).sum(-1).mean(-1)                 # [2, ncrops]
    mask = torch.ones(2, ncrops, dtype=ce.dtype)
    mask[0, 0] = mask[1, 1] = 0
    return (ce * mask).sum() / (2 * ncrops - 2)


# ------------------------------------------------------------------------------------- training
def decayed(name, shape):
    return not name.endswith(".bias") and len(shape) != 1


def train(ins, prm, dtype, reverse_batch=False):
    keys = sorted((n[len("student."):] for n in ins if n.startswith("student.")))
    S = len(ins["lr"])
    ncrops = len([n for n in ins if n.startswith("step0.")])
    arch = prm
    t = lambda a: torch.tensor(np.asarray(a, np.float32), dtype=dtype)   # noqa: E731
    stu = {k: t(ins["student." + k]).requires_grad_(True) for k in keys}
    tea = {k: t(ins["teacher." + k]) for k in keys}
    trainable = [k for k in keys if not (k == "head.last_layer.weight_g" and prm["norm_last_layer"])]
    if prm["norm_last_layer"]:
        stu["head.last_layer.weight_g"].requires_grad_(False)
    m1 = {k: torch.zeros_like(stu[k]) for k in trainable}
    m2 = {k: torch.zeros_like(stu[k]) for k in trainable}
    count = {k: 0 for k in trainable}
    center = t(ins["center"])
    losses = []
    for s in range(S):
        crops = [t(ins[f"step{s}.crop{i}"]) for i in range(ncrops)]
        if reverse_batch:
            crops = [c.flip(0) for c in crops]
        with torch.no_grad():
            t_out = network(tea, crops[:2], arch)
        s_out = network(stu, crops, arch)
        loss = dino_loss(s_out, t_out, center, prm["student_temp"], float(ins["teacher_temp"][s]), ncrops)
        grads = dict(zip(trainable, torch.autograd.grad(loss, [stu[k] for k in trainable])))
        with torch.no_grad():
            cm = prm["center_momentum"]
            center = center * cm + t_out.sum(0, keepdim=True) / t_out.shape[0] * (1 - cm)
            if prm["clip_grad"] > 0:
                for k in trainable:
                    c = prm["clip_grad"] / (torch.sqrt((grads[k] * grads[k]).sum()) + 1e-6)
                    if c < 1:
                        grads[k] = grads[k] * c
            lr, wd = float(ins["lr"][s]), float(ins["wd"][s])
            b1, b2, eps = prm["beta1"], prm["beta2"], prm["eps"]
            for k in trainable:
                if prm["freeze_last_layer"] and "last_layer" in k:
                    continue                      # no grad: no decay, no moments, no step
                g, p = grads[k], stu[k]
                count[k] += 1
                if decayed(k, p.shape):
                    p.mul_(1 - lr * wd)
                m1[k] = m1[k] * b1 + g * (1 - b1)
                m2[k] = m2[k] * b2 + g * g * (1 - b2)
                bc1, bc2 = 1 - b1 ** count[k], 1 - b2 ** count[k]
                p.sub_((lr / bc1) * m1[k] / (torch.sqrt(m2[k]) / math.sqrt(bc2) + eps))
            mom = float(ins["momentum"][s])
            for k in keys:
                tea[k] = tea[k] * mom + (1 - mom) * stu[k].detach()
        losses.append(float(loss))
    out = {f"student.{k}": stu[k].detach().double().numpy() for k in keys}
    out.update({f"teacher.{k}": tea[k].double().numpy() for k in keys})
    out["center"] = center.double().numpy()
    out["loss"] = np.array(losses)
    return out


# ---------------------------------------------------------------------------------------- cases
def make_inputs(rng, c):
    p, D, depth, mr = c["patch_size"], c["embed_dim"], c["depth"], c["mlp_ratio"]
    g = c["global_px"] // p
    f = lambda a: np.asarray(a, np.float32)   # noqa: E731
    W = {"backbone.cls_token": 0.02 * rng.standard_normal((1, 1, D)),
         "backbone.pos_embed": 0.02 * rng.standard_normal((1, 1 + g * g, D)),
         "backbone.patch_embed.proj.weight": rng.standard_normal((D, 3, p, p)) / math.sqrt(3 * p * p),
         "backbone.patch_embed.proj.bias": rng.uniform(-0.1, 0.1, D)}
    for i in range(depth):
        b = f"backbone.blocks.{i}."
        for ln in ("norm1", "norm2"):
            W[b + ln + ".weight"], W[b + ln + ".bias"] = rng.uniform(0.8, 1.2, D), rng.uniform(-0.1, 0.1, D)
        for name, o, n in (("attn.qkv", 3 * D, D), ("attn.proj", D, D), ("mlp.fc1", int(D * mr), D), ("mlp.fc2", D, int(D * mr))):
            W[b + name + ".weight"], W[b + name + ".bias"] = 0.2 * rng.standard_normal((o, n)), rng.uniform(-0.1, 0.1, o)
    W["backbone.norm.weight"], W["backbone.norm.bias"] = rng.uniform(0.8, 1.2, D), rng.uniform(-0.1, 0.1, D)
    nl, hid, bot, K = c["nlayers"], c["hidden_dim"], c["bottleneck_dim"], c["out_dim"]
    dims = [D] + [hid] * (nl - 1) + [bot]
    for j in range(nl):
        pre = "head.mlp." if nl == 1 else f"head.mlp.{2 * j}."
        W[pre + "weight"], W[pre + "bias"] = 0.2 * rng.standard_normal((dims[j + 1], dims[j])), rng.uniform(-0.1, 0.1, dims[j + 1])
    W["head.last_layer.weight_g"] = np.ones((K, 1)) if c["norm_last_layer"] else rng.uniform(0.6, 1.4, (K, 1))
    W["head.last_layer.weight_v"] = 0.15 * rng.standard_normal((K, bot))
    ins = {f"student.{k}": f(v) for k, v in W.items()}
    for k, v in W.items():
        if k == "head.last_layer.weight_g" and c["norm_last_layer"]:
            ins[f"teacher.{k}"] = f(v)
        else:
            ins[f"teacher.{k}"] = f(v + (0.004 if k.endswith(("cls_token", "pos_embed")) else 0.04) * rng.standard_normal(v.shape))
    ins["center"] = f(rng.uniform(-0.3, 0.3, (1, K)))
    for s in range(len(c["lr"])):
        for i in range(2 + c["local"]):
            px = c["global_px"] if i < 2 else c["local_px"]
            ins[f"step{s}.crop{i}"] = f(rng.standard_normal((c["B"], 3, px, px)))
    for n in ("lr", "wd", "momentum", "teacher_temp"):
        ins[n] = np.asarray(c[n], np.float64)
    return ins


PARAM_NAMES = ("patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias", "out_dim", "hidden_dim",
               "bottleneck_dim", "nlayers", "norm_last_layer", "student_temp", "center_momentum", "clip_grad",
               "freeze_last_layer", "beta1", "beta2", "eps")

BASE = dict(patch_size=3, embed_dim=12, depth=2, num_heads=3, mlp_ratio=2.0, qkv_bias=True, global_px=12, local_px=6,
            student_temp=0.1, center_momentum=0.9, beta1=0.9, beta2=0.999)
CASES = [
    dict(BASE, name="p3_d12_nll_frozen_clip2", seed=171, B=2, local=3, nlayers=3, hidden_dim=20, bottleneck_dim=6,
         out_dim=11, norm_last_layer=True, freeze_last_layer=True, clip_grad=2.0, eps=1e-8,
         lr=[5e-4, 1e-3, 2e-3], wd=[0.05, 0.1, 0.2], momentum=[0.8, 0.9, 0.97], teacher_temp=[0.04, 0.06, 0.05],
         desc="3 steps, patch 3, D 12, depth 2, 3 heads (Dh 4), mlp 2, head 20/6/K 11 (nlayers 3), B 2, "
              "2 x 12 px + 3 x 6 px crops; norm_last_layer true, last layer frozen, clip 2.0"),
    dict(BASE, name="p3_d12_free_g_noclip_nl2", seed=172, B=3, local=2, nlayers=2, hidden_dim=14, bottleneck_dim=5,
         out_dim=13, norm_last_layer=False, freeze_last_layer=False, clip_grad=0.0, eps=1e-7,
         lr=[2e-3, 1e-3, 5e-4], wd=[0.3, 0.2, 0.1], momentum=[0.95, 0.9, 0.85], teacher_temp=[0.07, 0.05, 0.04],
         desc="3 steps, same backbone, head 14/5/K 13 (nlayers 2), B 3, 2 x 12 px + 2 x 6 px crops; norm_last_layer "
              "false (weight_g trained and decayed), last layer trained, clip 0 (off), AdamW eps 1e-7"),
]


def tolerance(ref, others):
    t = {}
    for n, v in ref.items():
        drift = max(float(np.max(np.abs(o[n] - v))) for o in others)
        L_S = 2 * drift / E32 + 10 * float(np.max(np.abs(v)))
        t[f"out.{n}"] = [float(f"{8 * E32 * L_S:.3g}"), float(f"{16 * E32:.3g}")]
    t["default"] = [max(x[0] for x in t.values()), max(x[1] for x in t.values())]
    return t


def main():
    ap = argparse.ArgumentParser(description="independent torch dino_train_steps cases")
    ap.add_argument("--out", default="fixtures/external")
    out = ap.parse_args().out
    torch.set_num_threads(1)
    folder = os.path.join(out, "dino_train_steps")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for c in CASES:
        ins = make_inputs(np.random.RandomState(c["seed"]), c)
        prm = {k: c[k] for k in PARAM_NAMES}
        ref = train(ins, prm, torch.float32)
        others = [train(ins, prm, torch.float64), train(ins, prm, torch.float32, reverse_batch=True)]
        tensors = {f"in.{k}": v for k, v in ins.items()}
        tensors.update({f"out.{k}": (v if k == "loss" else v.astype(np.float32)) for k, v in ref.items()})
        meta = {"format": "dino-golden/1", "op": "dino_train_steps", "params": json.dumps(prm, sort_keys=True),
                "tolerance": json.dumps(tolerance(ref, others), sort_keys=True),
                "producer": f"torch {torch.__version__} cpu float32 (own code, autograd; loss float32 values as F64)",
                "description": f"dino_train_steps: {c['desc']} (numpy RandomState seed {c['seed']}); {RULE}."}
        with open(os.path.join(folder, c["name"] + ".safetensors"), "wb") as f:
            f.write(st_bytes(tensors, meta))
    entries = write_manifest(out)
    print(f"wrote {len(CASES)} dino_train_steps cases; manifest lists {len(entries)} files")


if __name__ == "__main__":
    main()
