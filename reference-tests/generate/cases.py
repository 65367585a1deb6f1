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


# ---------------------------------------------------------------------------------------------
# Model and evaluation ops (dino-golden/1 ops interpolate_pos_encoding, vit_forward,
# vit_backward, dino_head, knn, attention_mask)
# ---------------------------------------------------------------------------------------------

def _bound_terms(e):
    """The whole-network ops: one (L, S) = (1, max_i e_i) per output, e_i the propagated error of
    element i in eps units from bounds.py (the float64 computation re-run with every rounding
    moved by its worst-case size, random signs; see its docstring). The rule is unchanged:
    atol = C_ABS * eps * max e, rtol = C_REL * eps."""
    return [(1, float(np.max(e)) if e.size else 0.0)]


def tol_interpolate_pos_encoding(e):
    """Identity (no resampling): exact. Otherwise each output is sum_ij wy_i wx_j P_ij over 4 x 4
    taps: float32 weights err through the source coordinate (f32(1/sf), the product with
    d + 0.5 and the subtraction of 0.5, times |w'(t)|) and their Horner evaluation; the two
    accumulation passes add sum |w||P| each (bounds.resample_matrix, bounds.mm)."""
    return tolerance_table({"out.pos_embed": _bound_terms(e["pos_embed"])})


def tol_whole_network(e, names):
    """vit_forward / vit_backward / dino_head: error sources = every float32 rounding of the
    network: patch-embedding matmul, pos-embed resampling, LayerNorm moments and rsqrt, qkv,
    q k^T and its scale, softmax shift/exp/normaliser, attn v, proj, residual adds, fc1, GELU (erf),
    fc2, final norm; head: Linears, GELU, the L2 norm and its clamp, the weight-norm row norms;
    for the gradients every matmul, sum and product of the backward, which also inherits the
    forward's errors. Each propagated to the outputs by bounds.error_bounds."""
    return tolerance_table({f"out.{n}": _bound_terms(e[n]) for n in names})


def tol_knn():
    """predictions are integers (exact; the cases keep a margin so that float32 similarities cannot
    change the top-k set or the class order). top1/top5 = 100 * count / Nte: 3 roundings of size
    <= 100 (the float32-or-better evaluation of a ratio); one sample moves them by 100 / Nte."""
    t = tolerance_table({"out.top1": [(3, 100.0)], "out.top5": [(3, 100.0)]})
    t["out.predictions"] = [0.0, 0.0]
    return t


def tol_attention_mask():
    """A boolean mask: exact (the cases keep |cumsum - (1 - threshold)| >= 1e-4, far above the
    float32 error of a length-N cumulative sum of a row that sums to 1)."""
    return {"out.mask": [0.0, 0.0], "default": [0.0, 0.0]}


def build_interpolate_pos_encoding(c):
    g, D, p = c["g"], c["dim"], c["patch_size"]
    pos = _randn(1, 1 + g * g, D)
    return {"pos_embed": f32(pos)}, {"patch_size": p, "height": c["height"], "width": c["width"]}


VIT_CONFIGS = {   # name: (patch_size, embed_dim, depth, num_heads, mlp_ratio, pos_embed image size)
    "A": dict(patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_ratio=4.0, img_size=32),
    "B": dict(patch_size=4, embed_dim=24, depth=3, num_heads=3, mlp_ratio=2.0, img_size=16),
}


