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
    S: magnitude; float64 schedules use eps64). For the whole-network ops (ViT, head, bicubic
    resampling) L * S is the drift of the output when every operation of the float64 computation
    is moved by its worst-case float32 rounding with random signs (max of 6 seeded runs);
    integer outputs (knn predictions, masks) must be equal.
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


# --------------------------------------------------------------------------- model ops
# A ViT / DINO head written out in float64 numpy with hand-derived backward formulas. Every
# operation goes through one of three helpers; with a seeded `Noise.rng` each result is moved by
# eps * (its worst-case float32 rounding) with random signs, so re-running the computation shows
# how far a float32 implementation can drift (this tool's error model for whole networks: errors
# propagate through the real Jacobians; a worst-case |J| chain grows ~10x per layer and is useless).
class Noise:
    rng = None


def rr(v, mag):
    """v rounded once, at most by eps * mag (mag: sum of the magnitudes that fed it)."""
    v = np.asarray(v, np.float64)
    if Noise.rng is None:
        return v
    return v + E32 * np.broadcast_to(mag, v.shape) * (Noise.rng.randint(0, 2, v.shape) * 2.0 - 1)


def dot(a, b):
    return rr(a @ b, np.abs(a) @ np.abs(b))


def ew(v):
    return rr(v, np.abs(v))


def tsum(a, axis, keep=False):
    return rr(a.sum(axis, keepdims=keep), np.abs(a).sum(axis, keepdims=keep))


def drift(fn, *args):
    """(exact outputs, {name: max over 6 noisy runs of |noisy - exact| / eps})."""
    ref = fn(*args)
    d = {k: np.zeros_like(v) for k, v in ref.items()}
    for trial in range(6):
        Noise.rng = np.random.RandomState(777 + trial)
        try:
            noisy = fn(*args)
        finally:
            Noise.rng = None
        for k in ref:
            d[k] = np.maximum(d[k], np.abs(noisy[k] - ref[k]) / E32)
    return ref, {f"out.{k}": [(1, float(v.max()) if v.size else 0.0)] for k, v in d.items()}


