"""The golden cases (shapes, seeds, parameters, inputs) and THE tolerance rule.

Shape legend: B batch, K head output dim, R rows, D width, H heads, N tokens, Dh head width,
M/K/N matmul sizes. Sizes are awkward on purpose (1, 3, 5, 17, 45, 65: no multiples of 4).

Tolerance rule (one function, `tolerance`, used for every output of every case):

    atol = C_ABS * eps * sum_i (L_i * S_i),     rtol = C_REL * eps,

with eps = 2^-23 (float32 outputs) or 2^-52 (float64 schedules), C_ABS = 4, C_REL = 8, and one
(L_i, S_i) pair per first-order error source of a float32 implementation: L_i is the length of
the reduction (or the number of float32 roundings of an elementwise chain, or the magnitude of an
argument that is rounded before exp/erf) and S_i the magnitude of its summands, measured in float64
on the case's inputs. The per-op source lists (`tol_<op>` below) come from a forward error
analysis written next to each; nothing is tuned per case.
"""
import math

import numpy as np
import torch

EPS32 = 2.0 ** -23
EPS64 = 2.0 ** -52
C_ABS = 4.0
C_REL = 8.0

RULE = ("tolerance rule v1: atol = 4*eps*sum(L*S), rtol = 8*eps, eps = 2^-23 (2^-52 for F64), "
        "one (L, S) per error source: L = reduction length or rounding count, S = summand magnitude "
        "(reference-tests/generate/cases.py)")


