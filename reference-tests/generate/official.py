"""Our own restatement of the official DINO semantics (facebookresearch/dino at commit 7c446df).

Nothing here is copied from the official repository: each function restates, in our words and
code, what the cited official function computes, in the same operation order, so that running it
on float32 tensors reproduces the official float32 rounding and running it on float64 tensors
gives the high-precision reference. Shape legend: B batch, K head output dim, R rows, D width,
H heads, N tokens, Dh head width.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------
# Schedules (float64 numpy, as the official code)
# ---------------------------------------------------------------------------------------------

def cosine_scheduler(base_value, final_value, epochs, niter_per_ep, warmup_epochs=0,
                     start_warmup_value=0):
    """utils.py `cosine_scheduler` @7c446df: a linear warm-up over warmup_epochs*niter_per_ep
    iterations (np.linspace, both end points included), then a half cosine from base_value toward
    final_value over the remaining T iterations, i / T for i = 0..T-1 (final_value is never
    reached). Float64 numpy, one value per global iteration."""
    warmup_iters = warmup_epochs * niter_per_ep
    if warmup_epochs > 0:
        head = np.linspace(start_warmup_value, base_value, warmup_iters)
    else:
        head = np.array([])
    t = np.arange(epochs * niter_per_ep - warmup_iters)
    tail = final_value + 0.5 * (base_value - final_value) * (1 + np.cos(np.pi * t / len(t)))
    values = np.concatenate((head, tail))
    assert len(values) == epochs * niter_per_ep
    return values


def teacher_temp_schedule(warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs, nepochs):
    """main_dino.py `DINOLoss.__init__` @7c446df: np.linspace(warmup, final, warmup epochs) (both
    ends; one point gives the warm-up value) followed by teacher_temp for the remaining epochs.
    Float64 numpy, one value per EPOCH."""
    warm = np.linspace(warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs)
    rest = np.ones(nepochs - warmup_teacher_temp_epochs) * teacher_temp
    return np.concatenate((warm, rest))


# ---------------------------------------------------------------------------------------------
# DINO loss and centre (main_dino.py DINOLoss.forward / update_center @7c446df)
# ---------------------------------------------------------------------------------------------

def dino_loss(student_output, teacher_output, center, student_temp, teacher_temp, ncrops):
    """student_output [ncrops*B, K] crop-major, teacher_output [2*B, K], center [1, K].
    Student: log_softmax(s / student_temp) per crop chunk. Teacher: softmax((t - center) /
    teacher_temp), detached, 2 chunks. Sum over K of -q * log p for every (teacher chunk iq,
    student chunk v) with v != iq, batch mean per pair, then the mean over the 2*ncrops - 2
    pairs, accumulated in loop order (iq outer, v inner). Returns a 0-d tensor."""
    s_chunks = (student_output / student_temp).chunk(ncrops)
    q_chunks = F.softmax((teacher_output - center) / teacher_temp, dim=-1).detach().chunk(2)
    total = 0
    n_terms = 0
    for iq, q in enumerate(q_chunks):
        for v in range(len(s_chunks)):
            if v == iq:
                continue  # the student view that the teacher saw is skipped
            per_sample = torch.sum(-q * F.log_softmax(s_chunks[v], dim=-1), dim=-1)
            total = total + per_sample.mean()
            n_terms += 1
    return total / n_terms


@torch.no_grad()
def update_center(center, teacher_output, center_momentum, world_size=1):
    """main_dino.py `DINOLoss.update_center` @7c446df, single process: the sum over the 2B rows of
    the RAW teacher outputs, divided by (2B * world size), then an EMA
    center * m + batch_center * (1 - m). Called after the loss used the old centre."""
    batch_center = torch.sum(teacher_output, dim=0, keepdim=True)
    batch_center = batch_center / (len(teacher_output) * world_size)
    return center * center_momentum + batch_center * (1 - center_momentum)


# ---------------------------------------------------------------------------------------------
# Teacher EMA, gradient clipping (float32 elementwise sequences: their rounding is the reference)
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def ema_update(teacher, student, momentum):
    """main_dino.py `train_one_epoch` @7c446df, the momentum update of the teacher: in place,
    teacher.mul_(m) then .add_((1 - m) * student) ((1 - m) evaluated as a Python double)."""
    teacher.mul_(momentum).add_((1 - momentum) * student)
    return teacher


@torch.no_grad()
def clip_gradients(grads, clip):
    """utils.py `clip_gradients` @7c446df: PER PARAMETER tensor, norm = ||g||_2 (float32),
    coef = clip / (norm + 1e-6) (a float32 0-d tensor; torch evaluates a scalar divided by a
    tensor as reciprocal * scalar), and g *= coef only when coef < 1. grads: list of tensors,
    modified in place. Returns the pre-clip norms (float32 values) in the same order."""
    norms = []
    for g in grads:
        norm = g.norm(2)
        norms.append(norm.clone())
        coef = clip / (norm + 1e-6)
        if coef < 1:
            g.mul_(coef)
    return norms


# ---------------------------------------------------------------------------------------------
# AdamW (torch 1.13.1 torch/optim/adamw.py, _single_tensor_adamw, amsgrad False, maximize False)
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def adamw_step_restated(param, grad, exp_avg, exp_avg_sq, lr, weight_decay, beta1, beta2, eps,
                        step):
    """One AdamW update in torch 1.13.1's order (torch/optim/adamw.py, _single_tensor_adamw); step is the count AFTER the
    increment. In place on param, exp_avg, exp_avg_sq (float32)."""
    param.mul_(1 - lr * weight_decay)                       # decoupled decay first
    exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)   # eps after the sqrt
    param.addcdiv_(exp_avg, denom, value=-step_size)


def adamw_step_torch(param, grad, exp_avg, exp_avg_sq, lr, weight_decay, beta1, beta2, eps, step):
    """The same step through torch.optim.AdamW itself (foreach=False), with the optimizer state
    set to step - 1 and the given moments. Returns new (param, exp_avg, exp_avg_sq) tensors."""
    p = torch.nn.Parameter(param.clone())
    p.grad = grad.clone()
    opt = torch.optim.AdamW([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                            amsgrad=False, foreach=False)
    opt.state[p] = {"step": torch.tensor(float(step - 1)), "exp_avg": exp_avg.clone(),
                    "exp_avg_sq": exp_avg_sq.clone()}
    opt.step()
    st = opt.state[p]
    assert float(st["step"]) == step
    return p.detach().clone(), st["exp_avg"].clone(), st["exp_avg_sq"].clone()


# ---------------------------------------------------------------------------------------------
# Layers (vision_transformer.py @7c446df uses nn.Linear, nn.LayerNorm(eps=1e-6), nn.GELU() and
# Attention.forward: attn = softmax((q @ k^T) * scale), out = attn @ v)
# ---------------------------------------------------------------------------------------------

def attention(q, k, v, scale):
    """vision_transformer.py `Attention.forward` @7c446df, after the qkv split: the scale is
    applied AFTER q @ k^T, softmax over the last dim, then attn @ v. q, k, v [B, H, N, Dh]."""
    attn = (q @ k.transpose(-2, -1)) * scale
    attn = attn.softmax(dim=-1)
    return attn @ v, attn


def softmax_with_temperature(logits, temperature):
    """probs = softmax(logits / T), log_probs = log_softmax(logits / T) (true division by T, as
    DINOLoss does for the student and teacher outputs)."""
    z = logits / temperature
    return F.softmax(z, dim=-1), F.log_softmax(z, dim=-1)


def layer_norm(x, weight, bias, eps):
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def gelu(x):
    """nn.GELU() default: exact erf form 0.5 x (1 + erf(x / sqrt 2))."""
    return F.gelu(x)


# ---------------------------------------------------------------------------------------------
# Vision Transformer backbone (vision_transformer.py @7c446df: PatchEmbed, Attention, Mlp, Block,
# VisionTransformer.prepare_tokens / interpolate_pos_encoding / forward / get_last_selfattention)
# restated with torch modules so that the numbers are PyTorch's. Submodule names follow the
# official ones, so state_dict() keys are the official backbone keys: cls_token, pos_embed,
# patch_embed.proj.{weight,bias}, blocks.<i>.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.
# {weight,bias}, norm.{weight,bias}. Drop path and dropouts are 0 (DINO evaluation, and the
# goldens): they are left out.
# ---------------------------------------------------------------------------------------------

def interpolate_pos_encoding(pos_embed, patch_size, height, width):
    """vision_transformer.py `VisionTransformer.interpolate_pos_encoding(x, w, h)` @7c446df, with
    the token count computed from the image size: npatch = (height // p) * (width // p).
    pos_embed [1, 1 + N0, D] for a g x g grid (g = sqrt(N0)). Unchanged only when npatch == N0
    AND height == width in pixels. Otherwise the patch part is resampled by F.interpolate
    (bicubic, A = -0.75, align_corners False) with scale_factor ((rows + 0.1) / g, (cols + 0.1) / g)
    as Python doubles (rows = height // p, cols = width // p): the output is rows x cols and the
    kernel samples with scale g / (rows + 0.1), not g / rows. The CLS position is kept."""
    n0 = pos_embed.shape[1] - 1
    rows, cols = height // patch_size, width // patch_size
    if rows * cols == n0 and height == width:
        return pos_embed
    dim = pos_embed.shape[-1]
    g = int(math.sqrt(n0))
    assert g * g == n0, f"pos_embed holds {n0} patch positions, not a square grid"
    grid = pos_embed[:, 1:].reshape(1, g, g, dim).permute(0, 3, 1, 2)
    sf = ((rows + 0.1) / math.sqrt(n0), (cols + 0.1) / math.sqrt(n0))
    grid = F.interpolate(grid, scale_factor=sf, mode="bicubic")
    assert grid.shape[-2:] == (rows, cols), (grid.shape, rows, cols)
    patch = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
    return torch.cat((pos_embed[:, :1], patch), dim=1)


class PatchEmbed(torch.nn.Module):
    """Conv2d(3, D, kernel p, stride p) with bias; pixels beyond a multiple of p are dropped."""

    def __init__(self, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.proj = torch.nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)   # [B, rows*cols, D], row-major patches


class Attention(torch.nn.Module):
    def __init__(self, dim, num_heads, qkv_bias):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = torch.nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x):
        B, N, D = x.shape
        h = self.num_heads
        qkv = self.qkv(x).reshape(B, N, 3, h, D // h).permute(2, 0, 3, 1, 4)   # [3, B, h, N, Dh]
        out, attn = attention(qkv[0], qkv[1], qkv[2], self.scale)
        return self.proj(out.transpose(1, 2).reshape(B, N, D)), attn


class Mlp(torch.nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = torch.nn.Linear(dim, hidden)
        self.act = torch.nn.GELU()
        self.fc2 = torch.nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(torch.nn.Module):
    """Pre-norm block: x + attn(norm1(x)), then x + mlp(norm2(x)); LayerNorm eps 1e-6."""

    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x, return_attention=False):
        y, attn = self.attn(self.norm1(x))
        if return_attention:
            return attn
        x = x + y
        return x + self.mlp(self.norm2(x))


class VisionTransformer(torch.nn.Module):
    """The DINO ViT backbone (num_classes 0: no classifier). img_size fixes the pos_embed grid:
    1 + (img_size // patch_size)^2 positions."""

    def __init__(self, patch_size, embed_dim, depth, num_heads, mlp_ratio=4.0, qkv_bias=True, img_size=224):
        super().__init__()
        self.patch_size = patch_size
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        n0 = (img_size // patch_size) ** 2
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = torch.nn.Parameter(torch.zeros(1, 1 + n0, embed_dim))
        self.blocks = torch.nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio, qkv_bias) for _ in range(depth))
        self.norm = torch.nn.LayerNorm(embed_dim, eps=1e-6)

    def prepare_tokens(self, x):
        B, _, H, W = x.shape
        t = self.patch_embed(x)
        t = torch.cat((self.cls_token.expand(B, -1, -1), t), dim=1)
        return t + interpolate_pos_encoding(self.pos_embed, self.patch_size, H, W)

    def forward(self, x):
        """CLS token after the final norm, [B, D]."""
        x = self.prepare_tokens(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 0]

    def get_last_selfattention(self, x):
        """Attention probabilities of the LAST block on norm1 of its input, [B, h, N, N]."""
        x = self.prepare_tokens(x)
        for blk in self.blocks[:-1]:
            x = blk(x)
        return self.blocks[-1](x, return_attention=True)


def vit_trace(vit, x, head=None):
    """Every intermediate of vit(x) (and of head on the CLS output) under the trace names of the
    vit_trace op, collected with forward hooks on the modules above: patch_embed [B, n, D]; tokens
    [B, T, D] (the input of block 0); per block norm1, attn.qkv [B, T, 3D], attn.weights [B, h, T,
    T] (the second output of Attention.forward), attn.proj, resid1 (the input of norm2), norm2,
    mlp.fc1, mlp.act, mlp.fc2, out; norm [B, T, D]; cls [B, D]; with a head head.mlp, head.bottleneck
    (the input of last_layer, after F.normalize) and head.logits [B, K]."""
    rec, handles = {}, []

    def output(name, pick=None):
        def hook(module, inputs, out):
            rec[name] = out if pick is None else out[pick]
        return hook

    def first_input(name):
        def hook(module, inputs):
            rec[name] = inputs[0]
        return hook

    handles.append(vit.patch_embed.register_forward_hook(output("patch_embed")))
    first = vit.blocks[0] if len(vit.blocks) else vit.norm
    handles.append(first.register_forward_pre_hook(first_input("tokens")))
    for i, blk in enumerate(vit.blocks):
        pre = f"blocks.{i}."
        handles += [blk.norm1.register_forward_hook(output(pre + "norm1")),
                    blk.attn.qkv.register_forward_hook(output(pre + "attn.qkv")),
                    blk.attn.register_forward_hook(output(pre + "attn.weights", 1)),
                    blk.attn.proj.register_forward_hook(output(pre + "attn.proj")),
                    blk.norm2.register_forward_pre_hook(first_input(pre + "resid1")),
                    blk.norm2.register_forward_hook(output(pre + "norm2")),
                    blk.mlp.fc1.register_forward_hook(output(pre + "mlp.fc1")),
                    blk.mlp.act.register_forward_hook(output(pre + "mlp.act")),
                    blk.mlp.fc2.register_forward_hook(output(pre + "mlp.fc2")),
                    blk.register_forward_hook(output(pre + "out"))]
    handles.append(vit.norm.register_forward_hook(output("norm")))
    if head is not None:
        handles += [head.mlp.register_forward_hook(output("head.mlp")),
                    head.last_layer.register_forward_pre_hook(first_input("head.bottleneck"))]
    try:
        rec["cls"] = vit(x)
        if head is not None:
            rec["head.logits"] = head(rec["cls"])
    finally:
        for h in handles:
            h.remove()
    return rec


def vit_small(patch_size=16, **kw):
    return VisionTransformer(patch_size, 384, 12, 6, 4.0, True, **kw)


class DINOHead(torch.nn.Module):
    """vision_transformer.py `DINOHead` @7c446df without BatchNorm (use_bn False): nlayers == 1 ->
    mlp is one Linear(in, bottleneck) (keys mlp.weight, mlp.bias); otherwise a Sequential of
    Linear, GELU, (nlayers - 2) x (Linear, GELU), Linear (keys mlp.0, mlp.2, ...; no activation
    after the bottleneck Linear). Then F.normalize(p=2, eps=1e-12) and the weight-normalised
    last_layer = weight_norm(Linear(bottleneck, K, bias=False), dim=0): keys last_layer.weight_g
    [K, 1] and last_layer.weight_v [K, bottleneck]; g is filled with 1 and frozen when
    norm_last_layer."""

    def __init__(self, in_dim, out_dim, nlayers=3, hidden_dim=2048, bottleneck_dim=256, norm_last_layer=True):
        super().__init__()
        nlayers = max(nlayers, 1)
        if nlayers == 1:
            self.mlp = torch.nn.Linear(in_dim, bottleneck_dim)
        else:
            layers = [torch.nn.Linear(in_dim, hidden_dim), torch.nn.GELU()]
            for _ in range(nlayers - 2):
                layers += [torch.nn.Linear(hidden_dim, hidden_dim), torch.nn.GELU()]
            layers.append(torch.nn.Linear(hidden_dim, bottleneck_dim))
            self.mlp = torch.nn.Sequential(*layers)
        self.last_layer = torch.nn.utils.weight_norm(torch.nn.Linear(bottleneck_dim, out_dim, bias=False))
        self.last_layer.weight_g.data.fill_(1)
        if norm_last_layer:
            self.last_layer.weight_g.requires_grad = False

    def forward(self, x):
        x = self.mlp(x)
        x = F.normalize(x, dim=-1, p=2)
        return self.last_layer(x)


class MultiCropWrapper(torch.nn.Module):
    """utils.py `MultiCropWrapper` @7c446df: crops of CONSECUTIVE equal widths are concatenated
    along the batch and go through the backbone once per group; the CLS outputs are concatenated
    in crop order (crop-major rows) and the head runs ONCE on all of them. Submodules `backbone`
    and `head`, so state_dict keys are `backbone.<vit key>` and `head.<head key>`."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, crops):
        widths = [c.shape[-1] for c in crops]
        outs, start = [], 0
        while start < len(crops):
            end = start + 1
            while end < len(crops) and widths[end] == widths[start]:
                end += 1
            outs.append(self.backbone(torch.cat(crops[start:end])))
            start = end
        return self.head(torch.cat(outs))


def dino_network(p, img_size):
    """A MultiCropWrapper(VisionTransformer, DINOHead) from the dino_train_steps params."""
    vit = VisionTransformer(p["patch_size"], p["embed_dim"], p["depth"], p["num_heads"], p["mlp_ratio"],
                            p["qkv_bias"], img_size=img_size)
    head = DINOHead(p["embed_dim"], p["out_dim"], p["nlayers"], p["hidden_dim"], p["bottleneck_dim"],
                    p["norm_last_layer"])
    return MultiCropWrapper(vit, head)


def get_params_groups(model):
    """utils.py `get_params_groups` @7c446df: over named_parameters() with requires_grad, group 0
    ("regularized") = names not ending in `.bias` with ndim != 1; group 1 = the rest, weight decay 0."""
    regularized, not_regularized = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.endswith(".bias") or len(param.shape) == 1:
            not_regularized.append(param)
        else:
            regularized.append(param)
    return [{"params": regularized}, {"params": not_regularized, "weight_decay": 0.0}]


@torch.no_grad()
def clip_model_gradients(model, clip):
    """utils.py `clip_gradients(model, clip)` @7c446df: clip_gradients above over every named
    parameter that has a grad, in named_parameters() order. Returns {name: pre-clip norm}."""
    named = [(n, p) for n, p in model.named_parameters() if p.grad is not None]
    norms = clip_gradients([p.grad for _, p in named], clip)
    return {n: float(v) for (n, _), v in zip(named, norms)}


def cancel_gradients_last_layer(model):
    """utils.py `cancel_gradients_last_layer` @7c446df while epoch < freeze_last_layer: the grad of
    every parameter whose name contains `last_layer` is set to None (AdamW then skips it: no
    decay, no moments, no step count)."""
    for n, p in model.named_parameters():
        if "last_layer" in n:
            p.grad = None


def dino_train_steps(student, teacher, center, steps, lr, wd, momentum, teacher_temp, p, hooks=None):
    """main_dino.py `train_one_epoch` @7c446df (use_fp16 False, one process) for len(steps)
    iterations. steps[s] = list of crops [B, 3, h, w] (crops 0, 1 global). student, teacher:
    MultiCropWrapper networks (teacher parameters without grad). AdamW (torch.optim.AdamW,
    foreach False) over get_params_groups(student), its state starting at zero; per step: lr[s] on
    both groups and wd[s] on group 0; teacher(crops[:2]), student(crops), the DINO loss with
    teacher_temp[s] (then the centre update from the raw teacher outputs), zero_grad, backward,
    per-parameter clipping (clip_grad > 0), the last-layer cancel (freeze_last_layer), the
    optimizer step, then the EMA t <- t m + (1 - m) s over all parameters (weight_g included) with
    momentum[s]. Returns (center, losses as Python floats, pre-clip norms per step).
    `hooks` (selfcheck and porting/buggy_actuals.py only) swaps single stages for WRONG ones:
    "groups", "optimizer" (groups, p -> optimizer), "loss", "update_center", "clip", "freeze",
    "ema", and the flags "center_first", "no_freeze", "ema_first"."""
    hk = hooks or {}
    ncrops = len(steps[0])
    groups = hk.get("groups", get_params_groups)(student)
    if "optimizer" in hk:
        opt = hk["optimizer"](groups, p)
    else:
        opt = torch.optim.AdamW(groups, betas=(p["beta1"], p["beta2"]), eps=p["eps"], foreach=False)
    loss_fn, center_fn = hk.get("loss", dino_loss), hk.get("update_center", update_center)
    losses, norms = [], []
    for s, crops in enumerate(steps):
        for i, group in enumerate(opt.param_groups):
            group["lr"] = lr[s]
            if i == 0:
                group["weight_decay"] = wd[s]
        if "center_first" in hk:
            t_out = teacher(crops[:2])
            center = center_fn(center, t_out, p["center_momentum"])
            s_out = student(crops)
            loss = loss_fn(s_out, t_out, center, p["student_temp"], teacher_temp[s], ncrops)
        else:
            t_out = teacher(crops[:2])
            s_out = student(crops)
            loss = loss_fn(s_out, t_out, center, p["student_temp"], teacher_temp[s], ncrops)
            center = center_fn(center, t_out, p["center_momentum"])   # after the loss used the old one
        opt.zero_grad()
        loss.backward()
        if p["clip_grad"]:
            norms.append(hk.get("clip", clip_model_gradients)(student, p["clip_grad"]))
        if p["freeze_last_layer"] and "no_freeze" not in hk:
            hk.get("freeze", cancel_gradients_last_layer)(student)
        ema = hk.get("ema", ema_all)
        if "ema_first" in hk:
            ema(teacher, student, momentum[s])
            opt.step()
        else:
            opt.step()
            ema(teacher, student, momentum[s])
        losses.append(float(loss.item()))
    return center, losses, norms


@torch.no_grad()
def ema_all(teacher, student, m):
    """The EMA block of train_one_epoch: zip(student.parameters(), teacher.parameters()), ALL
    parameters (frozen weight_g included), no buffers."""
    for ps, pt in zip(student.parameters(), teacher.parameters()):
        ema_update(pt.data, ps.detach().data, m)


def train_steps_case(ins, p, dtype=torch.float32, perm=None, hooks=None):
    """Runs a dino_train_steps case (inputs by their names without `in.`) in `dtype` and returns
    its outputs {student.<key>, teacher.<key>, center, loss} as float64 numpy arrays (F32 outputs
    not yet rounded). perm: a permutation of the batch applied to every crop (the same run with
    other summation orders). Inputs are float32; float64 runs start from their exact values."""
    S = len(ins["lr"])
    ncrops = len([n for n in ins if n.startswith("step0.crop")])
    pos = ins["student.backbone.pos_embed"]
    img_size = int(round((pos.shape[1] - 1) ** 0.5)) * p["patch_size"]
    nets = {}
    for side in ("student", "teacher"):
        net = dino_network(p, img_size)
        load_params(net, {n[len(side) + 1:]: a for n, a in ins.items() if n.startswith(side + ".")}, dtype)
        if hooks and "model" in hooks:
            hooks["model"](net)   # a wrong module swapped in (porting/buggy_actuals.py)
        if side == "teacher":
            for q in net.parameters():
                q.requires_grad_(False)
        nets[side] = net
    steps = []
    for s in range(S):
        crops = [torch.from_numpy(np.array(ins[f"step{s}.crop{i}"], np.float32)).to(dtype) for i in range(ncrops)]
        if perm is not None:
            crops = [c[torch.as_tensor(perm)] for c in crops]
        steps.append(crops)
    center = torch.from_numpy(np.array(ins["center"], np.float32)).to(dtype)
    sched = [[float(x) for x in ins[n]] for n in ("lr", "wd", "momentum", "teacher_temp")]
    center, losses, norms = dino_train_steps(nets["student"], nets["teacher"], center, steps, *sched, p, hooks)
    out = {}
    for side in ("student", "teacher"):
        for k, q in nets[side].named_parameters():
            out[f"{side}.{k}"] = q.detach().double().numpy()
    out["center"] = center.double().numpy()
    out["loss"] = np.array(losses, np.float64)
    return out, norms


def load_params(module, tensors, dtype):
    """Copy named numpy arrays into a module's parameters (cast to dtype); every parameter must be
    given and no extra name is allowed."""
    own = dict(module.named_parameters())
    assert set(own) == set(tensors), (sorted(set(own) ^ set(tensors)))
    with torch.no_grad():
        for k, p in own.items():
            assert tuple(p.shape) == tuple(tensors[k].shape), (k, p.shape, tensors[k].shape)
            p.data = torch.from_numpy(np.array(tensors[k], dtype=np.float32)).to(dtype)
    return module


# ---------------------------------------------------------------------------------------------
# Evaluations: eval_knn.py knn_classifier, visualize_attention.py threshold mask (@7c446df)
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def knn_classifier(train_features, train_labels, test_features, test_labels, k, T, num_classes):
    """eval_knn.py `knn_classifier` @7c446df on features that are ALREADY L2-normalised. Test rows
    in chunks (the official 100 chunks of Nte // 100 rows; at least 1 row per chunk, which fixes
    the official crash below 100 test images; chunking does not change the result): cosine
    similarities to all train rows, topk(k) (largest, sorted), weights exp(sim / T), per-class sums
    of the weights of the neighbours, classes sorted by score (descending). top1 counts the first
    class == label, top5 the label among the first min(5, k) classes (also capped at num_classes,
    where the official narrow() would raise). Returns (predictions [Nte] int64, top1 %, top5 %)."""
    n_test = test_labels.shape[0]
    chunk = max(1, n_test // 100)
    preds, top1, top5 = [], 0, 0
    for start in range(0, n_test, chunk):
        feats = test_features[start:start + chunk]
        targets = test_labels[start:start + chunk]
        b = targets.shape[0]
        sim = feats @ train_features.t()
        dist, idx = sim.topk(k, dim=1, largest=True, sorted=True)
        neighbours = train_labels.view(1, -1).expand(b, -1).gather(1, idx)
        onehot = torch.zeros(b * k, num_classes, dtype=feats.dtype)
        onehot.scatter_(1, neighbours.reshape(-1, 1), 1)
        w = dist.clone().div_(T).exp_()
        probs = torch.sum(onehot.view(b, -1, num_classes) * w.view(b, -1, 1), 1)
        _, order = probs.sort(1, True)
        correct = order.eq(targets.view(-1, 1))
        top1 += int(correct.narrow(1, 0, 1).sum())
        top5 += int(correct.narrow(1, 0, min(5, k, num_classes)).sum())
        preds.append(order[:, 0])
    return torch.cat(preds), top1 * 100.0 / n_test, top5 * 100.0 / n_test


def attention_mask(attn, threshold):
    """visualize_attention.py @7c446df, the --threshold branch: attn [H, N] (CLS query row, CLS
    key column dropped). Per head: sort ascending, divide by the sum of the row, cumulative sum,
    keep cumsum > 1 - threshold, scatter back through the inverse permutation. Returns bool [H, N]:
    the smallest set of highest-attention patches holding >= threshold of the row's mass."""
    val, idx = torch.sort(attn, dim=1)
    val = val / torch.sum(val, dim=1, keepdim=True)
    cumval = torch.cumsum(val, dim=1)
    keep = cumval > (1 - threshold)
    inverse = torch.argsort(idx, dim=1)
    return torch.gather(keep, 1, inverse)


# ---------------------------------------------------------------------------------------------
# The paper's other applications (@7c446df): eval_image_retrieval.py with utils.compute_map,
# eval_copy_detection.py with utils.PCA and score_ap_from_ranks_1, eval_video_segmentation.py
# label_propagation. Restated on tensors, without models or files.
# ---------------------------------------------------------------------------------------------

def compute_ap(ranks, nres):
    """utils.compute_ap (also eval_copy_detection.score_ap_from_ranks_1, the same trapezoid rule):
    ranks = 0-based positions of the positives (ascending), nres = number of positives. The j-th
    positive at position r adds (p0 + p1) / 2 / nres with p0 = j / r (1 at r = 0), p1 = (j+1)/(r+1)."""
    ap = 0.0
    step = 1.0 / nres
    for j, rank in enumerate(ranks):
        p0 = 1.0 if rank == 0 else float(j) / rank
        p1 = float(j + 1) / (rank + 1)
        ap += (p0 + p1) * step / 2.0
    return ap


def compute_map(ranks, gnd, kappas=(1, 5, 10)):
    """utils.compute_map: ranks [Ndb, Q] (database indices, best first, per query column); gnd[i] =
    {'ok': positives, 'junk': junk}. Positives are moved up by the number of junk images ranked
    before them; a query without positives gets NaN and is left out of the means. mP@k: kq =
    min(max position (1-based), k), precision = #(positions <= kq) / kq. Returns (map, aps, pr, prs)."""
    nq = len(gnd)
    aps = np.zeros(nq)
    pr = np.zeros(len(kappas))
    prs = np.zeros((nq, len(kappas)))
    total, nempty = 0.0, 0
    for i in range(nq):
        ok = np.array(gnd[i]["ok"], dtype=np.int64)
        if ok.shape[0] == 0:
            aps[i] = float("nan")
            prs[i, :] = float("nan")
            nempty += 1
            continue
        junk = np.array(gnd[i]["junk"], dtype=np.int64)
        pos = np.arange(ranks.shape[0])[np.in1d(ranks[:, i], ok)]
        jpos = np.arange(ranks.shape[0])[np.in1d(ranks[:, i], junk)]
        # each positive moves up by the junk ranked before it
        pos = np.array([p - int(np.sum(jpos < p)) for p in pos], dtype=np.int64)
        ap = compute_ap(pos, len(ok))
        total += ap
        aps[i] = ap
        pos1 = pos + 1
        for j, k in enumerate(kappas):
            kq = min(int(pos1.max()), k)
            prs[i, j] = (pos1 <= kq).sum() / kq
        pr = pr + prs[i, :]
    return total / (nq - nempty), aps, pr / (nq - nempty), prs


def retrieval_map(queries, database, relevance):
    """eval_image_retrieval.py after feature extraction: L2-normalise, sim = db @ q^T, ranks =
    argsort(-sim, dim=0); Medium: ok = easy + hard, junk = junk; Hard: ok = hard, junk = junk + easy.
    relevance [Q, Ndb]: 0 negative, 1 easy, 2 hard, 3 junk. Returns {'medium': ..., 'hard': ...}
    of compute_map's (map, aps, pr, prs)."""
    q = F.normalize(queries, dim=1, p=2)
    db = F.normalize(database, dim=1, p=2)
    sim = db @ q.t()
    ranks = torch.argsort(-sim, dim=0).numpy()
    rel = np.asarray(relevance)
    where = lambda i, c: np.nonzero(rel[i] == c)[0]   # noqa: E731
    medium = [{"ok": np.concatenate([where(i, 1), where(i, 2)]), "junk": where(i, 3)} for i in range(rel.shape[0])]
    hard = [{"ok": where(i, 2), "junk": np.concatenate([where(i, 3), where(i, 1)])} for i in range(rel.shape[0])]
    return {"medium": compute_map(ranks, medium), "hard": compute_map(ranks, hard)}


def gem_descriptor(tokens, p):
    """eval_copy_detection.extract_features after get_intermediate_layers(x, n=1)[0]: the CLS token
    concatenated with GeM of the patch tokens, (mean_j clamp(x_j, 1e-6)^p)^(1/p) per channel (the
    official avg_pool2d over the h x w grid is the mean over the patch tokens)."""
    cls = tokens[:, 0, :]
    patches = tokens[:, 1:, :].clamp(min=1e-6)
    return torch.cat((cls, patches.pow(p).mean(dim=1).pow(1.0 / p)), dim=1)


def pca_whitening(features_w):
    """eval_copy_detection.py's whitening with utils.PCA(dim=E, whit=0.5): the mean of the whitening
    features (subtracted from queries and database by the caller), cov = W^T W / n of the UNCENTRED
    features, eigh, eigenvalues below max * 1e-5 raised to it, sorted by decreasing eigenvalue,
    dvt = diag(d^-0.5) v^T. Returns (mean [E], dvt [E, E])."""
    mean = features_w.mean(dim=0)
    cov = (features_w.t() @ features_w / features_w.shape[0]).numpy()
    d, v = np.linalg.eigh(cov)
    eps = d.max() * 1e-5
    d[d < eps] = eps
    idx = np.argsort(d)[::-1]
    d, v = d[idx], v[:, idx]
    dvt = np.dot(np.diag(1.0 / d ** 0.5), v.T)
    return mean, torch.from_numpy(dvt)


def copy_detection(query_tokens, db_tokens, white_tokens, positives, topk, p):
    """eval_copy_detection.py on token tensors: GeM descriptors, whitening learned on the whitening
    set and applied to database and queries (after subtracting its mean), L2 normalisation, cosine
    similarity, topk (largest, sorted); AP per query from the positions of its positives among the
    top k (score_ap_from_ranks_1, nres = its number of positives). positives [Q, Ndb] bool.
    Returns (indices [Q, topk], aps [Q], map)."""
    q, db, w = (gem_descriptor(t, p) for t in (query_tokens, db_tokens, white_tokens))
    mean, dvt = pca_whitening(w)
    db, q = db - mean, q - mean
    db, q = (dvt @ db.t()).t(), (dvt @ q.t()).t()
    db, q = F.normalize(db, dim=1, p=2), F.normalize(q, dim=1, p=2)
    sim = q @ db.t()
    _, idx = sim.topk(topk, dim=1, largest=True, sorted=True)
    aps = []
    for i in range(q.shape[0]):
        pos = set(np.nonzero(np.asarray(positives[i]))[0].tolist())
        ranks = [r for r, b in enumerate(idx[i].tolist()) if b in pos]
        aps.append(compute_ap(ranks, len(pos)))
    return idx, np.array(aps), float(np.mean(aps))


def restrict_neighborhood(h, w, size):
    """eval_video_segmentation.restrict_neighborhood: mask [h*w (query), h*w (key)] = 1 where
    |i - i'| <= size and |j - j'| <= size."""
    mask = torch.zeros(h, w, h, w, dtype=torch.float64)
    for i in range(h):
        for j in range(w):
            mask[i, j, max(0, i - size):min(h, i + size + 1), max(0, j - size):min(w, j + size + 1)] = 1
    return mask.reshape(h * w, h * w)


def label_propagation(target, context, context_seg, topk, size_mask_neighborhood, temperature):
    """eval_video_segmentation.label_propagation after feature extraction: target [h, w, D],
    context [M, h, w, D] (the first frame, then the previous frames), context_seg [M, C, h, w].
    aff = exp(normalised target . normalised context / T) [M, hw(query), hw(key)], times the
    neighbourhood mask when size > 0; rearranged to [M*hw (keys), hw (queries)]; per query the
    values below the topk-th largest (over all keys jointly) set to 0; columns normalised to sum 1;
    seg = segs [C, M*hw] @ aff -> [C, h, w]. (The official code fixes T at 0.1.)"""
    h, w, D = target.shape
    M = context.shape[0]
    feat_tar = F.normalize(target.reshape(h * w, D), dim=1, p=2)
    feat_sources = F.normalize(context.reshape(M, h * w, D).transpose(1, 2), dim=1, p=2)   # [M, D, hw]
    aff = torch.exp(torch.bmm(feat_tar.unsqueeze(0).repeat(M, 1, 1), feat_sources) / temperature)
    if size_mask_neighborhood > 0:
        aff = aff * restrict_neighborhood(h, w, size_mask_neighborhood).to(aff.dtype).unsqueeze(0)
    aff = aff.transpose(2, 1).reshape(-1, h * w)
    tk_val, _ = torch.topk(aff, dim=0, k=topk)
    tk_val_min, _ = torch.min(tk_val, dim=0)
    aff[aff < tk_val_min] = 0
    aff = aff / torch.sum(aff, keepdim=True, axis=0)
    C = context_seg.shape[1]
    segs = context_seg.reshape(M, C, -1).transpose(2, 1).reshape(-1, C).t()   # [C, M*hw]
    return (segs @ aff).reshape(C, h, w), aff
