"""Writes fixtures/porting-bugs/: the outputs a port WITH one known mistake gives on golden cases,
computed by PyTorch (Debian python3-torch 1.13.1), so that the diagnosis of `dino-ref compare`
is tested against numbers it did not compute itself.

Usage: /usr/bin/python3 reference-tests/porting/buggy_actuals.py --out fixtures/porting-bugs

Each catalogue id (docs/porting.md) is run on one or two golden cases of the ops it changes: the
official restatement of reference-tests/generate/official.py with ONE stage swapped for the wrong
one, written here with PyTorch's own functions where the mistake is a real PyTorch call
(F.gelu(approximate='tanh'), nn.LayerNorm(eps=1e-5), F.interpolate(align_corners=True | size= |
mode='bilinear'), torch.nn.utils.clip_grad_norm_, torch.optim.Adam(weight_decay=...)). Precision
as the golden generator: float64 from the float32 inputs, rounded to float32, for the ops the
generator computes that way; float32 torch for ema_update, clip_gradients, adamw_step and
dino_train_steps. Also two traces of an independent float32 forward (its own layers, nothing from
official.py): one correct, one with the attention scale dropped in block 2 only.

Every file holds `out.<name>` tensors only (an ACTUAL file); its metadata and MANIFEST.json name
the case, the mistake (or none), what a compare must report, and the producer.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATE = os.path.join(HERE, "..", "generate")
sys.path.insert(0, GENERATE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import official  # noqa: E402
import safetensors_io  # noqa: E402
from generate import producers, torch_id  # noqa: E402

GENERATOR = "reference-tests/porting/buggy_actuals.py"
GOLDEN = "fixtures/golden"


def t64(a, grad=False):
    return torch.from_numpy(np.array(a, dtype=np.float32)).double().requires_grad_(grad)


def t32(a):
    return torch.from_numpy(np.array(a, dtype=np.float32).copy())


def f32(t):
    return t.detach().float().numpy() if torch.is_tensor(t) else np.asarray(t, np.float32)


def keys(ins, prefix):
    return sorted((n[len(prefix):] for n in ins if n.startswith(prefix)), key=lambda k: k.encode())


# ---------------------------------------------------------------------------------------------
# Single ops with one mistake
# ---------------------------------------------------------------------------------------------

def softmax_no_temperature(ins, p):
    z = t64(ins["logits"])   # the temperature forgotten
    return {"probs": f32(F.softmax(z, -1)), "log_probs": f32(F.log_softmax(z, -1))}


def wrong_dino_loss(bug):
    """The loss of main_dino.py DINOLoss.forward with one mistake (float64 autograd)."""
    def loss(student, teacher, center, ts, tt, ncrops):
        if bug == "loss.temperatures_swapped":
            ts, tt = tt, ts
        if bug == "softmax.no_temperature":
            ts, tt = 1.0, 1.0
        s_chunks = (student / ts).chunk(ncrops)
        shift = teacher + center if bug == "loss.center_added" else teacher - center
        q_chunks = F.softmax(shift / tt, dim=-1).detach().chunk(2)
        total, n = 0, 0
        for iq, q in enumerate(q_chunks):
            for v in range(ncrops):
                if v == iq and bug != "loss.same_view_pairs":
                    continue
                total = total + torch.sum(-q * F.log_softmax(s_chunks[v], dim=-1), dim=-1).mean()
                n += 1
        return total if bug == "loss.sum_over_pairs" else total / n
    return loss


def wrong_update_center(bug):
    @torch.no_grad()
    def update(center, teacher_output, m):
        batch = torch.sum(teacher_output, dim=0, keepdim=True) / len(teacher_output)
        if bug == "center.momentum_swapped":
            return center * (1 - m) + batch * m
        return center * m + batch * (1 - m)
    return update


def dino_loss_case(bug):
    def run(ins, p):
        s, t, c = t64(ins["student"], True), t64(ins["teacher"]), t64(ins["center"])
        update = wrong_update_center(bug)
        used = update(c, t, p["center_momentum"]) if bug == "center.updated_before_loss" else c
        loss = wrong_dino_loss(bug)(s, t, used, p["student_temp"], p["teacher_temp"], p["ncrops"])
        loss.backward()
        new = used if bug == "center.updated_before_loss" else update(c, t, p["center_momentum"])
        return {"loss": f32(loss.reshape(1)), "grad_student": f32(s.grad), "center": f32(new)}
    return run


def cosine_schedule(bug):
    def run(ins, p):
        base, final, epochs, niter = p["base_value"], p["final_value"], p["epochs"], p["niter_per_ep"]
        warm_iters = p["warmup_epochs"] * niter
        head = np.linspace(p["start_warmup_value"], base, warm_iters,
                           endpoint=bug != "schedule.warmup_excludes_end") if warm_iters > 0 else np.array([])
        it = np.arange(epochs * niter - warm_iters)
        length = len(it) - 1 if bug == "schedule.cosine_reaches_final" else len(it)
        tail = final + 0.5 * (base - final) * (1 + np.cos(np.pi * it / length))
        return {"values": np.concatenate((head, tail)).astype(np.float64)}
    return run


@torch.no_grad()
def ema_swapped(ins, p):
    m = p["momentum"]
    out = {}
    for k in keys(ins, "teacher."):
        t = t32(ins[f"teacher.{k}"])
        t.mul_(1 - m).add_(m * t32(ins[f"student.{k}"]))   # lambda on the wrong side
        out[f"teacher.{k}"] = t.numpy()
    return out


def clip_global(ins, p):
    ks = keys(ins, "grad.")
    params = []
    for k in ks:
        q = torch.nn.Parameter(torch.zeros_like(t32(ins[f"grad.{k}"])))
        q.grad = t32(ins[f"grad.{k}"])
        params.append(q)
    norms = [q.grad.norm(2).clone() for q in params]
    torch.nn.utils.clip_grad_norm_(params, p["clip"])   # ONE norm over all tensors
    out = {f"grad.{k}": q.grad.numpy() for k, q in zip(ks, params)}
    out["norms"] = torch.stack(norms).numpy().astype(np.float32)
    return out


@torch.no_grad()
def adamw_eps_inside(param, grad, m, v, lr, wd, b1, b2, eps, step):
    """official.adamw_step_restated with eps inside the square root."""
    param.mul_(1 - lr * wd)
    m.mul_(b1).add_(grad, alpha=1 - b1)
    v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
    bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
    denom = (v / bc2).add_(eps).sqrt_()
    param.addcdiv_(m, denom, value=-lr / bc1)
    return param, m, v


def adam_coupled(param, grad, m, v, lr, wd, b1, b2, eps, step):
    """torch.optim.Adam (L2 in the gradient) with the state at step - 1."""
    q = torch.nn.Parameter(param.clone())
    q.grad = grad.clone()
    opt = torch.optim.Adam([q], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, foreach=False)
    opt.state[q] = {"step": torch.tensor(float(step - 1)), "exp_avg": m.clone(), "exp_avg_sq": v.clone()}
    opt.step()
    st = opt.state[q]
    return q.detach(), st["exp_avg"], st["exp_avg_sq"]


def adamw_case(bug):
    def run(ins, p):
        out = {}
        for k in keys(ins, "param."):
            decayed = int(ins[f"decay.{k}"][0]) == 1 or bug == "adamw.decay_all_params"
            wd = p["weight_decay"] if decayed else 0.0
            args = [t32(ins[f"{n}.{k}"]) for n in ("param", "grad", "exp_avg", "exp_avg_sq")]
            step = p["step"] + 1 if bug == "adamw.step_off_by_one" else p["step"]
            hp = (p["lr"], wd, p["beta1"], p["beta2"], p["eps"], step)
            fn = {"adamw.eps_inside_sqrt": adamw_eps_inside, "adamw.coupled_weight_decay": adam_coupled}.get(
                bug, official.adamw_step_torch)
            res = fn(*args, *hp)
            out[f"param.{k}"], out[f"exp_avg.{k}"], out[f"exp_avg_sq.{k}"] = (f32(x) for x in res)
        return out
    return run


def layer_norm_case(bug):
    def run(ins, p):
        x, w, b = t64(ins["x"], True), t64(ins["weight"], True), t64(ins["bias"], True)
        y = wrong_layer_norm(bug, x, w, b, p["eps"])
        y.backward(t64(ins["grad_y"]))
        return {"y": f32(y), "grad_x": f32(x.grad), "grad_weight": f32(w.grad), "grad_bias": f32(b.grad)}
    return run


def wrong_layer_norm(bug, x, w, b, eps):
    if bug == "layer_norm.eps_1e-5":
        return F.layer_norm(x, (x.shape[-1],), w, b, 1e-5)
    # layer_norm.unbiased_variance: torch.var's default (unbiased) in a hand-written LayerNorm
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(-1, keepdim=True) + eps) * w + b


def gelu_tanh(ins, p):
    x = t64(ins["x"], True)
    y = F.gelu(x, approximate="tanh")
    y.backward(t64(ins["grad_y"]))
    return {"y": f32(y), "grad_x": f32(x.grad)}


def wrong_attention(bug):
    def attention(q, k, v, scale):
        s = q @ k.transpose(-2, -1)
        if bug != "attention.no_scale":
            s = s * scale
        a = s.softmax(dim=-2 if bug == "attention.softmax_wrong_axis" else -1)
        return a @ v, a
    return attention


def attention_case(bug):
    def run(ins, p):
        q, k, v = (t64(ins[n], True) for n in ("q", "k", "v"))
        out, attn = wrong_attention(bug)(q, k, v, p["scale"])
        out.backward(t64(ins["grad_out"]))
        return {"out": f32(out), "attn": f32(attn), "grad_q": f32(q.grad), "grad_k": f32(k.grad), "grad_v": f32(v.grad)}
    return run


def wrong_interpolate(bug):
    """official.interpolate_pos_encoding with F.interpolate called the wrong way."""
    def interpolate(pos_embed, patch_size, height, width):
        n0, dim = pos_embed.shape[1] - 1, pos_embed.shape[-1]
        rows, cols = height // patch_size, width // patch_size
        if rows * cols == n0 and height == width:
            return pos_embed
        g = int(math.sqrt(n0))
        grid = pos_embed[:, 1:].reshape(1, g, g, dim).permute(0, 3, 1, 2)
        sf = ((rows + 0.1) / math.sqrt(n0), (cols + 0.1) / math.sqrt(n0))
        if bug == "interpolate.align_corners":
            grid = F.interpolate(grid, scale_factor=sf, mode="bicubic", align_corners=True)
        elif bug == "interpolate.by_output_size":
            grid = F.interpolate(grid, size=(rows, cols), mode="bicubic", align_corners=False)
        else:
            grid = F.interpolate(grid, scale_factor=sf, mode="bilinear", align_corners=False)
        patch = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
        return torch.cat((pos_embed[:, :1], patch), dim=1)
    return interpolate


class UnbiasedLayerNorm(torch.nn.Module):
    """A hand-written LayerNorm with torch.var's default, the unbiased variance."""

    def __init__(self, ln):
        super().__init__()
        self.weight, self.bias, self.eps = ln.weight, ln.bias, ln.eps

    def forward(self, x):
        return wrong_layer_norm("layer_norm.unbiased_variance", x, self.weight, self.bias, self.eps)


