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
    """One AdamW update in torch 1.13.1's order (dino-spec 8.8); step is the count AFTER the
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