def vit_params(cfg):
    """Backbone weights at a TRAINED scale (official key names, creation order): Linear weights
    N(0, 0.15^2) and biases U(-0.1, 0.1); LayerNorm weights U(0.8, 1.2) and biases U(-0.1, 0.1);
    patch conv weight N(0, (1.5 / sqrt(3 p^2))^2) (tokens of size ~1.5) and bias U(-0.1, 0.1).
    cls_token and pos_embed stay at the init scale N(0, 0.02^2): the CLS token then enters block
    0's norm1 with variance ~1e-3, where LayerNorm eps 1e-6 vs 1e-5 changes it by ~0.5 %."""
    p, D, depth, mr = cfg["patch_size"], cfg["embed_dim"], cfg["depth"], cfg["mlp_ratio"]
    hidden = int(D * mr)
    n0 = (cfg["img_size"] // p) ** 2
    P = {"cls_token": _randn(1, 1, D, std=0.02), "pos_embed": _randn(1, 1 + n0, D, std=0.02),
         "patch_embed.proj.weight": _randn(D, 3, p, p, std=1.5 / math.sqrt(3 * p * p)),
         "patch_embed.proj.bias": _uniform(-0.1, 0.1, D)}

    def ln(name):
        P[name + ".weight"] = _uniform(0.8, 1.2, D)
        P[name + ".bias"] = _uniform(-0.1, 0.1, D)

    def lin(name, dout, din):
        # "linear_gain" (the ViT-S/16 widths of vit_trace): std gain / sqrt(din), the same
        # activation scale as 0.15 gives at widths 24-32
        P[name + ".weight"] = _randn(dout, din, std=cfg["linear_gain"] / math.sqrt(din) if "linear_gain" in cfg else 0.15)
        P[name + ".bias"] = _uniform(-0.1, 0.1, dout)

    for i in range(depth):
        b = f"blocks.{i}."
        ln(b + "norm1")
        lin(b + "attn.qkv", 3 * D, D)
        lin(b + "attn.proj", D, D)
        ln(b + "norm2")
        lin(b + "mlp.fc1", hidden, D)
        lin(b + "mlp.fc2", D, hidden)
    ln("norm")
    return {k: f32(v) for k, v in P.items()}


def _vit_params_json(cfg):
    return {"patch_size": cfg["patch_size"], "embed_dim": cfg["embed_dim"], "depth": cfg["depth"],
            "num_heads": cfg["num_heads"], "mlp_ratio": cfg["mlp_ratio"], "qkv_bias": True}


def build_vit_forward(c):
    cfg = VIT_CONFIGS[c["model"]]
    P = vit_params(cfg)
    ins = {f"model.{k}": v for k, v in P.items()}
    ins["images"] = _randn(c["batch"], 3, c["height"], c["width"])
    return ins, _vit_params_json(cfg)


def build_vit_backward(c):
    ins, params = build_vit_forward(c)
    ins["grad_cls"] = _randn(c["batch"], VIT_CONFIGS[c["model"]]["embed_dim"])
    return ins, params


HEAD_DIMS = dict(in_dim=24, hidden_dim=33, bottleneck_dim=17, out_dim=65, rows=5)


def head_params(d, nl, norm_last_layer):
    """Trained-scale head weights for dims d (in_dim, hidden_dim, bottleneck_dim, out_dim):
    Linear weights N(0, 0.15^2), biases U(-0.1, 0.1); weight_v N(0, 0.1^2); weight_g all 1
    (norm_last_layer) or U(0.5, 1.5)."""
    P = {}
    dims = [d["in_dim"]] + [d["hidden_dim"]] * (nl - 1) + [d["bottleneck_dim"]]
    for j in range(nl):
        pre = "mlp." if nl == 1 else f"mlp.{2 * j}."
        P[pre + "weight"] = _randn(dims[j + 1], dims[j], std=0.15)
        P[pre + "bias"] = _uniform(-0.1, 0.1, dims[j + 1])
    P["last_layer.weight_g"] = (np.ones((d["out_dim"], 1), np.float32) if norm_last_layer
                                else _uniform(0.5, 1.5, d["out_dim"], 1))
    P["last_layer.weight_v"] = _randn(d["out_dim"], d["bottleneck_dim"], std=0.1)
    return P


def build_dino_head(c):
    """head_params at HEAD_DIMS; x ~ N(0, 1), grad_y ~ N(0, 1)."""
    d = HEAD_DIMS
    nl = c["nlayers"]
    P = head_params(d, nl, c["norm_last_layer"])
    x = _randn(d["rows"], d["in_dim"])
    gy = _randn(d["rows"], d["out_dim"])
    if c.get("tiny_row"):
        # mlp = one Linear without bias: row 2 of x of size 1e-15 gives a bottleneck vector of norm
        # ~1e-15 < 1e-12, so F.normalize divides by the clamp 1e-12 (forward outputs ~1e-3 and a
        # 1e12 backward factor, which its 1e-12-scaled grad_y row brings back to ~0.1)
        P["mlp.bias"] = np.zeros_like(P["mlp.bias"])
        x[2] = f32(x[2] * 1e-15)
        gy[2] = f32(gy[2] * 1e-12)
    ins = {f"head.{k}": f32(v) for k, v in P.items()}
    ins.update({"x": f32(x), "grad_y": f32(gy)})
    params = {"out_dim": d["out_dim"], "hidden_dim": d["hidden_dim"], "bottleneck_dim": d["bottleneck_dim"],
              "nlayers": nl, "norm_last_layer": bool(c["norm_last_layer"])}
    return ins, params


def _knn_scores(train, train_y, test, k, T, C):
    """float64 class scores as eval_knn.py (features normalised here), plus the top-k similarity
    gap."""
    tr = train / np.linalg.norm(train, axis=1, keepdims=True)
    te = test / np.linalg.norm(test, axis=1, keepdims=True)
    sim = te @ tr.T
    order = np.argsort(-sim, axis=1)
    s_sorted = np.take_along_axis(sim, order, 1)
    gap = s_sorted[:, k - 1] - (s_sorted[:, k] if sim.shape[1] > k else -np.inf)
    scores = np.zeros((test.shape[0], C))
    for r in range(test.shape[0]):
        for j in order[r, :k]:
            scores[r, train_y[j]] += math.exp(sim[r, j] / T)
    return scores, gap


def _knn_row_ok(scores, label, gap, k, C):
    """The row's outputs are decided with a margin: top-k set (similarity gap >= 1e-4), the best
    class (relative score gap >= 2e-3), and the label's membership in the first min(5, k, C)."""
    if gap < 1e-4:
        return False
    s = np.sort(scores)[::-1]
    if len(s) > 1 and s[1] > 0 and s[0] - s[1] < 2e-3 * s[0]:
        return False
    m = min(5, k, C)
    if m < C:
        if s[m - 1] == 0:                     # fewer positive classes than m: zero-score ties
            return scores[label] > 0
        if s[m] > 0 and s[m - 1] - s[m] < 2e-3 * s[m - 1]:
            return False
    return True


def build_knn(c):
    """Class prototypes N(0, 1) in D dims; train and test rows = prototype of their label + N(0,
    sigma^2) noise (test labels flipped to a random class with probability 0.2). A test row whose
    outcome is not decided with a margin (_knn_row_ok) is redrawn."""
    Ntr, Nte, D, C, k, T = c["ntrain"], c["ntest"], c["dim"], c["num_classes"], c["k"], c["temperature"]
    sigma = c.get("sigma", 0.8)
    protos = _randn(C, D)
    ytr = torch.randint(0, C, (Ntr,)).numpy().astype(np.int64)
    train = f32(protos[ytr] + _randn(Ntr, D, std=sigma))
    test = np.zeros((Nte, D), np.float32)
    yte = np.zeros(Nte, np.int64)
    for r in range(Nte):
        for _ in range(1000):
            y = int(torch.randint(0, C, (1,)))
            src = y if float(torch.rand(1)) >= 0.2 else int(torch.randint(0, C, (1,)))
            row = f32(protos[src] + _randn(D, std=sigma))
            sc, gap = _knn_scores(train.astype(np.float64), ytr, row[None].astype(np.float64), k, T, C)
            if _knn_row_ok(sc[0], y, gap[0], k, C):
                break
        else:
            raise RuntimeError("could not draw a decided k-NN test row")
        test[r], yte[r] = row, y
    return ({"train_features": train, "train_labels": ytr, "test_features": test, "test_labels": yte},
            {"k": k, "temperature": T, "num_classes": C})


def build_attention_mask(c):
    """CLS rows of a softmax over 1 + N keys (logits N(0, s^2)), the CLS column dropped (rows sum
    to < 1). A head whose cumulative mass comes within 1e-4 of 1 - threshold, or that holds two
    equal values, is redrawn."""
    H, N, t = c["heads"], c["tokens"], c["threshold"]
    rows = []
    for _ in range(H):
        for _ in range(1000):
            z = _randn(1 + N, std=c.get("logit_std", 2.0)).astype(np.float64)
            a = np.exp(z - z.max())
            row = f32((a / a.sum())[1:])
            srt = np.sort(row.astype(np.float64))
            cum = np.cumsum(srt / srt.sum())
            if np.min(np.abs(cum - (1 - t))) >= 1e-4 and len(np.unique(row)) == N:
                break
        else:
            raise RuntimeError("could not draw an attention row with a margin")
        rows.append(row)
    return {"attn": np.stack(rows)}, {"threshold": t}


CASES.update({
    "interpolate_pos_encoding": [
        dict(name="g4_p8_32x32_identity", seed=1101, g=4, dim=8, patch_size=8, height=32, width=32,
             desc="4x4 grid, 32x32 px, patch 8: npatch == N0 and square, returned unchanged"),
        dict(name="g4_p8_32x39_same_grid_nonsquare", seed=1102, g=4, dim=8, patch_size=8, height=32, width=39,
             desc="4x4 grid, 32x39 px, patch 8: the same 4x4 grid but height != width, so it IS resampled (4.1/4 per axis)"),
        dict(name="g14_p16_96x96_down6", seed=1103, g=14, dim=6, patch_size=16, height=96, width=96,
             desc="14x14 grid to 6x6 (a 96 px local crop, patch 16): scale 14/6.1"),
        dict(name="g4_p8_56x56_up7", seed=1104, g=4, dim=8, patch_size=8, height=56, width=56,
             desc="4x4 grid up to 7x7 (56 px, patch 8)"),
        dict(name="g4_p8_24x40", seed=1105, g=4, dim=8, patch_size=8, height=24, width=40,
             desc="4x4 grid to 3x5 (24x40 px, patch 8)"),
        dict(name="g4_p8_40x24", seed=1106, g=4, dim=8, patch_size=8, height=40, width=24,
             desc="4x4 grid to 5x3 (40x24 px, patch 8)"),
        dict(name="g14_p8_24x40", seed=1107, g=14, dim=6, patch_size=8, height=24, width=40,
             desc="14x14 grid to 3x5 (24x40 px, patch 8)"),
        dict(name="g14_p8_40x24", seed=1108, g=14, dim=6, patch_size=8, height=40, width=24,
             desc="14x14 grid to 5x3 (40x24 px, patch 8)"),
        dict(name="g14_p16_320x256_up", seed=1109, g=14, dim=6, patch_size=16, height=320, width=256,
             desc="14x14 grid up to 20x16 (320x256 px, patch 16)"),
        dict(name="g4_p8_30x45_not_multiple", seed=1110, g=4, dim=8, patch_size=8, height=30, width=45,
             desc="4x4 grid to 3x5 from 30x45 px (sizes not multiples of the patch: floor)"),
        dict(name="g14_p16_224x224_identity", seed=1111, g=14, dim=6, patch_size=16, height=224, width=224,
             desc="14x14 grid, 224x224 px, patch 16: returned unchanged"),
    ],
    "vit_forward": [
        dict(name="p8_d32_32x32_b3_native", seed=1201, model="A", batch=3, height=32, width=32,
             desc="patch 8, D 32, depth 2, 2 heads, mlp 4; pos_embed for 32 px; 32x32 images (no resampling), batch 3"),
        dict(name="p8_d32_24x40_b1", seed=1202, model="A", batch=1, height=24, width=40,
             desc="patch 8, D 32, depth 2, 2 heads; 24x40 images (pos_embed 4x4 -> 3x5), batch 1"),
        dict(name="p8_d32_40x24_b2", seed=1203, model="A", batch=2, height=40, width=24,
             desc="patch 8, D 32, depth 2, 2 heads; 40x24 images (pos_embed 4x4 -> 5x3), batch 2"),
        dict(name="p8_d32_32x39_b1_same_grid", seed=1204, model="A", batch=1, height=32, width=39,
             desc="patch 8, D 32; 32x39 images: the native 4x4 grid but non-square, so resampled; the last 7 columns of pixels are dropped"),
        dict(name="p8_d32_48x48_b1_up", seed=1205, model="A", batch=1, height=48, width=48,
             desc="patch 8, D 32; 48x48 images (pos_embed 4x4 -> 6x6)"),
        dict(name="p4_d24_16x16_b3_native", seed=1206, model="B", batch=3, height=16, width=16,
             desc="patch 4, D 24, depth 3, 3 heads (Dh 8), mlp 2; pos_embed for 16 px; 16x16 images (no resampling), batch 3"),
        dict(name="p4_d24_22x22_b1_not_multiple", seed=1207, model="B", batch=1, height=22, width=22,
             desc="patch 4, D 24, depth 3, 3 heads; 22x22 images: 5x5 patches (2 px dropped per side), pos_embed 4x4 -> 5x5"),
        dict(name="p4_d24_12x20_b2", seed=1208, model="B", batch=2, height=12, width=20,
             desc="patch 4, D 24, depth 3, 3 heads; 12x20 images (pos_embed 4x4 -> 3x5), batch 2"),
    ],
    "vit_backward": [
        dict(name="p8_d32_24x40_b2", seed=1301, model="A", batch=2, height=24, width=40,
             desc="patch 8, D 32, depth 2, 2 heads; 24x40 images (pos_embed resampled 4x4 -> 3x5), batch 2; d cls / d every parameter and the images"),
        dict(name="p4_d24_16x16_b2_native", seed=1302, model="B", batch=2, height=16, width=16,
             desc="patch 4, D 24, depth 3, 3 heads; 16x16 images (no resampling), batch 2"),
        dict(name="p4_d24_22x18_b1_not_multiple", seed=1303, model="B", batch=1, height=22, width=18,
             desc="patch 4, D 24, depth 3, 3 heads; 22x18 images (5x4 patches; pixels beyond get grad 0), batch 1"),
    ],
    "dino_head": [
        dict(name="nl3_norm_last_layer", seed=1401, nlayers=3, norm_last_layer=True,
             desc="nlayers 3, norm_last_layer true (g = 1, not trained), Din 24, hidden 33, bottleneck 17, K 65, 5 rows"),
        dict(name="nl3_free_g", seed=1402, nlayers=3, norm_last_layer=False,
             desc="nlayers 3, norm_last_layer false, g ~ U(0.5, 1.5) (weight_g trained)"),
        dict(name="nl2_free_g", seed=1403, nlayers=2, norm_last_layer=False,
             desc="nlayers 2, norm_last_layer false, g ~ U(0.5, 1.5)"),
        dict(name="nl2_norm_last_layer", seed=1404, nlayers=2, norm_last_layer=True,
             desc="nlayers 2, norm_last_layer true"),
        dict(name="nl1_tiny_bottleneck_row", seed=1405, nlayers=1, norm_last_layer=True, tiny_row=True,
             desc="nlayers 1 (mlp = one Linear, keys mlp.weight/mlp.bias, bias 0), row 2 of x ~1e-15 so its bottleneck norm < 1e-12 (the normalize clamp is active), its grad_y row scaled by 1e-12"),
    ],
    "knn": [
        dict(name="ntr200_nte50_k20_c10", seed=1501, ntrain=200, ntest=50, dim=16, num_classes=10, k=20, temperature=0.07,
             desc="200 train / 50 test (below the official 100-chunk minimum), D 16, 10 classes, k 20, T 0.07"),
        dict(name="ntr300_nte130_k5_c10", seed=1502, ntrain=300, ntest=130, dim=16, num_classes=10, k=5, temperature=0.07,
             desc="300 train / 130 test, D 16, 10 classes, k 5, T 0.07"),
        dict(name="ntr120_nte40_k1_c3", seed=1503, ntrain=120, ntest=40, dim=12, num_classes=3, k=1, temperature=0.07,
             desc="120 train / 40 test, D 12, 3 classes, k 1 (top5 = top1: the first min(5, k) classes)"),
        dict(name="ntr150_nte250_k3_c10", seed=1504, ntrain=150, ntest=250, dim=16, num_classes=10, k=3, temperature=0.1,
             desc="150 train / 250 test, D 16, 10 classes, k 3 (top5 counts the first 3 classes), T 0.1"),
        dict(name="ntr90_nte30_k20_c3", seed=1505, ntrain=90, ntest=30, dim=12, num_classes=3, k=20, temperature=0.07,
             desc="90 train / 30 test, 3 classes, k 20: top5 over min(5, k, num_classes) = 3 classes (100 %)"),
    ],
    "attention_mask": [
        dict(name="h3_n16_t0.6", seed=1601, heads=3, tokens=16, threshold=0.6, desc="3 heads x 16 patches, threshold 0.6 (paper)"),
        dict(name="h6_n49_t0.9", seed=1602, heads=6, tokens=49, threshold=0.9, desc="6 heads x 49 patches, threshold 0.9"),
        dict(name="h2_n25_t0.1", seed=1603, heads=2, tokens=25, threshold=0.1, logit_std=3.0,
             desc="2 heads x 25 patches, peaked rows (logits N(0, 9)), threshold 0.1"),
    ],
})

VIT_CONFIGS.update({
    # the real ViT-S/16 widths (vision_transformer.py vit_small) with one block: a case file of ~16 MB
    "S16": dict(patch_size=16, embed_dim=384, depth=1, num_heads=6, mlp_ratio=4.0, img_size=224, linear_gain=0.85),
    "T": dict(patch_size=4, embed_dim=16, depth=1, num_heads=2, mlp_ratio=2.0, img_size=16),
})


def build_vit_trace(c):
    """Backbone weights as vit_forward (vit_params), in.x ~ N(0, 1) (already normalised images);
    with c["head"] (hidden, bottleneck, K, nlayers) a head_params head on the CLS output."""
    cfg = VIT_CONFIGS[c["model"]]
    P = vit_params(cfg)
    ins = {f"model.{k}": v for k, v in P.items()}
    params = _vit_params_json(cfg)
    if "head" in c:
        hidden, bottleneck, K, nl = c["head"]
        d = dict(in_dim=cfg["embed_dim"], hidden_dim=hidden, bottleneck_dim=bottleneck, out_dim=K)
        ins.update({f"head.{k}": f32(v) for k, v in head_params(d, nl, True).items()})
        params.update({"out_dim": K, "hidden_dim": hidden, "bottleneck_dim": bottleneck, "nlayers": nl,
                       "norm_last_layer": True})
    ins["x"] = _randn(c["batch"], 3, c["height"], c["width"])
    return ins, params


CASES["vit_trace"] = [
    dict(name="p4_d24_depth3_12x20_b2", seed=1701, model="B", batch=2, height=12, width=20,
         desc="every intermediate: patch 4, D 24, depth 3, 3 heads, mlp 2; 12x20 images (pos_embed 4x4 -> 3x5), batch 2"),
    dict(name="p8_d32_32x32_b2_head", seed=1702, model="A", batch=2, height=32, width=32, head=(33, 17, 65, 3),
         desc="every intermediate with a head: patch 8, D 32, depth 2, 2 heads; 32x32 images (native), batch 2; "
              "head nlayers 3, hidden 33, bottleneck 17, K 65, norm_last_layer"),
    dict(name="vits16_depth1_112_b1", seed=1703, model="S16", batch=1, height=112, width=112,
         desc="the ViT-S/16 widths: patch 16, D 384, 6 heads (Dh 64), mlp 4, the 224-px position embedding "
              "(14x14) resampled for a 112x112 image (7x7 patches + CLS); one block and half the side keep the "
              "file near 10 MB (16 MB at 224 px), batch 1; Linear weights N(0, (0.85/sqrt(fan_in))^2)"),
    dict(name="p4_d16_16x16_b2_head_k65536", seed=1704, model="T", batch=2, height=16, width=16,
         head=(32, 8, 65536, 2),
         desc="a head of K = 65,536 outputs (the official out_dim): tiny backbone (patch 4, D 16, depth 1, 2 heads), "
              "head nlayers 2, hidden 32, bottleneck 8, norm_last_layer; 16x16 images, batch 2"),
]
BUILDERS["vit_trace"] = build_vit_trace


BUILDERS.update({"interpolate_pos_encoding": build_interpolate_pos_encoding, "vit_forward": build_vit_forward,
                 "vit_backward": build_vit_backward, "dino_head": build_dino_head, "knn": build_knn,
                 "attention_mask": build_attention_mask})


# ---------------------------------------------------------------------------------------------
# dino_train_steps: S training iterations of a tiny student/teacher pair
# ---------------------------------------------------------------------------------------------

TRAIN_SAFETY = 4.0   # the measured float32 drift is multiplied by this (and then by C_ABS)


def tol_train_steps(ref, others):
    """A multi-step float32 training run has no useful a-priori bound (AdamW divides by sqrt(v),
    so a first-order analysis through 3 steps is as loose as the ViT's worst case), so its one
    error source is MEASURED, as in bounds.py, but on whole runs: the drift of the stored float32
    run `ref` from `others`, the same run (a) in float64 and (b) in float32 with the batch rows of
    every crop permuted (mathematically the same run; every batch reduction — weight gradients,
    loss means, the centre sum — is summed in another order). Per output:

        atol = C_ABS * eps * (TRAIN_SAFETY * drift / eps + 10 * max|out|),   rtol = C_REL * eps

    drift = max over (a), (b) of max |other - ref|; the second term is the rule's floor for a
    chain of ~10 elementwise float32 roundings (AdamW + EMA) of the value's magnitude, which keeps
    outputs that did not move (weight_g = 1, zero drift) from getting atol 0. So atol is 16 times
    the observed drift (plus the floor). The key third of every attn.qkv.bias has a mathematically
    zero gradient (softmax ignores a per-row constant): its float32 gradient is rounding noise that
    AdamW normalises to ~lr per step, so qkv.bias (student and teacher) gets an atol of the order of
    lr; every other output's drift is ~1e-7 or less."""
    table = {}
    for name, v in ref.items():
        v = np.asarray(v, np.float64)
        drift = max(float(np.max(np.abs(np.asarray(o[name], np.float64) - v))) for o in others)
        table[f"out.{name}"] = tolerance([(TRAIN_SAFETY / EPS32, drift), (10, _amax(v))])
    table["default"] = [max(x[0] for x in table.values()), max(x[1] for x in table.values())]
    return table


TRAIN_ARCH = dict(patch_size=4, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0, qkv_bias=True, img_size=16)


def train_head_params(cfg, nlayers, hidden, bottleneck, K, norm_last_layer):
    """Head weights at a trained scale (as build_dino_head): Linear weights N(0, 0.15^2), biases
    U(-0.1, 0.1), weight_v N(0, 0.1^2), weight_g 1 (norm_last_layer) or U(0.5, 1.5)."""
    P = {}
    dims = [cfg["embed_dim"]] + [hidden] * (nlayers - 1) + [bottleneck]
    for j in range(nlayers):
        pre = "mlp." if nlayers == 1 else f"mlp.{2 * j}."
        P[pre + "weight"] = _randn(dims[j + 1], dims[j], std=0.15)
        P[pre + "bias"] = _uniform(-0.1, 0.1, dims[j + 1])
    P["last_layer.weight_g"] = (np.ones((K, 1), np.float32) if norm_last_layer else _uniform(0.5, 1.5, K, 1))
    P["last_layer.weight_v"] = _randn(K, bottleneck, std=0.1)
    return P


def build_dino_train_steps(c):
    """Student: backbone (vit_params: trained scale) + head (train_head_params), official keys
    under backbone./head.; teacher: the student moved by N(0, 0.05^2) per weight (N(0, 0.005^2)
    for cls_token/pos_embed; weight_g stays 1 when normalised, else U(0.5, 1.5) again): a
    DIFFERENT set of weights, so that the EMA shows. Centre U(-0.2, 0.2). Crops N(0, 1): 2 global
    (c["global_px"]) and c["local"] local (c["local_px"]) per step, batch B."""
    cfg = dict(TRAIN_ARCH)
    K, B, S = c["K"], c["B"], len(c["lr"])
    nll = c["norm_last_layer"]
    student = {f"backbone.{k}": v for k, v in vit_params(cfg).items()}
    student.update({f"head.{k}": v for k, v in train_head_params(cfg, 3, 32, 8, K, nll).items()})
    teacher = {}
    for k, v in student.items():
        if k == "head.last_layer.weight_g":
            teacher[k] = v.copy() if nll else _uniform(0.5, 1.5, *v.shape)
        else:
            small = k in ("backbone.cls_token", "backbone.pos_embed")
            teacher[k] = f32(v + _randn(*v.shape, std=0.005 if small else 0.05))
    ins = {f"student.{k}": f32(v) for k, v in student.items()}
    ins.update({f"teacher.{k}": f32(v) for k, v in teacher.items()})
    ins["center"] = _uniform(-0.2, 0.2, 1, K)
    for s in range(S):
        for i in range(2 + c["local"]):
            px = c["global_px"] if i < 2 else c["local_px"]
            ins[f"step{s}.crop{i}"] = _randn(B, 3, px, px)
    for name in ("lr", "wd", "momentum", "teacher_temp"):
        ins[name] = np.array(c[name], np.float64)
    params = {k: cfg[k] for k in ("patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias")}
    params.update({"out_dim": K, "hidden_dim": 32, "bottleneck_dim": 8, "nlayers": 3, "norm_last_layer": nll,
                   "student_temp": 0.1, "center_momentum": 0.9, "clip_grad": c["clip_grad"],
                   "freeze_last_layer": c["freeze"], "beta1": 0.9, "beta2": 0.999, "eps": c.get("eps", 1e-8)})
    return ins, params


_SCHED = dict(lr=[1e-3, 2e-3, 1.5e-3], wd=[0.04, 0.2, 0.4], momentum=[0.9, 0.95, 0.99],
              teacher_temp=[0.04, 0.05, 0.07])

CASES["dino_train_steps"] = [
    dict(name="nll_frozen_clip", seed=1701, K=33, B=2, global_px=16, local_px=8, local=2, norm_last_layer=True,
         freeze=True, clip_grad=3.0, **_SCHED,
         desc="3 steps, patch 4, D 16, depth 2, 2 heads, mlp 2, head 32/8/K 33 (nlayers 3), B 2, 2 x 16 px + 2 x 8 px crops; "
              "norm_last_layer true, last layer frozen, clip 0.3 (clips some tensors)"),
    dict(name="nll_unfrozen_clip", seed=1702, K=33, B=2, global_px=16, local_px=8, local=2, norm_last_layer=True,
         freeze=False, clip_grad=3.0, **_SCHED,
         desc="as nll_frozen_clip but the last layer trained"),
    dict(name="free_g_unfrozen_noclip", seed=1703, K=17, B=3, global_px=16, local_px=8, local=2, norm_last_layer=False,
         freeze=False, clip_grad=0.0, **_SCHED,
         desc="norm_last_layer false (weight_g trained and decayed), last layer trained, clip 0 (off), K 17, B 3"),
    dict(name="free_g_frozen_noclip_lr0", seed=1704, K=17, B=2, global_px=16, local_px=8, local=2, norm_last_layer=False,
         freeze=True, clip_grad=0.0, lr=[0.0, 2e-3, 1e-3], wd=[0.1, 0.3, 0.5], momentum=[0.99, 0.9, 0.96],
         teacher_temp=[0.06, 0.04, 0.05],
         desc="norm_last_layer false, last layer frozen (weight_g and weight_v untouched), clip 0, lr 0 at step 0 "
              "(the warm-up start: moments filled, nothing moves), K 17"),
]
BUILDERS["dino_train_steps"] = build_dino_train_steps


# ---------------------------------------------------------------------------------------------
# The paper's other applications: retrieval_map, copy_detection, label_propagation
# ---------------------------------------------------------------------------------------------

def tol_ranked_ap(nq, nres_max):
    """AP and mAP come from integer positions (the margins below keep the positions exact): each AP
    is a sum of nres trapezoids of size <= 1/nres, so a float32-or-better evaluation errs by
    (nres + 2) roundings of size <= 1; a mean over nq queries adds nq more; mP@k is a count over k."""
    return [(nres_max + 2, 1.0)], [(nq + nres_max + 2, 1.0)]


def tol_retrieval_map(nq, nres_max):
    ap, m = tol_ranked_ap(nq, nres_max)
    return tolerance_table({"out.map_medium": m, "out.map_hard": m, "out.ap_medium": ap, "out.ap_hard": ap,
                            "out.mp_medium": [(nq + 12, 1.0)], "out.mp_hard": [(nq + 12, 1.0)]})


def tol_copy_detection(nq, nres_max):
    """indices are integers (exact: the builder keeps a cosine margin of COPY_MARGIN between the
    top k+1 whitened similarities); ap and map as tol_ranked_ap."""
    ap, m = tol_ranked_ap(nq, nres_max)
    t = tolerance_table({"out.ap": ap, "out.map": m})
    t["out.indices"] = [0.0, 0.0]
    return t


def tol_label_propagation(D, T, kept, lmax):
    """seg = sum a l / sum a over the kept affinities a = exp(s / T): the cosine s of two normalised
    D-vectors errs by ~(D + 4) eps (dot product and the two norms), which exp(s / T) turns into a
    relative error (D + 4) eps / T of each weight, plus the rounding of s / T (|s / T| <= 1 / T);
    a relative error delta of the weights moves seg by <= 2 delta max|l|; the two sums over <= kept
    terms and the division add (2 kept + 2) roundings of size max|l|."""
    return tolerance_table({"out.seg": [(2 * (D + 4) / T + 2 / T, lmax), (2 * kept + 2, lmax)]})


APP_MARGIN = 1e-3   # similarity gaps (cosine) / relative affinity gaps the builders keep


def _rank_margin_ok(sim_row, codes):
    """Adjacent items (by decreasing similarity) whose relevance codes differ are >= APP_MARGIN
    apart, so that float32 cannot swap two items whose order changes an AP."""
    order = np.argsort(-sim_row)
    s, c = sim_row[order], np.asarray(codes)[order]
    return all(s[i] - s[i + 1] >= APP_MARGIN for i in range(len(s) - 1) if c[i] != c[i + 1])


def build_retrieval_map(c):
    """Instances: P prototypes N(0, 1) in D dims. Query q shows instance q (prototype + N(0, 0.3^2));
    database rows are renderings of instances: easy = prototype + N(0, 0.6^2), hard + N(0, 1.1^2),
    junk + N(0, 1.6^2), negatives = other prototypes + N(0, 0.8^2); relevance per c["grades"][q] =
    (easy, hard, junk) counts. The database is shuffled. A case is redrawn until every query's
    ranking keeps APP_MARGIN between adjacent items of different relevance."""
    D, neg = c["dim"], c["negatives"]
    grades = c["grades"]
    Q = len(grades)
    for _ in range(1000):
        protos = _randn(Q + c["other_instances"], D)
        rows, codes_of = [], []
        for q, (e, h, j) in enumerate(grades):
            for code, count, std in ((1, e, 0.6), (2, h, 1.1), (3, j, 1.6)):
                for _k in range(count):
                    rows.append(protos[q] + _randn(D, std=std))
                    codes_of.append((q, code))
        for k in range(neg):
            rows.append(protos[Q + k % c["other_instances"]] + _randn(D, std=0.8))
            codes_of.append((-1, 0))
        perm = torch.randperm(len(rows)).numpy()
        database = f32(np.stack([rows[i] for i in perm]))
        relevance = np.zeros((Q, len(rows)), np.uint8)
        for pos, i in enumerate(perm):
            q, code = codes_of[i]
            if q >= 0:
                relevance[q, pos] = code
        queries = f32(protos[:Q] + _randn(Q, D, std=0.3))
        qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        dn = database / np.linalg.norm(database, axis=1, keepdims=True)
        sim = qn.astype(np.float64) @ dn.astype(np.float64).T
        if all(_rank_margin_ok(sim[q], relevance[q]) for q in range(Q)):
            return {"queries": queries, "database": database, "relevance": relevance}, {}
    raise RuntimeError("could not draw a retrieval case with a margin")


COPY_MARGIN = 1e-4   # cosine gap between the top k+1 whitened similarities of a copy-detection query


def build_copy_detection(c):
    """Token tensors [B, 1 + n, D]: originals N(0, 1) (negative values exercise GeM's clamp at
    1e-6); query q is a copy of original q % originals: its tokens + N(0, c["noise"]^2); for
    c["shared"], database row `originals` is a near-duplicate of original 0 (+ N(0, 0.3^2)) and both
    are positives of its copies;
    distractors and whitening tokens N(0, 1). Each query's noise is redrawn until its top k+1
    whitened cosine similarities (float64) are COPY_MARGIN apart, so that the top-k order is decided."""
    Q, n_orig, n_dis, Nw, N, D = c["queries"], c["originals"], c["distractors"], c["whitening"], c["tokens"], c["dim"]
    p, topk = c["gem_p"], c["topk"]
    originals = _randn(n_orig, N, D)
    extra = f32(originals[:1] + _randn(1, N, D, std=0.3)) if c.get("shared") else _randn(1, N, D)
    database = np.concatenate([originals, extra, _randn(n_dis - 1, N, D)])
    white = _randn(Nw, N, D)
    t = lambda a: torch.from_numpy(np.asarray(a, np.float32)).double()   # noqa: E731
    mean, dvt = official_pca(official_gem(t(white), p))
    whiten = lambda x: torch.nn.functional.normalize((dvt @ (official_gem(t(x), p) - mean).t()).t(), dim=1).numpy()   # noqa: E731
    dw = whiten(database)
    positives = np.zeros((Q, database.shape[0]), np.uint8)
    queries = np.zeros((Q, N, D), np.float32)
    for q in range(Q):
        src = q % n_orig
        positives[q, src] = 1
        if c.get("shared") and src == 0:
            positives[q, n_orig] = 1
        for _ in range(1000):
            queries[q] = f32(originals[src] + _randn(N, D, std=c["noise"]))
            sim = np.sort(whiten(queries[q:q + 1]) @ dw.T, axis=1)[0, ::-1][:topk + 1]
            if np.all(-np.diff(sim) >= COPY_MARGIN):
                break
        else:
            raise RuntimeError("could not draw a copy-detection query with a margin")
    return ({"query_tokens": f32(queries), "database_tokens": f32(database), "whitening_tokens": f32(white),
             "positives": positives}, {"topk": topk, "gem_p": p})


def build_label_propagation(c):
    """Target and context features N(0, 1) [h, w, D] (context frames = the target + N(0, 0.8^2), so
    affinities vary); context_seg: frame 0 one-hot of random labels, the others softmax of N(0,
    2^2) logits (soft propagated labels). The target is redrawn until, for every query patch, the
    topk-th and (topk+1)-th largest affinities differ by >= APP_MARGIN relatively (or the topk-th
    is a masked 0)."""
    h, w, D, M, C = c["h"], c["w"], c["dim"], c["frames"], c["labels"]
    topk, r, T = c["topk"], c["size_mask_neighborhood"], c["temperature"]
    labels0 = torch.randint(0, C, (h, w)).numpy()
    seg = np.zeros((M, C, h, w), np.float32)
    seg[0] = np.eye(C, dtype=np.float32)[labels0].transpose(2, 0, 1)
    for m in range(1, M):
        z = _randn(C, h, w, std=2.0).astype(np.float64)
        e = np.exp(z - z.max(axis=0))
        seg[m] = f32(e / e.sum(axis=0))
    for _ in range(1000):
        target = _randn(h, w, D)
        context = f32(target[None] + _randn(M, h, w, D, std=0.8))
        _, aff = official_label_propagation_aff(target, context, topk, r, T)
        s = np.sort(aff, axis=0)[::-1]
        kth, nxt = s[topk - 1], s[topk] if s.shape[0] > topk else np.zeros_like(s[0])
        if np.all((kth == 0) | (kth - nxt >= APP_MARGIN * kth)):
            return ({"target": target, "context": context, "context_seg": seg},
                    {"topk": topk, "size_mask_neighborhood": r, "temperature": T})
    raise RuntimeError("could not draw a label-propagation case with a margin")


def official_gem(tokens, p):
    import official
    return official.gem_descriptor(tokens, p)


def official_pca(features):
    import official
    return official.pca_whitening(features)


def official_label_propagation_aff(target, context, topk, r, T):
    """The affinities [M*hw, hw] before the top-k cut, float64."""
    import official
    t = torch.from_numpy(np.asarray(target, np.float32)).double()
    ctx = torch.from_numpy(np.asarray(context, np.float32)).double()
    h, w, D = t.shape
    M = ctx.shape[0]
    ft = torch.nn.functional.normalize(t.reshape(h * w, D), dim=1)
    fs = torch.nn.functional.normalize(ctx.reshape(M, h * w, D).transpose(1, 2), dim=1)
    aff = torch.exp(torch.bmm(ft.unsqueeze(0).repeat(M, 1, 1), fs) / T)
    if r > 0:
        aff = aff * official.restrict_neighborhood(h, w, r).unsqueeze(0)
    return None, aff.transpose(2, 1).reshape(-1, h * w).numpy()


CASES.update({
    "retrieval_map": [
        dict(name="q6_ndb70_d16", seed=1801, dim=16, negatives=40, other_instances=10,
             grades=[(2, 2, 1), (1, 3, 0), (3, 0, 2), (0, 2, 2), (2, 1, 1), (0, 0, 2)],
             desc="6 queries, 70 database rows, D 16: easy/hard/junk renderings per query (2,2,1), (1,3,0), "
                  "(3,0,2) (no hard: Hard AP NaN, left out), (0,2,2), (2,1,1), (0,0,2) (junk only: NaN in both)"),
        dict(name="q4_ndb28_d8_mp", seed=1802, dim=8, negatives=16, other_instances=5,
             grades=[(1, 1, 1), (2, 0, 0), (0, 1, 3), (1, 1, 0)],
             desc="4 queries, 28 database rows, D 8: few positives, so mP@10 uses kq = min(last positive, 10)"),
        dict(name="q3_ndb12_d5_no_negatives", seed=1803, dim=5, negatives=1, other_instances=1,
             grades=[(2, 1, 1), (1, 2, 1), (1, 1, 2)],
             desc="3 queries, 13 database rows, D 5: every other query's images are negatives of a query"),
    ],
    "copy_detection": [
        dict(name="q8_db30_w20_n5_d4", seed=1901, queries=8, originals=6, distractors=24, whitening=20, tokens=5, dim=4,
             gem_p=4, topk=5, noise=1.2,
             desc="8 copies of 6 originals among 24 distractors, tokens [1 + 4, D 4] (descriptors 8), whitening "
                  "on 20 images, GeM p 4, top 5"),
        dict(name="q6_db20_w5_rank_deficient", seed=1902, queries=6, originals=4, distractors=16, whitening=5, tokens=4, dim=6,
             gem_p=4, topk=20, noise=0.4,
             desc="whitening on 5 images for 12-dim descriptors: a rank-deficient covariance (the floor max * 1e-5 "
                  "acts), top k = the whole database"),
        dict(name="q5_shared_original_p3", seed=1903, queries=5, originals=3, distractors=12, whitening=30, tokens=7, dim=3,
             gem_p=3, topk=6, noise=1.0, shared=True,
             desc="a near-duplicate of original 0 in the database: its copies have 2 positives (nres 2); GeM p 3"),
    ],
    "label_propagation": [
        dict(name="h5w6_d8_m3_c3_k5_r2", seed=2001, h=5, w=6, dim=8, frames=3, labels=3, topk=5,
             size_mask_neighborhood=2, temperature=0.1,
             desc="5x6 patches, D 8, first frame + 2 previous, 3 labels, top 5, neighbourhood radius 2, T 0.1"),
        dict(name="h4w4_d6_m1_c2_k3_nomask", seed=2002, h=4, w=4, dim=6, frames=1, labels=2, topk=3,
             size_mask_neighborhood=0, temperature=0.1,
             desc="4x4 patches, D 6, the first frame only, 2 labels, top 3, no neighbourhood mask (radius 0)"),
        dict(name="h6w5_d12_m8_c4_k5_r12", seed=2003, h=6, w=5, dim=12, frames=8, labels=4, topk=5,
             size_mask_neighborhood=12, temperature=0.2,
             desc="6x5 patches, D 12, first frame + 7 previous (the official n_last_frames), 4 labels, radius 12 "
                  "(wider than the grid), T 0.2"),
        dict(name="h5w5_d4_m1_c3_k12_r1_few_neighbours", seed=2004, h=5, w=5, dim=4, frames=1, labels=3, topk=12,
             size_mask_neighborhood=1, temperature=0.1,
             desc="5x5, radius 1 gives <= 9 neighbours < top 12: the 12th largest is a masked 0 and every neighbour votes"),
    ],
})

BUILDERS.update({"retrieval_map": build_retrieval_map, "copy_detection": build_copy_detection,
                 "label_propagation": build_label_propagation})