def head_without_l2(head):
    head.forward = lambda x: head.last_layer(head.mlp(x))   # F.normalize forgotten


def break_modules(bug, net):
    """Swaps the wrong module into a VisionTransformer (or a MultiCropWrapper holding one)."""
    vit = getattr(net, "backbone", net)
    for blk in vit.blocks:
        if bug == "layer_norm.eps_1e-5":
            blk.norm1.eps = blk.norm2.eps = 1e-5
        elif bug == "layer_norm.unbiased_variance":
            blk.norm1, blk.norm2 = UnbiasedLayerNorm(blk.norm1), UnbiasedLayerNorm(blk.norm2)
        elif bug == "gelu.tanh":
            blk.mlp.act = torch.nn.GELU(approximate="tanh")
        elif bug == "attention.no_scale":
            blk.attn.scale = 1.0
    if bug == "layer_norm.eps_1e-5":
        vit.norm.eps = 1e-5
    elif bug == "layer_norm.unbiased_variance":
        vit.norm = UnbiasedLayerNorm(vit.norm)
    if bug == "head.no_l2_bottleneck" and hasattr(net, "head"):
        head_without_l2(net.head)
    if bug == "gelu.tanh" and hasattr(net, "head"):
        for i, layer in enumerate(net.head.mlp):
            if isinstance(layer, torch.nn.GELU):
                net.head.mlp[i] = torch.nn.GELU(approximate="tanh")