def cubic_w(t):
    """Keys' cubic convolution weights (a = -0.75) of the 4 taps at offsets -1, 0, 1, 2 for a
    fractional position t, each with a Horner-evaluation rounding of up to 16 eps."""
    a = -0.75
    far = lambda x: a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a        # 1 <= |x| <= 2
    near = lambda x: (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1                # |x| <= 1
    return [rr(w, 16.0) for w in (far(1 + t), near(t), near(1 - t), far(2 - t))]


def bicubic_matrix(g, n, factor):
    """One axis of torch's bicubic resize by scale_factor `factor` (align_corners False):
    output d samples the input at (d + 0.5) / factor - 0.5 (float32 coordinate: 3 roundings,
    one shared by the axis), taps clamped to the edge."""
    inv = rr(1.0 / factor, 1.0 / factor)
    m = np.zeros((n, g))
    for d in range(n):
        x = float(rr(inv * (d + 0.5) - 0.5, 2 * inv * (d + 0.5) + 0.5))
        base = min(int(math.floor(x)), g - 1)
        t = min(max(x - base, 0.0), 1.0)
        for off, w in zip((-1, 0, 1, 2), cubic_w(t)):
            m[d, min(max(base + off, 0), g - 1)] += w
    return m


def pos_resample(pos, p, height, width):
    """[1, 1+g*g, D] -> [1, 1+rows*cols, D]; unchanged iff the grid matches AND height == width."""
    n0, D = pos.shape[1] - 1, pos.shape[2]
    rows, cols = height // p, width // p
    if rows * cols == n0 and height == width:
        return pos, None
    g = int(round(math.sqrt(n0)))
    my = bicubic_matrix(g, rows, (rows + 0.1) / math.sqrt(n0))
    mx_ = bicubic_matrix(g, cols, (cols + 0.1) / math.sqrt(n0))
    grid = pos[0, 1:].reshape(g, g, D)
    out = np.stack([dot(my, dot(mx_, grid[:, :, c].T).T) for c in range(D)], -1)   # [rows, cols, D]
    return np.concatenate([pos[:, :1], out.reshape(1, rows * cols, D)], 1), (my, mx_, g, rows, cols, D)


def pos_resample_back(gpos, ctx):
    my, mx_, g, rows, cols, D = ctx
    gout = gpos[0, 1:].reshape(rows, cols, D)
    gg = np.stack([dot(dot(my.T, gout[:, :, c]), mx_) for c in range(D)], -1)      # [g, g, D]
    return np.concatenate([gpos[:, :1], gg.reshape(1, g * g, D)], 1)


def erf_(x):
    return np.vectorize(math.erf)(x)


def gelu_(x):
    return rr(0.5 * x * (1 + erf_(x / math.sqrt(2))), 2 * np.abs(x))


def dgelu_(x):
    return rr(0.5 * (1 + erf_(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi), 2.0)


def ln_f(x, w, b):
    n = x.shape[-1]
    mu = ew(tsum(x, -1, True) / n)
    xc = ew(x - mu)
    var = ew(tsum(ew(xc * xc), -1, True) / n)
    rs = rr(1 / np.sqrt(var + 1e-6), 2.5 / np.sqrt(var + 1e-6))
    xh = ew(xc * rs)
    return ew(ew(xh * w) + b), (xh, rs, w)


def ln_b(gy, ctx):
    xh, rs, w = ctx
    n = xh.shape[-1]
    flat = tuple(range(gy.ndim - 1))
    g = ew(gy * w)
    t1 = ew(tsum(g, -1, True) / n)
    t2 = ew(tsum(ew(g * xh), -1, True) / n)
    return ew(rs * ew(ew(g - t1) - ew(xh * t2))), tsum(ew(gy * xh), flat), tsum(gy, flat)


def fc_f(x, w, b):
    return ew(dot(x, w.T) + b)


def fc_b(gy, x, w):
    g2, x2 = gy.reshape(-1, gy.shape[-1]), x.reshape(-1, x.shape[-1])
    return dot(gy, w), dot(g2.T, x2), tsum(g2, 0)


def smax(s):
    z = ew(s - s.max(-1, keepdims=True))
    e = rr(np.exp(z), 2 * np.exp(z))
    return ew(e / tsum(e, -1, True))


def vit_np(W, img, cfg, gcls=None):
    """The DINO ViT backbone (official vision_transformer.py semantics) on images [B, 3, H, W]:
    cls (after the final norm), last_attn, and with gcls the gradients of <cls, gcls>."""
    p, nh = cfg["patch_size"], cfg["num_heads"]
    B, _, H, Wd = img.shape
    gr, gc = H // p, Wd // p
    D = W["cls_token"].shape[-1]
    dh = D // nh
    sc = dh ** -0.5
    sc_r = sc if sc == 2.0 ** round(math.log2(sc)) else float(rr(sc, sc))
    pt = img[:, :, :gr * p, :gc * p].reshape(B, 3, gr, p, gc, p).transpose(0, 2, 4, 1, 3, 5).reshape(B, gr * gc, -1)
    wc = W["patch_embed.proj.weight"].reshape(D, -1)
    pos, pctx = pos_resample(W["pos_embed"], p, H, Wd)
    x = ew(np.concatenate([np.repeat(W["cls_token"], B, 0), fc_f(pt, wc, W["patch_embed.proj.bias"])], 1) + pos)
    n = x.shape[1]
    saved = []
    for i in range(cfg["depth"]):
        k = f"blocks.{i}."
        h1, c1 = ln_f(x, W[k + "norm1.weight"], W[k + "norm1.bias"])
        qkv = fc_f(h1, W[k + "attn.qkv.weight"], W[k + "attn.qkv.bias"]).reshape(B, n, 3, nh, dh)
        q, kk, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))
        att = smax(ew(dot(q, kk.transpose(0, 1, 3, 2)) * sc_r))
        o = dot(att, v).transpose(0, 2, 1, 3).reshape(B, n, D)
        x1 = ew(x + fc_f(o, W[k + "attn.proj.weight"], W[k + "attn.proj.bias"]))
        h2, c2 = ln_f(x1, W[k + "norm2.weight"], W[k + "norm2.bias"])
        a1 = fc_f(h2, W[k + "mlp.fc1.weight"], W[k + "mlp.fc1.bias"])
        a2 = gelu_(a1)
        x = ew(x1 + fc_f(a2, W[k + "mlp.fc2.weight"], W[k + "mlp.fc2.bias"]))
        saved.append((h1, c1, q, kk, v, att, o, h2, c2, a1, a2))
    y, cn = ln_f(x[:, 0], W["norm.weight"], W["norm.bias"])
    res = {"cls": y, "last_attn": att}
    if gcls is None:
        return res
    G = {}
    g0, G["norm.weight"], G["norm.bias"] = ln_b(gcls, cn)
    gx = np.zeros((B, n, D))
    gx[:, 0] = g0
    for i in reversed(range(cfg["depth"])):
        k = f"blocks.{i}."
        h1, c1, q, kk, v, att, o, h2, c2, a1, a2 = saved[i]
        ga2, G[k + "mlp.fc2.weight"], G[k + "mlp.fc2.bias"] = fc_b(gx, a2, W[k + "mlp.fc2.weight"])
        gh2, G[k + "mlp.fc1.weight"], G[k + "mlp.fc1.bias"] = fc_b(ew(ga2 * dgelu_(a1)), h2, W[k + "mlp.fc1.weight"])
        gn2, G[k + "norm2.weight"], G[k + "norm2.bias"] = ln_b(gh2, c2)
        gx1 = ew(gx + gn2)
        go, G[k + "attn.proj.weight"], G[k + "attn.proj.bias"] = fc_b(gx1, o, W[k + "attn.proj.weight"])
        go = go.reshape(B, n, nh, dh).transpose(0, 2, 1, 3)
        gatt = dot(go, v.transpose(0, 1, 3, 2))
        gv = dot(att.transpose(0, 1, 3, 2), go)
        gs = ew(att * ew(gatt - tsum(ew(att * gatt), -1, True)))             # softmax backward
        gq = ew(dot(gs, kk) * sc_r)
        gk = ew(dot(gs.transpose(0, 1, 3, 2), q) * sc_r)
        gqkv = np.stack([gq, gk, gv], 2).transpose(0, 3, 2, 1, 4).reshape(B, n, 3 * D)
        gh1, G[k + "attn.qkv.weight"], G[k + "attn.qkv.bias"] = fc_b(gqkv, h1, W[k + "attn.qkv.weight"])
        gn1, G[k + "norm1.weight"], G[k + "norm1.bias"] = ln_b(gh1, c1)
        gx = ew(gx1 + gn1)
    gpos = tsum(gx, 0, True)
    G["pos_embed"] = pos_resample_back(gpos, pctx) if pctx else gpos
    G["cls_token"] = tsum(gx[:, :1], 0, True)
    gpt, gw, G["patch_embed.proj.bias"] = fc_b(gx[:, 1:], pt, wc)
    G["patch_embed.proj.weight"] = gw.reshape(W["patch_embed.proj.weight"].shape)
    gimg = np.zeros(img.shape)
    gimg[:, :, :gr * p, :gc * p] = gpt.reshape(B, gr, gc, 3, p, p).transpose(0, 3, 1, 4, 2, 5).reshape(B, 3, gr * p, gc * p)
    res.update({f"grad.model.{k}": v for k, v in G.items()})
    res["grad_images"] = gimg
    return res