def _round_up(x):
    """3 significant digits, rounded up (so the recorded value is never below the rule's)."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    e = math.floor(math.log10(abs(x))) - 2
    return float(f"{math.ceil(x / 10 ** e - 1e-9) * 10 ** e:.3g}")


def tolerance(terms, eps=EPS32):
    """THE rule. terms: list of (L, S). Returns [atol, rtol]."""
    total = sum(float(L) * float(S) for L, S in terms)
    return [_round_up(C_ABS * eps * total), _round_up(C_REL * eps)]


def tolerance_table(per_output, eps=EPS32):
    """{'out.x': terms} -> {'default': loosest, 'out.x': [atol, rtol], ...}."""
    table = {name: tolerance(terms, eps) for name, terms in per_output.items()}
    table["default"] = [max(v[0] for v in table.values()), max(v[1] for v in table.values())]
    return table


def _amax(a):
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(np.max(np.abs(a))) if a.size else 0.0


# ---------------------------------------------------------------------------------------------
# Error models, one per op (inputs as float64 numpy arrays of the float32 inputs)
# ---------------------------------------------------------------------------------------------

def tol_matmul(a, b, grad_c):
    """c = a b: a length-K sum of products of size max|a| max|b|; grad_a = grad_c b^T (length N);
    grad_b = a^T grad_c (length M)."""
    M, K = a.shape
    N = b.shape[1]
    Ma, Mb, Mg = _amax(a), _amax(b), _amax(grad_c)
    return tolerance_table({"out.c": [(K, Ma * Mb)], "out.grad_a": [(N, Mg * Mb)],
                            "out.grad_b": [(M, Ma * Mg)]})


def tol_layer_norm(x, weight, bias, grad_y, eps):
    """Per row r: mean error <= D eps max|x_r|, so xhat errs by D eps (kappa_r + max|xhat_r|) with
    kappa_r = max|x_r| rstd_r (large for offset rows); rstd errs relatively by D eps.
    y = xhat w + b; grad_bias sums R rows of dy; grad_weight sums R rows of dy xhat;
    grad_x = rstd (g - mean g - xhat mean(g xhat)), g = dy w, whose terms are bounded by
    rstd max|g| (3 + max|xhat| (2 kappa + 3 max|xhat|))."""
    R, D = x.shape
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * rstd
    kappa = np.abs(x).max(axis=1) * rstd[:, 0]
    mxh = np.abs(xhat).max(axis=1)
    Mw, Mb, Mdy = _amax(weight), _amax(bias), _amax(grad_y)
    mg = np.abs(grad_y * weight).max(axis=1)
    sy = float(np.max(kappa + mxh)) * Mw
    sx = float(np.max(rstd[:, 0] * mg * (3 + mxh * (2 * kappa + 3 * mxh))))
    return tolerance_table({
        "out.y": [(D, sy), (1, Mb)],
        "out.grad_x": [(D, sx)],
        "out.grad_weight": [(R * D, Mdy * float(np.max(kappa + mxh))), (R * R, Mdy * float(np.max(mxh)))],
        "out.grad_bias": [(R, Mdy)],
    })


def tol_gelu(x, grad_y):
    """Elementwise: y = x Phi(x) from about two roundings of size max|x| (erf evaluation
    included); grad_x = grad_y (Phi + x phi) with |Phi + x phi| <= 1.13."""
    return tolerance_table({"out.y": [(2, _amax(x))], "out.grad_x": [(2, _amax(grad_y) * 1.13)]})


def tol_softmax(logits, temperature):
    """z = logits / T is rounded (an argument error eps |z| before exp, counted twice: the entry
    and the max/normaliser); the normaliser sums K terms <= 1. probs <= 1; log_probs errs
    absolutely by the same amount."""
    K = logits.shape[-1]
    Z = _amax(logits) / temperature
    terms = [(K, 1.0), (2, Z)]
    return tolerance_table({"out.probs": terms, "out.log_probs": terms})


def tol_attention(q, k, v, grad_out, scale):
    """Logits s = scale q k^T: length-Dh sums of size Ts = scale max|q| max|k|, rounded values up
    to Z = max|s|; attention rows then err relatively by La = N + 2 Dh Ts + 2 Z.
    out = attn v (rows of attn sum to 1): (N + La) max|v|. grad_v = attn^T grad_out: columns of
    attn sum to at most C (measured), so (N + La) max|g| C. grad_s = attn (ga - rowsum(attn ga)),
    ga = g v^T of size Gb = Dh max|g| max|v|: grad_q = scale grad_s k sums N terms:
    (La + 2N + Dh) 2 scale max|k| Gb; grad_k likewise with max|q| and the column sum C."""
    B, H, N, Dh = q.shape
    Mq, Mk, Mv, Mg = _amax(q), _amax(k), _amax(v), _amax(grad_out)
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    Z = _amax(s)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    attn = e / e.sum(axis=-1, keepdims=True)
    C = float(attn.sum(axis=-2).max())
    Ts = scale * Mq * Mk
    La = N + 2 * Dh * Ts + 2 * Z
    Gb = Dh * Mg * Mv
    Lg = La + 2 * N + Dh
    return tolerance_table({
        "out.attn": [(La, 1.0)],
        "out.out": [(N + La, Mv)],
        "out.grad_v": [(N + La, Mg * C)],
        "out.grad_q": [(Lg, 2 * scale * Mk * Gb)],
        "out.grad_k": [(Lg, 2 * scale * Mq * Gb * C)],
    })


def tol_dino_loss(student, teacher, center, student_temp, teacher_temp, ncrops, center_momentum):
    """Student log-softmax of s / tau_s errs absolutely by La_s = K + 2 Zs (Zs = max|s| / tau_s);
    teacher softmax of (t - c) / tau_t errs relatively by La_t = K + 2 Zt. Each per-sample
    cross-entropy sums K terms q |log p| of total W (measured); the loss then averages
    (2 ncrops - 2) B of them. grad_student = sum of (p - q) / (n B tau_s), magnitude
    2 / (n B tau_s). The centre sums 2B raw teacher rows."""
    K = student.shape[1]
    B = teacher.shape[0] // 2
    n = 2 * ncrops - 2
    Zs = _amax(student) / student_temp
    Zt = (_amax(teacher) + _amax(center)) / teacher_temp
    las, lat = K + 2 * Zs, K + 2 * Zt
    s = student / student_temp
    logp = s - s.max(axis=1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
    t = (teacher - center) / teacher_temp
    q = np.exp(t - t.max(axis=1, keepdims=True))
    q = q / q.sum(axis=1, keepdims=True)
    W = 0.0
    for iq in range(2):
        for vv in range(ncrops):
            if vv != iq:
                W = max(W, float(np.max(np.sum(q[iq * B:(iq + 1) * B] * np.abs(logp[vv * B:(vv + 1) * B]), axis=1))))
    return tolerance_table({
        "out.loss": [(lat + K + 2 * ncrops * B, max(W, 1.0)), (las, 1.0)],
        "out.grad_student": [(las + lat, 2.0 / (n * B * student_temp))],
        "out.center": [(2 * B, max(_amax(teacher), _amax(center)))],
    })


def tol_schedule(values_scale):
    """Float64 elementwise chains of at most 8 roundings (pi i, / T, cos, 1 +, base - final, 0.5 *,
    *, final +; linspace: start + i * step) of size max(|base|, |final|, |start|)."""
    return tolerance_table({"out.values": [(8, values_scale)]}, eps=EPS64)


def tol_ema(teacher, student, momentum):
    """f32(f32(t * f32(m)) + f32(f32(1 - m) * s)): 4 roundings of size max(|t|, |s|)."""
    return tolerance_table({f"out.teacher.{k}": [(4, max(_amax(teacher[k]), _amax(student[k])))]
                            for k in teacher})


def tol_clip(grads, clip):
    """norm = sqrt(sum g^2) errs relatively by its length L = numel; the clipped gradient inherits
    that relative error through coef."""
    per = {f"out.grad.{k}": [(max(g.size, 1), _amax(g))] for k, g in grads.items()}
    norms = [float(np.sqrt(np.sum(g.astype(np.float64) ** 2))) for g in grads.values()]
    per["out.norms"] = [(max(g.size for g in grads.values()), max(norms))]
    return tolerance_table(per)


def tol_adamw(state, lr, weight_decay, beta1, beta2, eps, step):
    """Elementwise chains of about 10 roundings: param of size max|p| + the update size U
    (measured in float64); exp_avg (3 roundings) of size max(|m|, |g|); exp_avg_sq of size
    max(|v|, g^2)."""
    per = {}
    bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
    for k, st in state.items():
        p, g, m, v = (st[n].astype(np.float64) for n in ("param", "grad", "exp_avg", "exp_avg_sq"))
        m1 = beta1 * m + (1 - beta1) * g
        v1 = beta2 * v + (1 - beta2) * g * g
        U = float(np.max(np.abs(lr / bc1 * m1 / (np.sqrt(v1) / math.sqrt(bc2) + eps))))
        per[f"out.param.{k}"] = [(10, _amax(p) + U)]
        per[f"out.exp_avg.{k}"] = [(3, max(_amax(m), _amax(g)))]
        per[f"out.exp_avg_sq.{k}"] = [(3, max(_amax(v), _amax(g) ** 2))]
    return tolerance_table(per)


# ---------------------------------------------------------------------------------------------
# Inputs (torch's CPU generator, torch.manual_seed(seed) per case; float32)
# ---------------------------------------------------------------------------------------------

def _randn(*shape, std=1.0, mean=0.0):
    return (torch.randn(*shape, dtype=torch.float32) * std + mean).numpy()


def _uniform(lo, hi, *shape):
    return (torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo).numpy()


def _mixed(*shape):
    """Signed values with magnitudes 10^U(-3, 3)."""
    sign = torch.where(torch.rand(*shape) < 0.5, -1.0, 1.0)
    return (sign * torch.pow(10.0, torch.rand(*shape, dtype=torch.float64) * 6 - 3)).float().numpy()


def f32(x):
    return np.asarray(x, dtype=np.float32)


def build_matmul(c):
    M, K, N = c["shape"]
    kind = c.get("kind", "normal")
    if kind == "mixed":
        a, b, g = _mixed(M, K), _mixed(K, N), _mixed(M, N)
    else:
        a, b, g = _randn(M, K), _randn(K, N), _randn(M, N)
    if kind == "zeros":
        a = a * (_uniform(0, 1, M, K) > 0.4)
        b = b * (_uniform(0, 1, K, N) > 0.4)
        a[1, :] = 0.0     # a zero row of a -> a zero row of c
        b[:, 0] = 0.0     # a zero column of b -> a zero column of c
        g[:, 2] = 0.0
        a, b, g = f32(a + 0.0), f32(b + 0.0), f32(g + 0.0)   # +0.0: no negative zeros
    return {"a": f32(a), "b": f32(b), "grad_c": f32(g)}, {}


def build_layer_norm(c):
    R, D = c["shape"]
    kind = c.get("kind", "normal")
    x = _randn(R, D, std=2.0, mean=0.5)
    if kind == "unit":
        w, b = np.ones(D, np.float32), np.zeros(D, np.float32)
    else:  # weights at a trained scale: around 1 with spread, biases of a few tenths
        w, b = _randn(D, std=0.5, mean=1.0), _randn(D, std=0.3)
    if kind == "all_equal_row":
        x[1, :] = 1.25
    if kind == "offset":
        x = _randn(R, D, std=0.01, mean=100.0)
    g = _randn(R, D)
    return {"x": f32(x), "weight": f32(w), "bias": f32(b), "grad_y": f32(g)}, {"eps": c["eps"]}


def build_gelu(c):
    kind = c["kind"]
    if kind == "range":
        x = torch.linspace(-10, 10, 65, dtype=torch.float32).numpy() + _randn(65, std=0.05)
    elif kind == "normal":
        x = _randn(17, 45, std=4.0)
    elif kind == "edge":
        inf = np.inf
        x = np.array([1e-30, -1e-30, 0.0, -0.0, 1e-45, -1e-45, 60.0, -60.0, inf, -inf, 5.5, -5.5,
                      9.75, -9.75, 3.0, -3.0, 1e-7], dtype=np.float32)
    else:  # single
        x = np.array([-0.7], dtype=np.float32)
    return {"x": f32(x), "grad_y": _randn(*x.shape)}, {}


def build_softmax(c):
    R, K = c["shape"]
    kind = c.get("kind", "normal")
    if kind == "pm60":
        x = _uniform(-60, 60, R, K)
    elif kind == "all_equal":
        x = np.stack([np.full(K, v, np.float32) for v in (0.0, 60.0, -60.0)][:R])
    elif kind == "neg_inf":
        x = _randn(R, K, std=2.0)
        x[0, ::3] = -np.inf
        x[2, 1:] = -np.inf          # a single finite entry: probs one-hot
    else:
        x = _randn(R, K, std=c.get("std", 3.0))
    return {"logits": f32(x)}, {"temperature": c["temperature"]}


def build_attention(c):
    B, H, N, Dh = c["shape"]
    std = c.get("std", 1.0)
    q, k, v = _randn(B, H, N, Dh, std=std), _randn(B, H, N, Dh, std=std), _randn(B, H, N, Dh)
    g = _randn(B, H, N, Dh)
    scale = c.get("scale", Dh ** -0.5)
    return {"q": q, "k": k, "v": v, "grad_out": g}, {"scale": scale}


def build_dino_loss(c):
    K, ncrops, B = c["K"], c["ncrops"], c["B"]
    kind = c.get("kind", "cosine")
    if kind == "large":
        s, t = _uniform(-60, 60, ncrops * B, K), _uniform(-60, 60, 2 * B, K)
        center = _randn(1, K, std=10.0)
    else:  # head-like outputs: cosines in [-1, 1]
        s, t = _uniform(-1, 1, ncrops * B, K), _uniform(-1, 1, 2 * B, K)
        center = _uniform(-0.2, 0.2, 1, K) if kind == "cosine" else np.zeros((1, K), np.float32)
    params = {"student_temp": c.get("student_temp", 0.1), "teacher_temp": c["teacher_temp"],
              "ncrops": ncrops, "center_momentum": c.get("center_momentum", 0.9)}
    return {"student": f32(s), "teacher": f32(t), "center": f32(center)}, params


EMA_KEYS = {
    "backbone.cls_token": (1, 1, 8),
    "backbone.blocks.0.attn.qkv.weight": (24, 8),
    "backbone.blocks.0.attn.qkv.bias": (24,),
    "head.last_layer.weight_g": (17, 1),
    "head.last_layer.weight_v": (17, 5),
}


def build_ema(c):
    teacher = {k: _randn(*s) for k, s in EMA_KEYS.items()}
    student = {k: teacher[k] + _randn(*s, std=0.1) for k, s in EMA_KEYS.items()}
    teacher["head.last_layer.weight_g"][:] = 1.0   # a frozen, normalised last layer: g = 1
    student["head.last_layer.weight_g"][:] = 1.0
    ins = {f"teacher.{k}": f32(v) for k, v in teacher.items()}
    ins.update({f"student.{k}": f32(v) for k, v in student.items()})
    return ins, {"momentum": c["momentum"]}


CLIP_KEYS = {
    "backbone.blocks.0.attn.qkv.weight": (24, 8),
    "backbone.blocks.0.attn.qkv.bias": (24,),
    "backbone.cls_token": (1, 1, 8),
    "backbone.norm.weight": (8,),
    "head.last_layer.weight_v": (17, 5),
}


def build_clip(c):
    ins = {}
    for (k, shape), target in zip(CLIP_KEYS.items(), c["norms"]):
        g = _randn(*shape)
        g = g / np.sqrt(np.sum(g.astype(np.float64) ** 2)) * target
        ins[f"grad.{k}"] = f32(g)
    return ins, {"clip": c["clip"]}


ADAMW_KEYS = {   # key: (shape, decay) -- no decay for biases and 1-D params (main_dino get_params_groups)
    "backbone.cls_token": ((1, 1, 8), 1),
    "backbone.blocks.0.attn.qkv.weight": ((24, 8), 1),
    "backbone.blocks.0.attn.qkv.bias": ((24,), 0),
    "backbone.norm.weight": ((8,), 0),
    "head.last_layer.weight_v": ((17, 5), 1),
}


def build_adamw(c):
    step = c["step"]
    ins = {}
    for k, (shape, decay) in ADAMW_KEYS.items():
        p = _randn(*shape, std=0.05)
        g = _randn(*shape, std=0.01)
        if step == 1:
            m, v = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        else:   # plausible moments of a long run: m ~ recent grads, v ~ their square (>= 0)
            m = _randn(*shape, std=0.003)
            v = f32(m) ** 2 + _randn(*shape, std=1e-3) ** 2
        ins[f"param.{k}"] = f32(p)
        ins[f"grad.{k}"] = f32(g)
        ins[f"exp_avg.{k}"] = f32(m)
        ins[f"exp_avg_sq.{k}"] = f32(v)
        ins[f"decay.{k}"] = np.array([decay], np.uint8)
    params = {"lr": c["lr"], "weight_decay": c["weight_decay"], "beta1": 0.9, "beta2": 0.999,
              "eps": 1e-8, "step": step}
    return ins, params


# ---------------------------------------------------------------------------------------------
# The case list: op -> [case dict]; every case has a name, a seed and a one-line description
# ---------------------------------------------------------------------------------------------

CASES = {
    "matmul": [
        dict(name="m1_k1_n1", seed=101, shape=(1, 1, 1), desc="1x1 @ 1x1, N(0,1)"),
        dict(name="m3_k17_n5", seed=102, shape=(3, 17, 5), desc="3x17 @ 17x5, N(0,1)"),
        dict(name="m45_k65_n17", seed=103, shape=(45, 65, 17), desc="45x65 @ 65x17, N(0,1)"),
        dict(name="m17_k3_n45", seed=104, shape=(17, 3, 45), desc="17x3 @ 3x45, N(0,1)"),
        dict(name="m65_k45_n1", seed=105, shape=(65, 45, 1), desc="65x45 @ 45x1, N(0,1)"),
        dict(name="mixed_magnitudes", seed=106, shape=(17, 45, 3), kind="mixed",
             desc="17x45 @ 45x3 with signed magnitudes 1e-3 .. 1e3"),
        dict(name="exact_zeros", seed=107, shape=(5, 17, 3), kind="zeros",
             desc="5x17 @ 17x3 with exact zeros, a zero row of a and a zero column of b"),
    ],
    "layer_norm": [
        dict(name="d1", seed=201, shape=(3, 1), eps=1e-5, desc="D = 1 (y = bias, grad_x = 0), eps 1e-5"),
        dict(name="d3_eps1e-6", seed=202, shape=(5, 3), eps=1e-6, desc="5x3, trained-scale weight and bias, eps 1e-6"),
        dict(name="d17_eps1e-5", seed=203, shape=(4, 17), eps=1e-5, desc="4x17, trained-scale weight and bias, eps 1e-5"),
        dict(name="d45_eps1e-6", seed=204, shape=(3, 45), eps=1e-6, desc="3x45, trained-scale weight and bias, eps 1e-6"),
        dict(name="d65_eps1e-6", seed=205, shape=(5, 65), eps=1e-6, desc="5x65, trained-scale weight and bias, eps 1e-6"),
        dict(name="d17_unit_weight", seed=206, shape=(3, 17), eps=1e-6, kind="unit", desc="3x17, weight 1 and bias 0, eps 1e-6"),
        dict(name="all_equal_row", seed=207, shape=(3, 17), eps=1e-6, kind="all_equal_row",
             desc="3x17 whose row 1 is all 1.25 (variance 0, rstd = 1/sqrt(eps)), eps 1e-6"),
        dict(name="offset_mean100_std0.01", seed=208, shape=(4, 65), eps=1e-6, kind="offset",
             desc="4x65 with mean 100 and std 0.01 (breaks E[x^2] - E[x]^2 in float32), eps 1e-6"),
    ],
    "gelu": [
        dict(name="range_pm10", seed=301, kind="range", desc="65 values spanning [-10, 10]"),
        dict(name="normal_17x45", seed=302, kind="normal", desc="17x45 values N(0, 4^2)"),
        dict(name="edge_values", seed=303, kind="edge",
             desc="+-1e-30, +-0, +-1e-45 (denormal), +-60, +-inf (inf -> y inf, grad nan; -inf -> nan), +-5.5, +-9.75, +-3, 1e-7"),
        dict(name="single", seed=304, kind="single", desc="one value, -0.7"),
    ],
    "softmax": [
        dict(name="k1_t0.1", seed=401, shape=(3, 1), temperature=0.1, desc="K = 1 (probs 1, log_probs 0), T 0.1"),
        dict(name="k3_t1", seed=402, shape=(5, 3), temperature=1.0, desc="5x3, N(0, 3^2) logits, T 1"),
        dict(name="k17_t0.04", seed=403, shape=(4, 17), temperature=0.04, desc="4x17, N(0, 3^2) logits, T 0.04"),
        dict(name="k65_t0.1", seed=404, shape=(3, 65), temperature=0.1, desc="3x65, N(0, 3^2) logits, T 0.1"),
        dict(name="k65_t10", seed=405, shape=(3, 65), temperature=10.0, desc="3x65, N(0, 3^2) logits, T 10"),
        dict(name="k17_t0.01_pm60", seed=406, shape=(3, 17), temperature=0.01, kind="pm60",
             desc="3x17, logits U(-60, 60), T 0.01 (scaled logits up to 6000)"),
        dict(name="k65_t1_pm60", seed=407, shape=(3, 65), temperature=1.0, kind="pm60", desc="3x65, logits U(-60, 60), T 1"),
        dict(name="k17_all_equal_rows", seed=408, shape=(3, 17), temperature=0.04, kind="all_equal",
             desc="3x17 rows all 0, all 60, all -60 (uniform probs), T 0.04"),
        dict(name="k17_neg_inf", seed=409, shape=(3, 17), temperature=0.1, kind="neg_inf",
             desc="3x17 with -inf entries (row 0 every third, row 2 all but one: one-hot), T 0.1"),
    ],
    "attention": [
        dict(name="b1_h1_n1_dh1", seed=501, shape=(1, 1, 1, 1), desc="B1 H1 N1 Dh1, scale Dh^-0.5 (attn = 1)"),
        dict(name="b2_h3_n17_dh5", seed=502, shape=(2, 3, 17, 5), desc="B2 H3 N17 Dh5, scale Dh^-0.5"),
        dict(name="b1_h2_n45_dh8", seed=503, shape=(1, 2, 45, 8), desc="B1 H2 N45 Dh8, scale Dh^-0.5"),
        dict(name="b3_h1_n5_dh65", seed=504, shape=(3, 1, 5, 65), desc="B3 H1 N5 Dh65, scale Dh^-0.5"),
        dict(name="b1_h2_n17_dh3_scale1", seed=505, shape=(1, 2, 17, 3), scale=1.0, std=2.0,
             desc="B1 H2 N17 Dh3, scale 1 and N(0, 2^2) q, k (peaked attention)"),
    ],
    "dino_loss": [
        dict(name="k17_nc2_b1", seed=601, K=17, ncrops=2, B=1, teacher_temp=0.04,
             desc="K17, 2 crops, B1, cosine logits, tau_t 0.04, tau_s 0.1, centre momentum 0.9"),
        dict(name="k65_nc4_b3_tt0.07", seed=602, K=65, ncrops=4, B=3, teacher_temp=0.07,
             desc="K65, 4 crops, B3, cosine logits, tau_t 0.07, tau_s 0.1, centre momentum 0.9"),
        dict(name="k257_nc10_b3_tt0.04", seed=603, K=257, ncrops=10, B=3, teacher_temp=0.04,
             desc="K257, 10 crops (default multi-crop), B3, cosine logits, tau_t 0.04, tau_s 0.1, momentum 0.9"),
        dict(name="k65_nc10_b1_tt0.01_cm0", seed=604, K=65, ncrops=10, B=1, teacher_temp=0.01,
             center_momentum=0.0, desc="K65, 10 crops, B1, tau_t 0.01, centre momentum 0 (centre = batch mean)"),
        dict(name="k17_nc4_b3_tt1_ts1_cm1", seed=605, K=17, ncrops=4, B=3, teacher_temp=1.0,
             student_temp=1.0, center_momentum=1.0, desc="K17, 4 crops, B3, tau_t 1, tau_s 1, centre momentum 1 (centre kept)"),
        dict(name="k65_nc4_b1_large", seed=606, K=65, ncrops=4, B=1, teacher_temp=0.04, kind="large",
             desc="K65, 4 crops, B1, logits U(-60, 60) and centre N(0, 10^2), tau_t 0.04, tau_s 0.1"),
        dict(name="k17_nc2_b3_zero_center", seed=607, K=17, ncrops=2, B=3, teacher_temp=0.07, kind="zero_center",
             desc="K17, 2 crops, B3, cosine logits, zero (initial) centre, tau_t 0.07"),
    ],
    "cosine_schedule": [
        dict(name="lr_warmup", params=dict(base_value=0.002, final_value=1e-6, epochs=6, niter_per_ep=7,
                                           warmup_epochs=2, start_warmup_value=0),
             desc="lr-like: 6 epochs x 7 iterations, 2 warm-up epochs from 0 (lr[0] = 0, the peak twice)"),
        dict(name="wd", params=dict(base_value=0.04, final_value=0.4, epochs=5, niter_per_ep=9,
                                    warmup_epochs=0, start_warmup_value=0),
             desc="wd-like: 0.04 -> 0.4, 5 x 9 iterations, no warm-up"),
        dict(name="momentum", params=dict(base_value=0.996, final_value=1, epochs=10, niter_per_ep=5,
                                          warmup_epochs=0, start_warmup_value=0),
             desc="teacher-momentum-like: 0.996 -> 1, 10 x 5 iterations"),
        dict(name="warmup_all_but_one_epoch", params=dict(base_value=0.0005, final_value=1e-5, epochs=4,
                                                          niter_per_ep=5, warmup_epochs=3, start_warmup_value=1e-6),
             desc="warm-up over 3 of 4 epochs from 1e-6, then a 5-iteration cosine"),
        dict(name="one_iter_per_epoch", params=dict(base_value=0.001, final_value=0.0, epochs=17, niter_per_ep=1,
                                                    warmup_epochs=3, start_warmup_value=0),
             desc="1 iteration per epoch, 17 epochs, 3 warm-up"),
        dict(name="lr_no_warmup", params=dict(base_value=0.0005, final_value=1e-6, epochs=3, niter_per_ep=15,
                                              warmup_epochs=0, start_warmup_value=0),
             desc="lr-like with no warm-up, 3 x 15 iterations"),
    ],
    "teacher_temp_schedule": [
        dict(name="warmup0", params=dict(warmup_teacher_temp=0.04, teacher_temp=0.04, warmup_teacher_temp_epochs=0,
                                         nepochs=100), desc="code default: warm-up 0 epochs, constant 0.04 over 100"),
        dict(name="warmup1", params=dict(warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_epochs=1,
                                         nepochs=100), desc="warm-up of 1 epoch (linspace of one point is its START, 0.04)"),
        dict(name="warmup30_of_100", params=dict(warmup_teacher_temp=0.04, teacher_temp=0.07,
                                                 warmup_teacher_temp_epochs=30, nepochs=100),
             desc="paper recipe: 0.04 -> 0.07 over 30 epochs of 100"),
        dict(name="warmup_all_epochs", params=dict(warmup_teacher_temp=0.04, teacher_temp=0.07,
                                                   warmup_teacher_temp_epochs=10, nepochs=10),
             desc="warm-up over all 10 epochs (ends exactly at 0.07)"),
    ],
    "ema_update": [
        dict(name=f"m{m}", seed=800 + i, momentum=m, desc=f"momentum {m}, official key names")
        for i, m in enumerate([0.0, 0.5, 0.996, 1.0])
    ],
    "clip_gradients": [
        dict(name="clip3_both_sides", seed=901, clip=3.0, norms=[10.0, 0.5, 3.5, 0.0, 2.0],
             desc="clip 3.0, norms 10, 0.5, 3.5, 0 (zero gradient), 2 over 5 official keys"),
        dict(name="clip0.5", seed=902, clip=0.5, norms=[0.25, 7.0, 0.4999, 1e-3, 0.6],
             desc="clip 0.5, norms 0.25, 7, 0.4999, 1e-3, 0.6"),
        dict(name="clip3_at_threshold", seed=903, clip=3.0, norms=[3.0, 2.999, 3.001, 100.0, 1e-8],
             desc="clip 3.0, norms at and next to the threshold (3, 2.999, 3.001), 100, 1e-8"),
    ],
    "adamw_step": [
        dict(name="step1_lr0", seed=1001, step=1, lr=0.0, weight_decay=0.04,
             desc="the official first iteration: lr 0, wd 0.04, zero moments (moments fill, params stay)"),
        dict(name="step1_lr5e-4", seed=1002, step=1, lr=0.0005, weight_decay=0.04,
             desc="step 1, lr 5e-4, wd 0.04, zero moments"),
        dict(name="step1000", seed=1003, step=1000, lr=0.002, weight_decay=0.2,
             desc="step 1000, lr 2e-3, wd 0.2, non-zero moments"),
        dict(name="step1000_wd0", seed=1004, step=1000, lr=1e-4, weight_decay=0.0,
             desc="step 1000, lr 1e-4, wd 0, non-zero moments"),
    ],
}

BUILDERS = {"matmul": build_matmul, "layer_norm": build_layer_norm, "gelu": build_gelu,
            "softmax": build_softmax, "attention": build_attention, "dino_loss": build_dino_loss,
            "ema_update": build_ema, "clip_gradients": build_clip, "adamw_step": build_adamw}