class patched:
    """Replaces official.attention / official.interpolate_pos_encoding (module functions that the
    official modules call) for the duration of a with block."""

    def __init__(self, bug):
        self.swaps = {}
        if bug in ("attention.softmax_wrong_axis",):
            self.swaps["attention"] = wrong_attention(bug)
        if bug.startswith("interpolate."):
            self.swaps["interpolate_pos_encoding"] = wrong_interpolate(bug)

    def __enter__(self):
        self.saved = {n: getattr(official, n) for n in self.swaps}
        for n, fn in self.swaps.items():
            setattr(official, n, fn)

    def __exit__(self, *exc):
        for n, fn in self.saved.items():
            setattr(official, n, fn)


def interpolate_case(bug):
    def run(ins, p):
        out = wrong_interpolate(bug)(t64(ins["pos_embed"]), p["patch_size"], p["height"], p["width"])
        return {"pos_embed": f32(out)}
    return run


def vit64(ins, p, prefix="model."):
    P = {n[len(prefix):]: a for n, a in ins.items() if n.startswith(prefix)}
    g = int(round((P["pos_embed"].shape[1] - 1) ** 0.5))
    m = official.VisionTransformer(p["patch_size"], p["embed_dim"], p["depth"], p["num_heads"], p["mlp_ratio"],
                                   p["qkv_bias"], img_size=g * p["patch_size"])
    return official.load_params(m, P, torch.float64)