def head_np(W, x, cfg, gy):
    """DINOHead (no BN): Linear (+GELU) ... Linear, x / max(||x||, 1e-12), weight-normed Linear."""
    nl = cfg["nlayers"]
    keys = ["mlp."] if nl == 1 else [f"mlp.{2 * j}." for j in range(nl)]
    acts, pre = [x], []
    for j, k in enumerate(keys):
        z = fc_f(acts[-1], W[k + "weight"], W[k + "bias"])
        pre.append(z)
        acts.append(gelu_(z) if j < nl - 1 else z)
    z = acts[-1]
    nz = np.sqrt(tsum(ew(z * z), -1, True))
    nz = rr(nz, 1.5 * nz)
    den = np.maximum(nz, 1e-12)
    u = ew(z / den)
    g, v = W["last_layer.weight_g"], W["last_layer.weight_v"]
    nv = np.sqrt(tsum(ew(v * v), -1, True))
    nv = rr(nv, 1.5 * nv)
    weff = ew(v * ew(g / nv))
    y = dot(u, weff.T)
    gW = dot(gy.T, u)
    gu = dot(gy, weff)
    s = tsum(ew(gW * v), -1, True)
    G = {"last_layer.weight_v": ew(ew(g / nv) * ew(gW - ew(ew(s / ew(nv * nv)) * v)))}
    if not cfg["norm_last_layer"]:
        G["last_layer.weight_g"] = ew(s / nv)
    radial = np.where(nz >= 1e-12, ew(u * tsum(ew(u * gu), -1, True)), 0.0)
    gz = ew(ew(gu - radial) / den)
    for j in reversed(range(nl)):
        if j < nl - 1:
            gz = ew(gz * dgelu_(pre[j]))
        gz, G[keys[j] + "weight"], G[keys[j] + "bias"] = fc_b(gz, acts[j], W[keys[j] + "weight"])
    res = {"y": y, "grad_x": gz}
    res.update({f"grad.head.{k}": t for k, t in G.items()})
    return res


