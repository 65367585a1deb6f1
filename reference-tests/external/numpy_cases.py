"""An independent second producer of dino-golden/1 cases: numpy only (no torch, nothing imported
from reference-tests/generate). Its purpose is to show that case files written by another tool,
with another safetensors layout, pass `dino-ref check` unchanged.

Usage: /usr/bin/python3 reference-tests/external/numpy_cases.py --out fixtures/external

Differences from the PyTorch generator, on purpose:
  - its own safetensors writer: NO header padding (tensor data generally unaligned),
    "__metadata__" as the LAST header entry, tensors in reverse byte order of their names
    (outputs before inputs);
  - other shapes and seeds (numpy's legacy RandomState stream, which numpy keeps frozen);
  - every output computed in float64 from the equations (forward and hand-derived backward
    formulas, no autograd), then rounded to float32 (schedules stay float64);
  - its own tolerance rule: atol = 8 * eps32 * L * S, rtol = 16 * eps32 (L: error-source length,
    S: magnitude; float64 schedules use eps64).
Shape legend: B batch, K head output dim, R rows, D width, H heads, N tokens, Dh head width.
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import struct

import numpy as np

E32, E64 = 2.0 ** -23, 2.0 ** -52
RULE = "external rule: atol = 8*eps*sum(L*S), rtol = 16*eps (eps 2^-23; 2^-52 for F64)"
PRODUCER = f"numpy {np.__version__} float64"


# --------------------------------------------------------------------------- safetensors writer
def st_bytes(tensors, meta):
    names = sorted(tensors, key=lambda n: n.encode(), reverse=True)
    codes = {"float32": "F32", "float64": "F64", "uint8": "U8", "int64": "I64"}
    head, blobs, pos = [], [], 0
    for n in names:
        a = tensors[n]
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        head.append(json.dumps(n) + ":" + json.dumps(
            {"data_offsets": [pos, pos + len(raw)], "dtype": codes[a.dtype.name], "shape": list(a.shape)},
            separators=(",", ":")))
        blobs.append(raw)
        pos += len(raw)
    head.append('"__metadata__":' + json.dumps(meta, sort_keys=True, separators=(",", ":")))
    h = ("{" + ",".join(head) + "}").encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def tol(d, eps=E32):
    """{output: [(L, S), ...]} -> tolerance table with a default."""
    t = {k: [float(f"{8 * eps * sum(L * S for L, S in v):.3g}"), float(f"{16 * eps:.3g}")] for k, v in d.items()}
    t["default"] = [max(x[0] for x in t.values()), max(x[1] for x in t.values())]
    return t


def mx(a):
    a = np.asarray(a, np.float64)
    return float(np.abs(a[np.isfinite(a)]).max()) if np.isfinite(a).any() else 0.0


def r32(a):
    return np.asarray(a, np.float64).astype(np.float32)


def softmax64(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax64(z):
    zs = z - z.max(axis=-1, keepdims=True)
    return zs - np.log(np.exp(zs).sum(axis=-1, keepdims=True))


# --------------------------------------------------------------------------- ops (float64 math)
def op_matmul(rng, M, K, N):
    a, b, g = (r32(rng.standard_normal(s)) for s in ((M, K), (K, N), (M, N)))
    A, Bm, G = (x.astype(np.float64) for x in (a, b, g))
    outs = {"c": A @ Bm, "grad_a": G @ Bm.T, "grad_b": A.T @ G}
    t = tol({"out.c": [(K, mx(a) * mx(b))], "out.grad_a": [(N, mx(g) * mx(b))], "out.grad_b": [(M, mx(a) * mx(g))]})
    return {"a": a, "b": b, "grad_c": g}, {}, outs, t


def op_layer_norm(rng, R, D, eps):
    x = r32(rng.standard_normal((R, D)) * 1.5 - 0.3)
    w, b, gy = r32(1 + 0.3 * rng.standard_normal(D)), r32(0.1 * rng.standard_normal(D)), r32(rng.standard_normal((R, D)))
    X, W, Bv, GY = (v.astype(np.float64) for v in (x, w, b, gy))
    mu = X.mean(1, keepdims=True)
    rstd = 1 / np.sqrt(((X - mu) ** 2).mean(1, keepdims=True) + eps)
    xh = (X - mu) * rstd
    g = GY * W
    # dx = rstd (g - mean(g) - xhat mean(g xhat))
    dx = rstd * (g - g.mean(1, keepdims=True) - xh * (g * xh).mean(1, keepdims=True))
    outs = {"y": xh * W + Bv, "grad_x": dx, "grad_weight": (GY * xh).sum(0), "grad_bias": GY.sum(0)}
    k = float((np.abs(X).max(1) * rstd[:, 0]).max()) + mx(xh)
    t = tol({"out.y": [(D, k * mx(w)), (1, mx(b))], "out.grad_x": [(D, float(rstd.max()) * mx(g) * (3 + 3 * k * mx(xh)))],
             "out.grad_weight": [(R * (D + R), mx(gy) * k)], "out.grad_bias": [(R, mx(gy))]})
    return {"x": x, "weight": w, "bias": b, "grad_y": gy}, {"eps": eps}, outs, t


def op_gelu(rng, n, spread):
    x = r32(rng.standard_normal(n) * spread)
    gy = r32(rng.standard_normal(n))
    X = x.astype(np.float64)
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in X])
    pdf = np.exp(-0.5 * X * X) / math.sqrt(2 * math.pi)
    outs = {"y": X * cdf, "grad_x": gy.astype(np.float64) * (cdf + X * pdf)}
    return {"x": x, "grad_y": gy}, {}, outs, tol({"out.y": [(2, mx(x))], "out.grad_x": [(2, 1.13 * mx(gy))]})


def op_softmax(rng, R, K, T, spread):
    x = r32(rng.standard_normal((R, K)) * spread)
    z = x.astype(np.float64) / T
    L = [(K, 1.0), (2, mx(z))]
    return {"logits": x}, {"temperature": T}, {"probs": softmax64(z), "log_probs": log_softmax64(z)}, \
        tol({"out.probs": L, "out.log_probs": L})


def op_attention(rng, B, H, N, Dh, scale):
    q, k, v, go = (r32(rng.standard_normal((B, H, N, Dh))) for _ in range(4))
    Q, Kt, V, G = (a.astype(np.float64) for a in (q, k, v, go))
    s = np.einsum("bhid,bhjd->bhij", Q, Kt) * scale
    p = softmax64(s)
    out = p @ V
    dp = G @ np.swapaxes(V, -1, -2)                        # d out / d attn
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))        # softmax backward
    outs = {"out": out, "attn": p, "grad_q": scale * ds @ Kt,
            "grad_k": scale * np.swapaxes(ds, -1, -2) @ Q, "grad_v": np.swapaxes(p, -1, -2) @ G}
    ts = scale * mx(q) * mx(k)
    la = N + 2 * Dh * ts + 2 * mx(s)
    big = 2 * Dh * mx(go) * mx(v) * scale
    t = tol({"out.attn": [(la, 1.0)], "out.out": [(N + la, mx(v))], "out.grad_v": [(N + la, N * mx(go))],
             "out.grad_q": [(la + 2 * N + Dh, big * mx(k))], "out.grad_k": [(la + 2 * N + Dh, big * mx(q) * N)]})
    return {"q": q, "k": k, "v": v, "grad_out": go}, {"scale": scale}, outs, t


def op_dino_loss(rng, K, ncrops, B, tt, ts, cm):
    s = r32(rng.uniform(-1, 1, (ncrops * B, K)))
    t = r32(rng.uniform(-1, 1, (2 * B, K)))
    c = r32(rng.uniform(-0.1, 0.1, (1, K)))
    S, Tm, C = (a.astype(np.float64) for a in (s, t, c))
    lp = log_softmax64(S / ts)
    p = np.exp(lp)
    q = softmax64((Tm - C) / tt)
    n = 2 * ncrops - 2
    loss, grad = 0.0, np.zeros_like(S)
    for iq in range(2):
        for v in range(ncrops):
            if v == iq:
                continue
            qs, rows = q[iq * B:(iq + 1) * B], slice(v * B, (v + 1) * B)
            loss += np.mean(np.sum(-qs * lp[rows], axis=1))
            grad[rows] += (p[rows] - qs) / (n * B * ts)   # d/ds of CE(q, log_softmax(s / ts)), averaged
    loss /= n
    center = C * cm + Tm.sum(0, keepdims=True) / (2 * B) * (1 - cm)
    zs, zt = mx(s) / ts, (mx(t) + mx(c)) / tt
    t_ = tol({"out.loss": [(3 * K + 2 * zs + 2 * zt + 2 * ncrops * B, max(1.0, float(np.abs(lp).max())))],
              "out.grad_student": [(2 * K + 2 * zs + 2 * zt, 2 / (n * B * ts))],
              "out.center": [(2 * B, max(mx(t), mx(c)))]})
    params = {"student_temp": ts, "teacher_temp": tt, "ncrops": ncrops, "center_momentum": cm}
    return {"student": s, "teacher": t, "center": c}, params, {"loss": np.array([loss]), "grad_student": grad,
                                                                 "center": center}, t_


def lin(a, b, n):
    """n points from a to b inclusive (a single point is a)."""
    if n == 1:
        return np.array([float(a)])
    v = a + np.arange(n) * ((b - a) / (n - 1))
    v[-1] = b
    return v


def op_cosine_schedule(rng, base, final, epochs, niter, warm, start):
    wi = warm * niter
    T = epochs * niter - wi
    vals = np.concatenate([lin(start, base, wi) if wi else np.zeros(0),
                           final + 0.5 * (base - final) * (1 + np.cos(np.pi * np.arange(T) / T))])
    p = {"base_value": base, "final_value": final, "epochs": epochs, "niter_per_ep": niter,
         "warmup_epochs": warm, "start_warmup_value": start}
    return {}, p, {"values": vals}, tol({"out.values": [(8, max(abs(base), abs(final), abs(start)))]}, E64)


def op_teacher_temp_schedule(rng, w, t, we, ne):
    vals = np.concatenate([lin(w, t, we) if we else np.zeros(0), np.full(ne - we, float(t))])
    p = {"warmup_teacher_temp": w, "teacher_temp": t, "warmup_teacher_temp_epochs": we, "nepochs": ne}
    return {}, p, {"values": vals}, tol({"out.values": [(8, max(w, t))]}, E64)


KEYS = {"backbone.pos_embed": (1, 5, 6), "backbone.patch_embed.proj.weight": (6, 3, 2, 2),
        "backbone.norm.bias": (6,), "head.mlp.0.weight": (11, 6)}


def op_ema_update(rng, m):
    ins, outs, tl = {}, {}, {}
    for k, sh in KEYS.items():
        t = r32(rng.standard_normal(sh))
        s = r32(t + 0.05 * rng.standard_normal(sh))
        ins[f"teacher.{k}"], ins[f"student.{k}"] = t, s
        outs[f"teacher.{k}"] = t.astype(np.float64) * m + (1 - m) * s.astype(np.float64)
        tl[f"out.teacher.{k}"] = [(4, max(mx(t), mx(s)))]
    return ins, {"momentum": m}, outs, tol(tl)


def op_clip_gradients(rng, clip, targets):
    ins, outs, tl, norms = {}, {}, {}, []
    keys = sorted(KEYS, key=lambda k: k.encode())
    for k, target in zip(keys, targets):
        g = rng.standard_normal(KEYS[k])
        g = r32(g / np.sqrt((g ** 2).sum()) * target)
        G = g.astype(np.float64)
        norm = math.sqrt(float((G ** 2).sum()))
        coef = clip / (norm + 1e-6)
        ins[f"grad.{k}"] = g
        outs[f"grad.{k}"] = G * coef if coef < 1 else G
        norms.append(norm)
        tl[f"out.grad.{k}"] = [(g.size, mx(g))]
    outs["norms"] = np.array(norms)
    tl["out.norms"] = [(max(g.size for g in ins.values()), max(norms))]
    return ins, {"clip": clip}, outs, tol(tl)


def op_adamw_step(rng, step, lr, wd):
    b1, b2, eps = 0.9, 0.999, 1e-8
    ins, outs, tl = {}, {}, {}
    for k, sh in KEYS.items():
        decay = 0 if k.endswith(".bias") or len(sh) == 1 else 1
        p, g = r32(0.02 * rng.standard_normal(sh)), r32(0.01 * rng.standard_normal(sh))
        m = r32(0.002 * rng.standard_normal(sh)) if step > 1 else np.zeros(sh, np.float32)
        v = r32(m.astype(np.float64) ** 2 + (0.002 * rng.standard_normal(sh)) ** 2) if step > 1 else np.zeros(sh, np.float32)
        P, G, Mm, V = (a.astype(np.float64) for a in (p, g, m, v))
        w = wd if decay else 0.0
        Mm = b1 * Mm + (1 - b1) * G
        V = b2 * V + (1 - b2) * G * G
        upd = (lr / (1 - b1 ** step)) * Mm / (np.sqrt(V) / math.sqrt(1 - b2 ** step) + eps)
        outs[f"param.{k}"], outs[f"exp_avg.{k}"], outs[f"exp_avg_sq.{k}"] = P * (1 - lr * w) - upd, Mm, V
        ins.update({f"param.{k}": p, f"grad.{k}": g, f"exp_avg.{k}": m, f"exp_avg_sq.{k}": v,
                    f"decay.{k}": np.array([decay], np.uint8)})
        tl.update({f"out.param.{k}": [(10, mx(p) + mx(upd))], f"out.exp_avg.{k}": [(3, max(mx(m), mx(g)))],
                   f"out.exp_avg_sq.{k}": [(3, max(mx(v), mx(g) ** 2))]})
    return ins, {"lr": lr, "weight_decay": wd, "beta1": b1, "beta2": b2, "eps": eps, "step": step}, outs, tol(tl)


CASES = [  # (op, case name, seed, args, description)
    ("matmul", "m7_k9_n11", 11, (7, 9, 11), "7x9 @ 9x11, N(0,1)"),
    ("matmul", "m2_k33_n6", 12, (2, 33, 6), "2x33 @ 33x6, N(0,1)"),
    ("layer_norm", "r6_d9", 21, (6, 9, 1e-6), "6x9, eps 1e-6"),
    ("layer_norm", "r2_d33", 22, (2, 33, 1e-5), "2x33, eps 1e-5"),
    ("gelu", "n29_std3", 31, (29, 3.0), "29 values N(0, 3^2)"),
    ("gelu", "n7_std0.3", 32, (7, 0.3), "7 values N(0, 0.3^2)"),
    ("softmax", "r4_k9_t0.07", 41, (4, 9, 0.07, 1.0), "4x9 logits N(0,1), T 0.07"),
    ("softmax", "r2_k33_t2", 42, (2, 33, 2.0, 5.0), "2x33 logits N(0, 5^2), T 2"),
    ("attention", "b1_h2_n6_dh7", 51, (1, 2, 6, 7, 7 ** -0.5), "B1 H2 N6 Dh7, scale Dh^-0.5"),
    ("attention", "b2_h1_n9_dh2_scale0.3", 52, (2, 1, 9, 2, 0.3), "B2 H1 N9 Dh2, scale 0.3"),
    ("dino_loss", "k9_nc3_b2", 61, (9, 3, 2, 0.04, 0.1, 0.9), "K9, 3 crops, B2, tau_t 0.04, tau_s 0.1, momentum 0.9"),
    ("dino_loss", "k33_nc6_b1", 62, (33, 6, 1, 0.07, 0.1, 0.9), "K33, 6 crops, B1, tau_t 0.07, tau_s 0.1, momentum 0.9"),
    ("dino_loss", "k5_nc2_b2_ts0.2", 63, (5, 2, 2, 0.05, 0.2, 0.5), "K5, 2 crops, B2, tau_t 0.05, tau_s 0.2, momentum 0.5"),
    ("cosine_schedule", "lr_warmup", 0, (0.001, 1e-6, 4, 3, 1, 0.0), "4 epochs x 3 iterations, 1 warm-up epoch"),
    ("cosine_schedule", "wd", 0, (0.04, 0.4, 3, 4, 0, 0.0), "wd-like 0.04 -> 0.4, 3 x 4 iterations"),
    ("teacher_temp_schedule", "warmup5_of_12", 0, (0.04, 0.07, 5, 12), "0.04 -> 0.07 over 5 of 12 epochs"),
    ("teacher_temp_schedule", "warmup0_of_3", 0, (0.04, 0.06, 0, 3), "no warm-up, 0.06 over 3 epochs"),
    ("ema_update", "m0.9995", 81, (0.9995,), "momentum 0.9995, 4 official key names"),
    ("ema_update", "m0.25", 82, (0.25,), "momentum 0.25, 4 official key names"),
    ("clip_gradients", "clip3", 91, (3.0, [0.2, 5.0, 1.0, 30.0]), "clip 3.0, norms 0.2, 5, 1, 30"),
    ("clip_gradients", "clip1", 92, (1.0, [0.0, 0.5, 2.0, 1.5]), "clip 1.0, norms 0 (zero gradient), 0.5, 2, 1.5"),
    ("adamw_step", "step1", 101, (1, 0.001, 0.04), "step 1, lr 1e-3, wd 0.04, zero moments"),
    ("adamw_step", "step37", 102, (37, 0.0003, 0.1), "step 37, lr 3e-4, wd 0.1, non-zero moments"),
]


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description="numpy-only dino-golden/1 cases")
    ap.add_argument("--out", default="fixtures/external")
    out = ap.parse_args().out
    for op in {c[0] for c in CASES}:
        shutil.rmtree(os.path.join(out, op), ignore_errors=True)
    entries = []
    for op, name, seed, args, desc in CASES:
        rng = np.random.RandomState(seed)
        ins, params, outs, t = globals()[f"op_{op}"](rng, *args)
        sched = op.endswith("schedule")
        tensors = {f"in.{k}": v for k, v in ins.items()}
        tensors.update({f"out.{k}": (np.asarray(v, np.float64) if sched else r32(v)) for k, v in outs.items()})
        meta = {"format": "dino-golden/1", "op": op, "params": json.dumps(params, sort_keys=True),
                "tolerance": json.dumps(t, sort_keys=True), "producer": PRODUCER,
                "description": f"{op}: {desc} (numpy RandomState seed {seed}); {RULE}."}
        data = st_bytes(tensors, meta)
        os.makedirs(os.path.join(out, op), exist_ok=True)
        with open(os.path.join(out, op, name + ".safetensors"), "wb") as f:
            f.write(data)
        entries.append({"file": f"{op}/{name}.safetensors", "op": op, "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data)})
    entries.sort(key=lambda e: e["file"].encode())
    here = os.path.abspath(__file__)
    manifest = {"format": "dino-golden/1", "generator": "reference-tests/external/numpy_cases.py",
                "generator_sha256": hashlib.sha256(
                    f"{file_sha256(here)}  {os.path.basename(here)}\n".encode()).hexdigest(),
                "producer": PRODUCER, "cases": entries}
    with open(os.path.join(out, "MANIFEST.json"), "w", newline="\n") as f:
        f.write(json.dumps(manifest, sort_keys=True, indent=1) + "\n")
    print(f"wrote {len(entries)} cases, {sum(e['bytes'] for e in entries)} bytes")


if __name__ == "__main__":
    main()