def vit_forward_case(bug):
    def run(ins, p):
        m = vit64(ins, p)
        break_modules(bug, m)
        x = t64(ins["images"])
        with patched(bug), torch.no_grad():
            return {"cls": f32(m(x)), "last_attn": f32(m.get_last_selfattention(x))}
    return run


def head64(ins, p, in_dim):
    h = official.DINOHead(in_dim, p["out_dim"], p["nlayers"], p["hidden_dim"], p["bottleneck_dim"], p["norm_last_layer"])
    return official.load_params(h, {n[len("head."):]: a for n, a in ins.items() if n.startswith("head.")}, torch.float64)


def dino_head_case(bug):
    def run(ins, p):
        h = head64(ins, p, ins["x"].shape[1])
        head_without_l2(h)
        x = t64(ins["x"], True)
        y = h(x)
        y.backward(t64(ins["grad_y"]))
        out = {"y": f32(y), "grad_x": f32(x.grad)}
        out.update({f"grad.head.{k}": f32(q.grad) for k, q in h.named_parameters() if q.requires_grad})
        return out
    return run


def vit_trace_case(bug):
    def run(ins, p):
        m = vit64(ins, p)
        head = head64(ins, p, p["embed_dim"]) if any(n.startswith("head.") for n in ins) else None
        break_modules(bug, m)
        if head is not None and bug == "head.no_l2_bottleneck":
            head_without_l2(head)
        with patched(bug), torch.no_grad():
            return {k: f32(v) for k, v in official.vit_trace(m, t64(ins["x"]), head).items()}
    return run


@torch.no_grad()
def knn_unweighted(ins, p):
    """eval_knn.py knn_classifier with every vote counted 1 (a stable sort breaks ties by class)."""
    tr = F.normalize(t64(ins["train_features"]), dim=1)
    te = F.normalize(t64(ins["test_features"]), dim=1)
    ytr, yte = torch.from_numpy(ins["train_labels"]), torch.from_numpy(ins["test_labels"])
    k, C = p["k"], p["num_classes"]
    _, idx = (te @ tr.t()).topk(k, dim=1)
    votes = torch.zeros(len(yte), C, dtype=torch.float64)
    votes.scatter_add_(1, ytr[idx], torch.ones(idx.shape, dtype=torch.float64))
    _, order = votes.sort(stable=True, dim=1, descending=True)
    correct = order.eq(yte.view(-1, 1))
    top1 = float(correct[:, :1].sum()) * 100.0 / len(yte)
    top5 = float(correct[:, :min(5, k, C)].sum()) * 100.0 / len(yte)
    return {"predictions": order[:, 0].numpy().astype(np.int64), "top1": np.array([top1]), "top5": np.array([top5])}


# ---------------------------------------------------------------------------------------------
# Training steps with one mistake (official.dino_train_steps hooks, float32)
# ---------------------------------------------------------------------------------------------

class AdamWStepAhead(torch.optim.AdamW):
    """torch.optim.AdamW whose step count starts at 1: every bias correction uses step + 1."""

    def step(self, closure=None):
        for group in self.param_groups:
            for q in group["params"]:
                if q.grad is not None and len(self.state[q]) == 0:
                    self.state[q] = {"step": torch.tensor(1.0), "exp_avg": torch.zeros_like(q),
                                     "exp_avg_sq": torch.zeros_like(q)}
        return super().step(closure)


