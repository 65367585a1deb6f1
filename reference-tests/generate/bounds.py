"""The error model of the whole-network golden ops (interpolate_pos_encoding, vit_forward,
vit_backward, dino_head): how far a float32 implementation may land from the float64 reference.

The computation is written out by hand in float64 numpy with a few primitives, forward AND
backward (no autograd; the generator asserts that these values equal torch float64 autograd's
to 1e-9 of each output's scale, which checks the hand backward). Every primitive knows the
worst-case size of its own float32 rounding, counted as in the per-op rule of cases.py:

    mm(a, b)        |a| |b|          (each length-K sum: the sum of the magnitudes of its terms)
    add, sub, mul   |result|         (one rounding)
    div             |result|
    rsum            sum |terms|
    scale(a, s)     |result| + the rounding of f32(s) (ONE sign for the whole tensor: systematic)
    gelu            2 |x|            (erf evaluation; for x < 0 the cancellation in 1 + erf)
    gelu'           2
    exp             2 exp(z)         (after the shift z = s - max, rounded: |z|)
    rsqrt(var+eps)  2.5 rstd         (the add and the rsqrt)
    resampling      the source coordinate f32(1/sf) (d + .5) - .5 (one sign per axis for f32(1/sf),
                    one per output index for the product and the subtraction) and each cubic weight's
                    Horner evaluation (the sum of its intermediate magnitudes)

Why not a worst-case bound: propagating these through a ViT with absolute values (|J| e at every
layer, no cancellation) grows about tenfold per layer (LayerNorm, softmax, |W| row sums); for
the 2-block D 32 test model it gives atol ~1e5 (!) on cls whose float32 error is ~1e-6. Instead
the model is STATISTICAL and first order: the float64 computation is re-run TRIALS times with
every primitive's result moved by eps * (its rounding bound) with a random sign (seeded), so
the errors propagate through the real Jacobians of everything downstream (forward errors into
the backward included). e_i = max over trials |out_i - ref_i| / eps. Each local bound is
already the worst case of its op (all roundings of a sum aligned), a real rounding is at most
half an ulp per operation, so actual float32 errors sit well below e_i; cases.py records
atol = C_ABS * eps * max_i e_i (the rule's factor 4) and selfcheck.py shows the float32 torch
margin.
"""
import math

import numpy as np

A_CUBIC = -0.75
EPS = 2.0 ** -23
TRIALS = 8


class _Noise:
    """None: the exact float64 computation; otherwise a seeded source of +-1 signs."""
    rng = None


N = _Noise()


def _signs(shape):
    return N.rng.randint(0, 2, size=shape).astype(np.float64) * 2 - 1


def rnd(v, bound):
    """v moved by eps * bound with random signs (one per element) when the noise is on."""
    v = np.asarray(v, np.float64)
    if N.rng is None:
        return v
    return v + EPS * np.broadcast_to(bound, v.shape) * _signs(v.shape)


def shared(x):
    """x moved by eps |x| with ONE random sign (a rounded constant such as f32(s))."""
    if N.rng is None:
        return x
    return x * (1 + EPS * float(_signs(())))


def run(fn, *args, seed=None, **kw):
    """fn(*args) exactly (seed None) or with seeded random roundings."""
    N.rng = None if seed is None else np.random.RandomState(seed)
    try:
        return fn(*args, **kw)
    finally:
        N.rng = None


def error_bounds(fn, *args, seed, **kw):
    """(reference outputs, {name: e}) with e = max over TRIALS of |perturbed - ref| / eps."""
    ref = run(fn, *args, **kw)
    e = {k: np.zeros_like(v) for k, v in ref.items()}
    for t in range(TRIALS):
        out = run(fn, *args, seed=seed * 1000 + t, **kw)
        for k in ref:
            e[k] = np.maximum(e[k], np.abs(out[k] - ref[k]) / EPS)
    return ref, e


def T(a):
    return np.swapaxes(a, -1, -2)