def op_interpolate_pos_encoding(rng, g, D, p, h, w):
    pos = r32(rng.standard_normal((1, 1 + g * g, D)))
    out, t = drift(lambda a: {"pos_embed": pos_resample(a, p, h, w)[0]}, pos.astype(np.float64))
    return {"pos_embed": pos}, {"patch_size": p, "height": h, "width": w}, out, tol(t)


EXT_VIT = dict(patch_size=6, embed_dim=18, depth=2, num_heads=3, mlp_ratio=3.0, qkv_bias=True)


def ext_vit_weights(rng, cfg, img_size):
    D, p, hid = cfg["embed_dim"], cfg["patch_size"], int(cfg["embed_dim"] * cfg["mlp_ratio"])
    n0 = (img_size // p) ** 2
    W = {"cls_token": 0.03 * rng.standard_normal((1, 1, D)), "pos_embed": 0.03 * rng.standard_normal((1, 1 + n0, D)),
         "patch_embed.proj.weight": rng.standard_normal((D, 3, p, p)) / (2 * p),
         "patch_embed.proj.bias": rng.uniform(-0.1, 0.1, D)}
    for i in range(cfg["depth"]):
        for name, (o, k) in (("attn.qkv", (3 * D, D)), ("attn.proj", (D, D)), ("mlp.fc1", (hid, D)), ("mlp.fc2", (D, hid))):
            W[f"blocks.{i}.{name}.weight"] = 0.18 * rng.standard_normal((o, k))
            W[f"blocks.{i}.{name}.bias"] = rng.uniform(-0.1, 0.1, o)
        for name in ("norm1", "norm2"):
            W[f"blocks.{i}.{name}.weight"] = rng.uniform(0.8, 1.2, D)
            W[f"blocks.{i}.{name}.bias"] = rng.uniform(-0.1, 0.1, D)
    W["norm.weight"], W["norm.bias"] = rng.uniform(0.8, 1.2, D), rng.uniform(-0.1, 0.1, D)
    return {k: r32(v) for k, v in W.items()}


def op_vit_forward(rng, B, H, Wd, backward=False):
    cfg = EXT_VIT
    W = ext_vit_weights(rng, cfg, 18)
    img = r32(rng.standard_normal((B, 3, H, Wd)))
    ins = {f"model.{k}": v for k, v in W.items()}
    ins["images"] = img
    W64 = {k: v.astype(np.float64) for k, v in W.items()}
    if backward:
        gc = r32(rng.standard_normal((B, cfg["embed_dim"])))
        ins["grad_cls"] = gc
        out, t = drift(lambda: {k: v for k, v in vit_np(W64, img.astype(np.float64), cfg, gc.astype(np.float64)).items()
                                if k.startswith("grad")})
    else:
        out, t = drift(lambda: vit_np(W64, img.astype(np.float64), cfg))
    return ins, dict(cfg), out, tol(t)


def op_vit_backward(rng, B, H, Wd):
    return op_vit_forward(rng, B, H, Wd, backward=True)


def op_dino_head(rng, din, hidden, bott, K, nl, norm_last, rows):
    W = {}
    dims = [din] + [hidden] * (nl - 1) + [bott]
    for j in range(nl):
        k = "mlp." if nl == 1 else f"mlp.{2 * j}."
        W[k + "weight"], W[k + "bias"] = 0.2 * rng.standard_normal((dims[j + 1], dims[j])), rng.uniform(-0.1, 0.1, dims[j + 1])
    W["last_layer.weight_g"] = np.ones((K, 1)) if norm_last else rng.uniform(0.6, 1.4, (K, 1))
    W["last_layer.weight_v"] = 0.15 * rng.standard_normal((K, bott))
    W = {k: r32(v) for k, v in W.items()}
    x, gy = r32(rng.standard_normal((rows, din))), r32(rng.standard_normal((rows, K)))
    cfg = {"out_dim": K, "hidden_dim": hidden, "bottleneck_dim": bott, "nlayers": nl, "norm_last_layer": norm_last}
    out, t = drift(lambda: head_np({k: v.astype(np.float64) for k, v in W.items()}, x.astype(np.float64), cfg,
                                   gy.astype(np.float64)))
    ins = {f"head.{k}": v for k, v in W.items()}
    ins.update({"x": x, "grad_y": gy})
    return ins, cfg, out, tol(t)


def knn_np(tr, ytr, te, yte, k, T, C):
    """eval_knn.py: L2-normalise, cosine top-k, weights exp(s / T), class sums, rank classes;
    top5 looks at the first min(5, k, C) classes. Also returns whether every test row is decided
    with a margin (top-k gap >= 1e-4, class score gaps >= 0.2 %, no zero-score ties in the top)."""
    tr = tr / np.linalg.norm(tr, axis=1, keepdims=True)
    te = te / np.linalg.norm(te, axis=1, keepdims=True)
    sim = te @ tr.T
    nb = np.argsort(-sim, 1, kind="stable")
    preds, c1, c5, ok = [], 0, 0, True
    m = min(5, k, C)
    for i in range(len(te)):
        s = sim[i, nb[i]]
        sc = np.zeros(C)
        np.add.at(sc, ytr[nb[i, :k]], np.exp(s[:k] / T))
        rank = np.argsort(-sc, kind="stable")
        ss = sc[rank]
        ok &= (k == len(s) or s[k - 1] - s[k] >= 1e-4) and (ss[1] == 0 or ss[0] - ss[1] >= 2e-3 * ss[0])
        if m < C:
            ok &= (sc[yte[i]] > 0) if ss[m - 1] == 0 else (ss[m] == 0 or ss[m - 1] - ss[m] >= 2e-3 * ss[m - 1])
        preds.append(rank[0])
        c1 += rank[0] == yte[i]
        c5 += yte[i] in rank[:m]
    n = len(te)
    return np.array(preds, np.int64), 100.0 * c1 / n, 100.0 * c5 / n, ok


def op_knn(rng, ntr, nte, D, C, k, T):
    for _ in range(100):
        centers = rng.standard_normal((C, D))
        ytr, yte = rng.randint(0, C, ntr).astype(np.int64), rng.randint(0, C, nte).astype(np.int64)
        tr = r32(centers[ytr] + 0.9 * rng.standard_normal((ntr, D)))
        te = r32(centers[yte] + 0.9 * rng.standard_normal((nte, D)))
        pred, t1, t5, ok = knn_np(tr.astype(np.float64), ytr, te.astype(np.float64), yte, k, T, C)
        if ok:
            break
    else:
        raise RuntimeError("no decided knn draw")
    t = tol({"out.top1": [(3, 100.0)], "out.top5": [(3, 100.0)]})
    t["out.predictions"] = [0.0, 0.0]
    return ({"train_features": tr, "train_labels": ytr, "test_features": te, "test_labels": yte},
            {"k": k, "temperature": T, "num_classes": C},
            {"predictions": pred, "top1": np.array([t1]), "top5": np.array([t5])}, t)


def op_attention_mask(rng, H, N, th):
    rows = []
    while len(rows) < H:
        a = np.exp(2.5 * rng.standard_normal(N + 1))
        row = r32(a[1:] / a.sum())
        srt = np.sort(row.astype(np.float64))
        cum = np.cumsum(srt) / srt.sum()
        if len(set(row.tolist())) == N and np.abs(cum - (1 - th)).min() >= 1e-4:
            rows.append(row)
    attn = np.stack(rows)
    mask = np.zeros((H, N), np.uint8)
    for h in range(H):
        order = np.argsort(attn[h].astype(np.float64), kind="stable")
        cum = np.cumsum(attn[h][order].astype(np.float64)) / attn[h].astype(np.float64).sum()
        mask[h, order] = cum > 1 - th
    return {"attn": attn}, {"threshold": th}, {"mask": mask}, {"out.mask": [0.0, 0.0], "default": [0.0, 0.0]}


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
    ("interpolate_pos_encoding", "g5_p6_30x42", 111, (5, 4, 6, 30, 42), "5x5 grid to 5x7 (30x42 px, patch 6)"),
    ("interpolate_pos_encoding", "g3_p5_15x16_same_grid", 112, (3, 4, 5, 15, 16),
     "3x3 grid, 15x16 px, patch 5: the same 3x3 grid, non-square, so resampled"),
    ("vit_forward", "p6_d18_24x18_b2", 121, (2, 24, 18),
     "patch 6, D 18, depth 2, 3 heads, mlp 3; pos_embed for 18 px; 24x18 images (3x3 -> 4x3), batch 2"),
    ("vit_backward", "p6_d18_13x25_b1", 131, (1, 13, 25),
     "patch 6, D 18, depth 2, 3 heads, mlp 3; 13x25 images (2x4 patches, pixels beyond dropped), batch 1"),
    ("dino_head", "nl2_free_g", 141, (10, 13, 7, 19, 2, False, 4), "nlayers 2, norm_last_layer false, Din 10, hidden 13, bottleneck 7, K 19"),
    ("dino_head", "nl4_norm_last", 142, (10, 9, 6, 11, 4, True, 3), "nlayers 4, norm_last_layer true, Din 10, hidden 9, bottleneck 6, K 11"),
    ("knn", "ntr80_nte25_k7_c4", 151, (80, 25, 8, 4, 7, 0.07), "80 train / 25 test, D 8, 4 classes, k 7, T 0.07"),
    ("knn", "ntr150_nte120_k2_c6", 152, (150, 120, 10, 6, 2, 0.05), "150 train / 120 test, D 10, 6 classes, k 2, T 0.05"),
    ("attention_mask", "h4_n36_t0.6", 161, (4, 36, 0.6), "4 heads x 36 patches, threshold 0.6"),
    ("attention_mask", "h1_n9_t0.75", 162, (1, 9, 0.75), "1 head x 9 patches, threshold 0.75"),
]


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_manifest(out):
    """MANIFEST.json of the external folder: every case file present (this tool's and those of
    torch_train_steps.py), sorted by name, and generator_sha256 over every *.py file of
    reference-tests/external/ (the golden manifest's scheme: sha256 of the `sha256sum` lines of
    the files in byte order of their names). Returns the entries."""
    entries = []
    for op in sorted(os.listdir(out)):
        if not os.path.isdir(os.path.join(out, op)):
            continue
        for fn in sorted(os.listdir(os.path.join(out, op))):
            if fn.endswith(".safetensors"):
                path = os.path.join(out, op, fn)
                entries.append({"file": f"{op}/{fn}", "op": op, "sha256": file_sha256(path), "bytes": os.path.getsize(path)})
    entries.sort(key=lambda e: e["file"].encode())
    here = os.path.dirname(os.path.abspath(__file__))
    names = sorted((n for n in os.listdir(here) if n.endswith(".py")), key=lambda n: n.encode())
    lines = "".join(f"{file_sha256(os.path.join(here, n))}  {n}\n" for n in names)
    producers = [PRODUCER] + (["dino_train_steps: torch float32, own code (torch_train_steps.py)"]
                              if any(e["op"] == "dino_train_steps" for e in entries) else [])
    manifest = {"format": "dino-golden/1", "generator": "reference-tests/external/numpy_cases.py",
                "generator_sha256": hashlib.sha256(lines.encode()).hexdigest(),
                "producer": "; ".join(producers), "cases": entries}
    with open(os.path.join(out, "MANIFEST.json"), "w", newline="\n") as f:
        f.write(json.dumps(manifest, sort_keys=True, indent=1) + "\n")
    return entries