class AdamWEpsInside(torch.optim.Optimizer):
    """AdamW (float32, per tensor, the order of official.adamw_step_restated) with eps inside the
    square root."""

    def __init__(self, groups, betas, eps):
        super().__init__(groups, dict(lr=0.0, weight_decay=0.0, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for q in g["params"]:
                if q.grad is None:
                    continue
                st = self.state[q]
                if not st:
                    st.update(step=0, m=torch.zeros_like(q), v=torch.zeros_like(q))
                st["step"] += 1
                adamw_eps_inside(q, q.grad, st["m"], st["v"], g["lr"], g["weight_decay"], *g["betas"], g["eps"], st["step"])


def zero_last_layer(model):
    for n, q in model.named_parameters():
        if "last_layer" in n and q.grad is not None:
            q.grad.zero_()


@torch.no_grad()
def ema_all_swapped(teacher, student, m):
    for ps, pt in zip(student.parameters(), teacher.parameters()):
        pt.data.mul_(1 - m).add_(m * ps.detach().data)


def clip_global_model(model, clip):
    named = [(n, q) for n, q in model.named_parameters() if q.grad is not None]
    norms = {n: float(q.grad.norm(2)) for n, q in named}
    torch.nn.utils.clip_grad_norm_([q for _, q in named], clip)
    return norms


def train_hooks(bug):
    betas = lambda p: (p["beta1"], p["beta2"])   # noqa: E731
    if bug.startswith("loss.") or bug == "softmax.no_temperature":
        return {"loss": wrong_dino_loss(bug)}
    if bug == "center.momentum_swapped":
        return {"update_center": wrong_update_center(bug)}
    if bug == "center.updated_before_loss":
        return {"center_first": True}
    if bug == "ema.momentum_swapped":
        return {"ema": ema_all_swapped}
    if bug == "clip.global_norm":
        return {"clip": clip_global_model}
    if bug == "freeze.last_layer_zeroed":
        return {"freeze": zero_last_layer}
    if bug == "adamw.decay_all_params":
        return {"groups": lambda model: [{"params": [q for q in model.parameters() if q.requires_grad]}]}
    if bug == "adamw.step_off_by_one":
        return {"optimizer": lambda groups, p: AdamWStepAhead(groups, betas=betas(p), eps=p["eps"], foreach=False)}
    if bug == "adamw.coupled_weight_decay":
        return {"optimizer": lambda groups, p: torch.optim.Adam(groups, betas=betas(p), eps=p["eps"], foreach=False)}
    if bug == "adamw.eps_inside_sqrt":
        return {"optimizer": lambda groups, p: AdamWEpsInside(groups, betas(p), p["eps"])}
    return {"model": lambda net: break_modules(bug, net)}


def train_steps_case(bug):
    def run(ins, p):
        with patched(bug):
            out, _ = official.train_steps_case(ins, p, torch.float32, hooks=train_hooks(bug))
        return {n: (v if n == "loss" else v.astype(np.float32)) for n, v in out.items()}
    return run


# ---------------------------------------------------------------------------------------------
# An independent float32 forward for the traces (its own layers; nothing from official.py)
# ---------------------------------------------------------------------------------------------

def independent_trace(ins, p, unscaled_block=None):
    """vision_transformer.py's forward written again with plain tensor operations in float32,
    recording the trace names; unscaled_block: the block whose attention scores are not scaled."""
    W = {n[len("model."):]: t32(a) for n, a in ins.items() if n.startswith("model.")}
    x = t32(ins["x"])
    ps, D, h = p["patch_size"], p["embed_dim"], p["num_heads"]
    B, _, H, Wd = x.shape
    rows, cols = H // ps, Wd // ps
    rec = {}
    patches = F.conv2d(x[:, :, :rows * ps, :cols * ps], W["patch_embed.proj.weight"], W["patch_embed.proj.bias"], stride=ps)
    rec["patch_embed"] = patches.flatten(2).transpose(1, 2)
    pos = W["pos_embed"]
    g = int(round((pos.shape[1] - 1) ** 0.5))
    if not (rows * cols == g * g and H == Wd):
        grid = pos[:, 1:].reshape(1, g, g, D).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, scale_factor=((rows + 0.1) / g, (cols + 0.1) / g), mode="bicubic", align_corners=False)
        pos = torch.cat((pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, rows * cols, D)), 1)
    t = torch.cat((W["cls_token"].expand(B, 1, D), rec["patch_embed"]), 1) + pos
    rec["tokens"] = t
    T = t.shape[1]
    for i in range(p["depth"]):
        b = lambda n: W[f"blocks.{i}.{n}"]   # noqa: E731
        n1 = F.layer_norm(t, (D,), b("norm1.weight"), b("norm1.bias"), 1e-6)
        qkv = F.linear(n1, b("attn.qkv.weight"), b("attn.qkv.bias"))
        q, k, v = qkv.reshape(B, T, 3, h, D // h).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1)
        if i != unscaled_block:
            scores = scores * (D // h) ** -0.5
        a = scores.softmax(-1)
        proj = F.linear((a @ v).transpose(1, 2).reshape(B, T, D), b("attn.proj.weight"), b("attn.proj.bias"))
        r1 = t + proj
        n2 = F.layer_norm(r1, (D,), b("norm2.weight"), b("norm2.bias"), 1e-6)
        fc1 = F.linear(n2, b("mlp.fc1.weight"), b("mlp.fc1.bias"))
        act = F.gelu(fc1)
        fc2 = F.linear(act, b("mlp.fc2.weight"), b("mlp.fc2.bias"))
        t = r1 + fc2
        rec.update({f"blocks.{i}.{n}": val for n, val in [
            ("norm1", n1), ("attn.qkv", qkv), ("attn.weights", a), ("attn.proj", proj), ("resid1", r1), ("norm2", n2),
            ("mlp.fc1", fc1), ("mlp.act", act), ("mlp.fc2", fc2), ("out", t)]})
    rec["norm"] = F.layer_norm(t, (D,), W["norm.weight"], W["norm.bias"], 1e-6)
    rec["cls"] = rec["norm"][:, 0]
    return {n: f32(val) for n, val in rec.items()}


# ---------------------------------------------------------------------------------------------
# What is written: (folder, case, mistake, producer kind, function, what compare must report)
# ---------------------------------------------------------------------------------------------

TRAIN_CASE = "dino_train_steps/nll_unfrozen_clip"
VIT_CASE = "vit_forward/p4_d24_12x20_b2"
LOSS_CASE = "dino_loss/k65_nc4_b3_tt0.07"
TRACE_CASE = "vit_trace/p4_d24_depth3_12x20_b2"


def plan():
    """(bug id or None, golden case, producer kind, function, expected first divergence or None)."""
    rows = [("softmax.no_temperature", "softmax/k65_t0.1", "f64", softmax_no_temperature),
            ("softmax.no_temperature", LOSS_CASE, "f64", dino_loss_case("softmax.no_temperature"))]
    for bug in ("loss.center_added", "loss.same_view_pairs", "loss.temperatures_swapped", "loss.sum_over_pairs",
                "center.momentum_swapped", "center.updated_before_loss"):
        rows.append((bug, LOSS_CASE, "f64", dino_loss_case(bug)))
    for bug in ("schedule.cosine_reaches_final", "schedule.warmup_excludes_end"):
        rows.append((bug, "cosine_schedule/lr_warmup", "schedule", cosine_schedule(bug)))
    rows += [("ema.momentum_swapped", "ema_update/m0.996", "f32", ema_swapped),
             ("clip.global_norm", "clip_gradients/clip3_both_sides", "f32", clip_global)]
    for bug in ("adamw.decay_all_params", "adamw.coupled_weight_decay", "adamw.eps_inside_sqrt"):
        rows.append((bug, "adamw_step/step1000", "f32", adamw_case(bug)))
    rows.append(("adamw.step_off_by_one", "adamw_step/step1_lr5e-4", "f32", adamw_case("adamw.step_off_by_one")))
    rows += [("layer_norm.eps_1e-5", "layer_norm/all_equal_row", "f64", layer_norm_case("layer_norm.eps_1e-5")),
             ("layer_norm.unbiased_variance", "layer_norm/d17_unit_weight", "f64", layer_norm_case("layer_norm.unbiased_variance")),
             ("gelu.tanh", "gelu/range_pm10", "f64", gelu_tanh)]
    for bug in ("attention.no_scale", "attention.softmax_wrong_axis"):
        rows.append((bug, "attention/b2_h3_n17_dh5", "f64", attention_case(bug)))
    for bug in ("interpolate.align_corners", "interpolate.by_output_size", "interpolate.bilinear"):
        rows.append((bug, "interpolate_pos_encoding/g4_p8_24x40", "f64", interpolate_case(bug)))
    for bug in ("layer_norm.eps_1e-5", "layer_norm.unbiased_variance", "gelu.tanh", "attention.no_scale",
                "attention.softmax_wrong_axis", "interpolate.align_corners", "interpolate.by_output_size",
                "interpolate.bilinear"):
        rows.append((bug, VIT_CASE, "f64", vit_forward_case(bug)))
    rows += [("head.no_l2_bottleneck", "dino_head/nl3_norm_last_layer", "f64", dino_head_case("head.no_l2_bottleneck")),
             ("head.no_l2_bottleneck", "vit_trace/p8_d32_32x32_b2_head", "f64", vit_trace_case("head.no_l2_bottleneck")),
             ("layer_norm.eps_1e-5", TRACE_CASE, "f64", vit_trace_case("layer_norm.eps_1e-5")),
             ("knn.unweighted_votes", "knn/ntr200_nte50_k20_c10", "eval", knn_unweighted)]
    for bug in ("softmax.no_temperature", "loss.center_added", "loss.same_view_pairs", "loss.temperatures_swapped",
                "loss.sum_over_pairs", "center.momentum_swapped", "center.updated_before_loss", "ema.momentum_swapped",
                "clip.global_norm", "adamw.decay_all_params", "adamw.step_off_by_one", "adamw.coupled_weight_decay",
                "adamw.eps_inside_sqrt", "layer_norm.eps_1e-5", "gelu.tanh", "attention.no_scale",
                "interpolate.by_output_size", "head.no_l2_bottleneck"):
        rows.append((bug, TRAIN_CASE, "train", train_steps_case(bug)))
    rows.append(("freeze.last_layer_zeroed", "dino_train_steps/nll_frozen_clip", "train", train_steps_case("freeze.last_layer_zeroed")))
    out = [(bug, case, kind, fn, None) for bug, case, kind, fn in rows]
    out += [(None, TRACE_CASE, "trace", lambda ins, p: independent_trace(ins, p), None),
            (None, TRACE_CASE, "trace", lambda ins, p: independent_trace(ins, p, unscaled_block=2), "blocks.2.attn.weights")]
    return out


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="fixtures/porting-bugs")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    prod = producers()
    prod["trace"] = f"{torch_id()} cpu float32 (an independent forward with plain tensor operations)"
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    entries = []
    for bug, case, kind, fn, divergence in plan():
        ins, meta, _ = safetensors_io.read(os.path.join(GOLDEN, case + ".safetensors"))
        params = json.loads(meta["params"])
        outs = fn({n[3:]: a for n, a in ins.items() if n.startswith("in.")}, params)
        expected = {n[4:] for n in ins if n.startswith("out.")}
        assert set(outs) == expected, (bug, case, sorted(set(outs) ^ expected))
        if divergence is not None:
            name = "attention_unscaled_in_block2"
        else:
            name = bug or "correct_independent_forward"
        rel = f"{name}/{case}.safetensors"
        path = os.path.join(args.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        what = (f"the outputs of {case} with the mistake {bug}" if bug else
                f"the trace of an independent float32 forward{' with the attention scale dropped in block 2' if divergence else ''}")
        safetensors_io.write(path, {f"out.{n}": a for n, a in outs.items()},
                             {"producer": prod[kind], "description": what, "case": f"{GOLDEN}/{case}.safetensors",
                              "bug": bug or "", "first_divergence": divergence or ""})
        entries.append({"file": rel, "case": f"{GOLDEN}/{case}.safetensors", "bug": bug, "first_divergence": divergence,
                        "case_sha256": file_sha256(os.path.join(GOLDEN, case + ".safetensors")),
                        "producer": prod[kind], "sha256": file_sha256(path), "bytes": os.path.getsize(path)})
    entries.sort(key=lambda e: e["file"].encode())
    manifest = {"generator": GENERATOR, "generator_sha256": file_sha256(os.path.abspath(__file__)), "actuals": entries}
    with open(os.path.join(args.out, "MANIFEST.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(manifest, sort_keys=True, indent=1) + "\n")
    print(f"wrote {len(entries)} actual files, {sum(e['bytes'] for e in entries)} bytes")


if __name__ == "__main__":
    main()