def mm(a, b):
    return rnd(a @ b, np.abs(a) @ np.abs(b))


def add(a, b):
    v = a + b
    return rnd(v, np.abs(v))


def sub(a, b):
    v = a - b
    return rnd(v, np.abs(v))


def mul(a, b):
    v = a * b
    return rnd(v, np.abs(v))


def div(a, b):
    v = a / b
    return rnd(v, np.abs(v))


def scale(a, s, exact=False):
    """a * s for a Python scalar s: f32(s) is one (systematic) rounding unless s is exact."""
    v = a * (s if exact else shared(s))
    return rnd(v, np.abs(v))


def rsum(a, axis, keepdims=False):
    return rnd(a.sum(axis=axis, keepdims=keepdims), np.abs(a).sum(axis=axis, keepdims=keepdims))


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _phi(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def gelu(x):
    return rnd(x * 0.5 * (1 + _erf(x / math.sqrt(2))), 2 * np.abs(x))


def gelu_grad(x):
    """Phi(x) + x phi(x) (|.| <= 1.13)."""
    return rnd(0.5 * (1 + _erf(x / math.sqrt(2))) + x * _phi(x), 2.0)


def softmax(s):
    """exp(s - max) / sum; the shift cancels exactly, only the rounding of s - max counts."""
    z = s - s.max(axis=-1, keepdims=True)
    z = rnd(z, np.abs(z))
    ex = np.exp(z)
    ex = rnd(ex, 2 * ex)
    return div(ex, rsum(ex, -1, keepdims=True))


# ---------------------------------------------------------------------------------------------
# Layers: forward returns (output, cache); backward(grad, cache) returns the input grad and a
# dict of parameter grads
# ---------------------------------------------------------------------------------------------

def layer_norm(x, w, b, eps):
    """Two-pass: mean, centred values, biased variance, rsqrt(var + eps), xhat, xhat * w + b."""
    D = x.shape[-1]
    mu = scale(rsum(x, -1, keepdims=True), 1.0 / D, _exact(1.0 / D))
    d = sub(x, mu)
    var = scale(rsum(mul(d, d), -1, keepdims=True), 1.0 / D, _exact(1.0 / D))
    r = (var + eps) ** -0.5
    rstd = rnd(r, 2.5 * r)
    xh = mul(d, rstd)
    return add(mul(xh, w), b), (xh, rstd, w)


def layer_norm_back(gy, cache):
    """dx = rstd (g - mean g - xhat mean(g xhat)), g = dy w; dw = sum dy xhat; db = sum dy."""
    xh, rstd, w = cache
    D = xh.shape[-1]
    rows = tuple(range(gy.ndim - 1))
    g = mul(gy, w)
    mg = scale(rsum(g, -1, keepdims=True), 1.0 / D, _exact(1.0 / D))
    mgx = scale(rsum(mul(g, xh), -1, keepdims=True), 1.0 / D, _exact(1.0 / D))
    gx = mul(rstd, sub(sub(g, mg), mul(xh, mgx)))
    return gx, {"weight": rsum(mul(gy, xh), rows), "bias": rsum(gy, rows)}


def linear(x, w, b):
    y = mm(x, T(w))
    return (add(y, b) if b is not None else y), (x, w)


def linear_back(gy, cache, bias=True):
    x, w = cache
    gx = mm(gy, w)
    g2, x2 = gy.reshape(-1, gy.shape[-1]), x.reshape(-1, x.shape[-1])
    grads = {"weight": mm(T(g2), x2)}
    if bias:
        grads["bias"] = rsum(g2, 0)
    return gx, grads


def _exact(s):
    return s == 2.0 ** round(math.log2(s))


def attention_fwd(h, P, prefix, num_heads, rec=None):
    """Attention.forward on h [B, N, D]: qkv, heads, (q k^T) * Dh^-0.5, softmax, attn v, merge,
    proj. rec (vit_trace): a dict that receives qkv [B, N, 3D]."""
    B, N, D = h.shape
    Dh = D // num_heads
    sc = Dh ** -0.5
    qkv, c_qkv = linear(h, P[prefix + "qkv.weight"], P[prefix + "qkv.bias"])
    if rec is not None:
        rec["attn.qkv"] = qkv
    qkv = qkv.reshape(B, N, 3, num_heads, Dh).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    p = softmax(scale(mm(q, T(k)), sc, _exact(sc)))
    o = mm(p, v)
    out, c_proj = linear(o.transpose(0, 2, 1, 3).reshape(B, N, D), P[prefix + "proj.weight"], P[prefix + "proj.bias"])
    return out, p, (c_qkv, q, k, v, p, sc, c_proj, num_heads)


def attention_back(gout, cache):
    c_qkv, q, k, v, p, sc, c_proj, H = cache
    B, _, N, Dh = q.shape
    gmerged, g_proj = linear_back(gout, c_proj)
    go = gmerged.reshape(B, N, H, Dh).transpose(0, 2, 1, 3)
    gp = mm(go, T(v))
    gv = mm(T(p), go)
    gs = mul(p, sub(gp, rsum(mul(p, gp), -1, keepdims=True)))
    gq = scale(mm(gs, k), sc, _exact(sc))
    gk = scale(mm(T(gs), q), sc, _exact(sc))
    gqkv = np.stack([gq, gk, gv]).transpose(1, 3, 0, 2, 4).reshape(B, N, 3 * H * Dh)
    gh, g_qkv = linear_back(gqkv, c_qkv)
    grads = {f"qkv.{n}": t for n, t in g_qkv.items()}
    grads.update({f"proj.{n}": t for n, t in g_proj.items()})
    return gh, grads


def block_fwd(x, P, i, num_heads, rec=None):
    """One block; rec (vit_trace): a dict that receives every intermediate under its trace name
    (norm1, attn.qkv, attn.weights, attn.proj, resid1, norm2, mlp.fc1, mlp.act, mlp.fc2, out)."""
    pre = f"blocks.{i}."
    h1, c_n1 = layer_norm(x, P[pre + "norm1.weight"], P[pre + "norm1.bias"], 1e-6)
    a, attn, c_att = attention_fwd(h1, P, pre + "attn.", num_heads, rec)
    x1 = add(x, a)
    h2, c_n2 = layer_norm(x1, P[pre + "norm2.weight"], P[pre + "norm2.bias"], 1e-6)
    f1, c_f1 = linear(h2, P[pre + "mlp.fc1.weight"], P[pre + "mlp.fc1.bias"])
    act = gelu(f1)
    f2, c_f2 = linear(act, P[pre + "mlp.fc2.weight"], P[pre + "mlp.fc2.bias"])
    out = add(x1, f2)
    if rec is not None:
        rec.update({"norm1": h1, "attn.weights": attn, "attn.proj": a, "resid1": x1, "norm2": h2,
                    "mlp.fc1": f1, "mlp.act": act, "mlp.fc2": f2, "out": out})
    return out, attn, (c_n1, c_att, c_n2, c_f1, f1, c_f2)


def block_back(gx2, cache, i):
    c_n1, c_att, c_n2, c_f1, f1, c_f2 = cache
    pre = f"blocks.{i}."
    grads = {}
    ggl, g = linear_back(gx2, c_f2)
    grads.update({pre + "mlp.fc2." + n: t for n, t in g.items()})
    gh2, g = linear_back(mul(ggl, gelu_grad(f1)), c_f1)
    grads.update({pre + "mlp.fc1." + n: t for n, t in g.items()})
    gx1n, g = layer_norm_back(gh2, c_n2)
    grads.update({pre + "norm2." + n: t for n, t in g.items()})
    gx1 = add(gx2, gx1n)
    gh1, g = attention_back(gx1, c_att)
    grads.update({pre + "attn." + n: t for n, t in g.items()})
    gxn, g = layer_norm_back(gh1, c_n1)
    grads.update({pre + "norm1." + n: t for n, t in g.items()})
    return add(gx1, gxn), grads


# ---------------------------------------------------------------------------------------------
# interpolate_pos_encoding: two resampling matrices whose float32 weights carry the coordinate
# and Horner roundings
# ---------------------------------------------------------------------------------------------

def _c1(x):
    """cubic_convolution1 ((A+2) x - (A+3)) x x + 1, one rounding per operation."""
    a1 = rnd((A_CUBIC + 2) * x, abs((A_CUBIC + 2) * x))
    a2 = rnd(a1 - (A_CUBIC + 3), abs(a1 - (A_CUBIC + 3)))
    a3 = rnd(a2 * x, abs(a2 * x))
    a4 = rnd(a3 * x, abs(a3 * x))
    return float(rnd(a4 + 1, abs(a4 + 1)))


def _c2(x):
    """cubic_convolution2 ((A x - 5A) x + 8A) x - 4A, one rounding per operation."""
    b1 = rnd(A_CUBIC * x, abs(A_CUBIC * x))
    b2 = rnd(b1 - 5 * A_CUBIC, abs(b1 - 5 * A_CUBIC))
    b3 = rnd(b2 * x, abs(b2 * x))
    b4 = rnd(b3 + 8 * A_CUBIC, abs(b3 + 8 * A_CUBIC))
    b5 = rnd(b4 * x, abs(b4 * x))
    return float(rnd(b5 - 4 * A_CUBIC, abs(b5 - 4 * A_CUBIC)))


def resample_matrix(g, n, sf):
    """[n, g] bicubic matrix of F.interpolate(scale_factor=sf, mode='bicubic', align_corners=False)
    along one axis: kernel scale 1/sf (float32 in PyTorch: one rounding for the whole axis),
    src = s (d + 0.5) - 0.5 (not clamped), i0 = min(floor(src), g - 1), t = clamp(src - i0, 0, 1),
    weights c2(t + 1), c1(t), c1(1 - t), c2(2 - t) on taps i0 - 1 .. i0 + 2 clamped into [0, g - 1]
    (edge taps add up)."""
    s = shared(1.0 / sf)
    M = np.zeros((n, g))
    for d in range(n):
        prod = float(rnd(s * (d + 0.5), abs(s * (d + 0.5))))
        src = float(rnd(prod - 0.5, abs(prod - 0.5)))
        i0 = min(math.floor(src), g - 1)
        t = min(max(src - i0, 0.0), 1.0)
        args = [float(rnd(t + 1, t + 1)), t, float(rnd(1 - t, 1 - t)), float(rnd(2 - t, 2 - t))]
        w = [_c2(args[0]), _c1(args[1]), _c1(args[2]), _c2(args[3])]
        for j in range(4):
            M[d, min(max(i0 - 1 + j, 0), g - 1)] += w[j]
    return M


def interpolate_pos_encoding(pos, patch_size, height, width):
    """pos [1, 1 + N0, D] -> ([1, 1 + rows*cols, D], cache) (the official rule, see official.py):
    width pass then height pass."""
    n0, D = pos.shape[1] - 1, pos.shape[2]
    rows, cols = height // patch_size, width // patch_size
    if rows * cols == n0 and height == width:
        return pos, None
    g = int(round(math.sqrt(n0)))
    My = resample_matrix(g, rows, (rows + 0.1) / math.sqrt(n0))
    Mx = resample_matrix(g, cols, (cols + 0.1) / math.sqrt(n0))
    tmp = mm(Mx[None], pos[0, 1:].reshape(g, g, D))                     # [i, cols, D]
    out = mm(My, tmp.reshape(g, cols * D)).reshape(rows * cols, D)      # [rows*cols, D]
    return np.concatenate([pos[0, :1], out], 0)[None], (My, Mx, g, rows, cols, D)


def interpolate_back(gpos, cache):
    """Adjoint of the resampling: grad_grid = My^T grad Mx (per channel)."""
    My, Mx, g, rows, cols, D = cache
    t1 = mm(My.T, gpos[0, 1:].reshape(rows, cols * D)).reshape(g, cols, D)
    gg = mm(Mx.T[None], t1).reshape(g * g, D)
    return np.concatenate([gpos[0, :1], gg], 0)[None]


def pos_embed_op(pos, patch_size, height, width):
    return {"pos_embed": interpolate_pos_encoding(pos, patch_size, height, width)[0]}


# ---------------------------------------------------------------------------------------------
# The ViT (vision_transformer.py semantics, see official.py) and the DINO head
# ---------------------------------------------------------------------------------------------

def prepare_tokens(P, images, p):
    """VisionTransformer.prepare_tokens: the patch embedding tok [B, n, D] (pixels beyond a
    multiple of p dropped), then x = [cls; tok] + the (resampled) pos_embed. Returns (tok, x,
    (patch-embedding cache, resampling cache))."""
    B, C, Hpx, Wpx = images.shape
    r, c = Hpx // p, Wpx // p
    D = P["cls_token"].shape[-1]
    patches = images[:, :, :r * p, :c * p].reshape(B, C, r, p, c, p).transpose(0, 2, 4, 1, 3, 5)
    tok, c_pe = linear(patches.reshape(B, r * c, C * p * p), P["patch_embed.proj.weight"].reshape(D, -1),
                       P["patch_embed.proj.bias"])
    pos, c_pos = interpolate_pos_encoding(P["pos_embed"], p, Hpx, Wpx)
    x = add(np.concatenate([np.broadcast_to(P["cls_token"], (B, 1, D)), tok], 1), pos)
    return tok, x, (c_pe, c_pos)


def vit(P, images, cfg, grad_cls=None):
    """P: official backbone key -> float64 array; images [B, 3, H, W]. Returns {'cls' [B, D],
    'last_attn' [B, h, N, N]} and, with grad_cls, 'grad.model.<key>' and 'grad_images'."""
    p, H, depth = cfg["patch_size"], cfg["num_heads"], cfg["depth"]
    B, C, Hpx, Wpx = images.shape
    r, c = Hpx // p, Wpx // p
    D = P["cls_token"].shape[-1]
    _, x, (c_pe, c_pos) = prepare_tokens(P, images, p)
    caches = []
    for i in range(depth):
        x, attn, cache = block_fwd(x, P, i, H)     # attn of the last block: on norm1 of its input
        caches.append(cache)
    y, c_norm = layer_norm(x[:, 0], P["norm.weight"], P["norm.bias"], 1e-6)
    out = {"cls": y, "last_attn": attn}
    if grad_cls is None:
        return out
    grads = {}
    gx0, g = layer_norm_back(grad_cls, c_norm)
    grads.update({"norm." + n: t for n, t in g.items()})
    gx = np.zeros_like(x)
    gx[:, 0] = gx0
    for i in reversed(range(depth)):
        gx, g = block_back(gx, caches[i], i)
        grads.update(g)
    gpos = rsum(gx, 0, keepdims=True)
    grads["pos_embed"] = interpolate_back(gpos, c_pos) if c_pos is not None else gpos
    grads["cls_token"] = rsum(gx[:, :1], 0, keepdims=True)
    gpatch, g = linear_back(gx[:, 1:], c_pe)
    grads["patch_embed.proj.weight"] = g["weight"].reshape(P["patch_embed.proj.weight"].shape)
    grads["patch_embed.proj.bias"] = g["bias"]
    gimg = np.zeros(images.shape, gpatch.dtype)
    gimg[:, :, :r * p, :c * p] = gpatch.reshape(B, r, c, C, p, p).transpose(0, 3, 1, 4, 2, 5).reshape(B, C, r * p, c * p)
    out.update({f"grad.model.{k}": t for k, t in grads.items()})
    out["grad_images"] = gimg
    return out


def vit_trace(P, images, cfg, head_P=None, head_cfg=None):
    """Every intermediate of the backbone (and of the head on the CLS rows) under the trace names
    of the vit_trace op: patch_embed, tokens, blocks.<i>.<part>, norm (the final LayerNorm on every
    token), cls, head.mlp, head.bottleneck, head.logits."""
    H, depth = cfg["num_heads"], cfg["depth"]
    tok, x, _ = prepare_tokens(P, images, cfg["patch_size"])
    out = {"patch_embed": tok, "tokens": x}
    for i in range(depth):
        rec = {}
        x, _, _ = block_fwd(x, P, i, H, rec)
        out.update({f"blocks.{i}.{k}": v for k, v in rec.items()})
    out["norm"], _ = layer_norm(x, P["norm.weight"], P["norm.bias"], 1e-6)
    out["cls"] = out["norm"][:, 0]
    if head_P is not None:
        h = head(head_P, out["cls"], head_cfg)
        out.update({"head.mlp": h["mlp"], "head.bottleneck": h["bottleneck"], "head.logits": h["y"]})
    return out


def head(P, x, cfg, grad_y=None):
    """DINOHead forward and backward. P: head key -> float64 array; x [R, Din]. Without grad_y
    (vit_trace): the forward only, {'mlp': z, 'bottleneck': z / max(||z||, 1e-12), 'y'}."""
    nl = max(cfg["nlayers"], 1)
    names = ["mlp."] if nl == 1 else [f"mlp.{2 * i}." for i in range(nl)]
    h, caches = x, []
    for j, pre in enumerate(names):
        h, c = linear(h, P[pre + "weight"], P[pre + "bias"])
        caches.append((c, h))
        if j < len(names) - 1:
            h = gelu(h)
    z = h
    n = rsum(mul(z, z), -1, keepdims=True)
    n = rnd(np.sqrt(n), 1.5 * np.sqrt(n))                    # sqrt: 1 rounding (+ half of the sum's)
    big = n >= 1e-12
    nc = np.where(big, n, 1e-12)                              # F.normalize: x / max(||x||, 1e-12)
    u = div(z, nc)
    g_, v_ = P["last_layer.weight_g"], P["last_layer.weight_v"]
    nv = rsum(mul(v_, v_), -1, keepdims=True)
    nv = rnd(np.sqrt(nv), 1.5 * np.sqrt(nv))
    ratio = div(g_, nv)
    weff = mul(v_, ratio)                                     # torch._weight_norm: v * (g / ||v||)
    y = mm(u, T(weff))
    if grad_y is None:
        return {"mlp": z, "bottleneck": u, "y": y}
    gu = mm(grad_y, weff)
    gW = mm(T(grad_y), u)
    sdot = rsum(mul(gW, v_), -1, keepdims=True)
    # dL/dv = (g / ||v||) (G - (G . v / ||v||^2) v); dL/dg = G . v / ||v||
    grads = {"last_layer.weight_v": mul(ratio, sub(gW, mul(div(sdot, mul(nv, nv)), v_)))}
    if not cfg["norm_last_layer"]:
        grads["last_layer.weight_g"] = div(sdot, nv)
    proj = np.where(big, mul(u, rsum(mul(u, gu), -1, keepdims=True)), 0.0)   # clamp active: no norm term
    g = div(sub(gu, proj), nc)
    for j in reversed(range(len(names))):
        g, gr = linear_back(g, caches[j][0])
        grads[names[j] + "weight"], grads[names[j] + "bias"] = gr["weight"], gr["bias"]
        if j > 0:
            g = mul(g, gelu_grad(caches[j - 1][1]))
    out = {"y": y, "grad_x": g}
    out.update({f"grad.head.{k}": t for k, t in grads.items()})
    return out