def main():
    ap = argparse.ArgumentParser(description="numpy-only dino-golden/1 cases")
    ap.add_argument("--out", default="fixtures/external")
    out = ap.parse_args().out
    for op in {c[0] for c in CASES}:
        shutil.rmtree(os.path.join(out, op), ignore_errors=True)
    entries = []   # this tool's cases (the manifest lists every case file of the folder)
    for op, name, seed, args, desc in CASES:
        rng = np.random.RandomState(seed)
        ins, params, outs, t = globals()[f"op_{op}"](rng, *args)
        sched = op.endswith("schedule")
        tensors = {f"in.{k}": v for k, v in ins.items()}
        tensors.update({f"out.{k}": (np.asarray(v, np.float64) if sched or k in ("top1", "top5")
                                     else v if v.dtype.kind in "iu" else r32(v)) for k, v in outs.items()})
        meta = {"format": "dino-golden/1", "op": op, "params": json.dumps(params, sort_keys=True),
                "tolerance": json.dumps(t, sort_keys=True), "producer": PRODUCER,
                "description": f"{op}: {desc} (numpy RandomState seed {seed}); {RULE}."}
        data = st_bytes(tensors, meta)
        os.makedirs(os.path.join(out, op), exist_ok=True)
        with open(os.path.join(out, op, name + ".safetensors"), "wb") as f:
            f.write(data)
        entries.append({"file": f"{op}/{name}.safetensors", "op": op, "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data)})
    write_manifest(out)
    print(f"wrote {len(entries)} cases, {sum(e['bytes'] for e in entries)} bytes")


if __name__ == "__main__":
    main()
