"""Self-check of the committed case files (golden and external): reads every file back with our
reader, checks the dino-golden/1 contract (names, dtypes, shapes, metadata, manifest hashes; header
padding and alignment for the generator's files), and shows that a float32 PyTorch computation
passes every recorded tolerance. Prints, per op, the worst error / (atol + rtol |expected|).

Usage: /usr/bin/python3 reference-tests/generate/selfcheck.py [fixtures/golden fixtures/external]
"""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import torch.nn.functional as F  # noqa: E402

import bounds  # noqa: E402
import official  # noqa: E402
import safetensors_io  # noqa: E402

META_KEYS = {"format", "op", "params", "tolerance", "producer", "description"}
# op -> (inputs, params, outputs); "*" marks a prefix followed by state-dict keys
CONTRACT = {
    "matmul": (["a", "b", "grad_c"], [], ["c", "grad_a", "grad_b"]),
    "layer_norm": (["x", "weight", "bias", "grad_y"], ["eps"], ["y", "grad_x", "grad_weight", "grad_bias"]),
    "gelu": (["x", "grad_y"], [], ["y", "grad_x"]),
    "softmax": (["logits"], ["temperature"], ["probs", "log_probs"]),
    "attention": (["q", "k", "v", "grad_out"], ["scale"], ["out", "attn", "grad_q", "grad_k", "grad_v"]),
    "dino_loss": (["student", "teacher", "center"], ["student_temp", "teacher_temp", "ncrops", "center_momentum"],
                  ["loss", "grad_student", "center"]),
    "cosine_schedule": ([], ["base_value", "final_value", "epochs", "niter_per_ep", "warmup_epochs",
                             "start_warmup_value"], ["values"]),
    "teacher_temp_schedule": ([], ["warmup_teacher_temp", "teacher_temp", "warmup_teacher_temp_epochs", "nepochs"],
                              ["values"]),
    "ema_update": (["teacher.*", "student.*"], ["momentum"], ["teacher.*"]),
    "clip_gradients": (["grad.*"], ["clip"], ["grad.*", "norms"]),
    "adamw_step": (["param.*", "grad.*", "exp_avg.*", "exp_avg_sq.*", "decay.*"],
                   ["lr", "weight_decay", "beta1", "beta2", "eps", "step"], ["param.*", "exp_avg.*", "exp_avg_sq.*"]),
    "interpolate_pos_encoding": (["pos_embed"], ["patch_size", "height", "width"], ["pos_embed"]),
    "vit_forward": (["model.*", "images"], ["patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias"],
                    ["cls", "last_attn"]),
    "vit_backward": (["model.*", "images", "grad_cls"],
                     ["patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias"],
                     ["grad.model.*", "grad_images"]),
    "dino_head": (["head.*", "x", "grad_y"], ["out_dim", "hidden_dim", "bottleneck_dim", "nlayers", "norm_last_layer"],
                  ["y", "grad.head.*", "grad_x"]),
    "knn": (["train_features", "train_labels", "test_features", "test_labels"], ["k", "temperature", "num_classes"],
            ["predictions", "top1", "top5"]),
    "attention_mask": (["attn"], ["threshold"], ["mask"]),
    "vit_trace": (["model.*", "head.*", "x"], [], []),   # optional head: check_trace_names
    "dino_train_steps": (["student.*", "teacher.*", "center", "step*", "lr", "wd", "momentum", "teacher_temp"],
                         ["patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias", "out_dim",
                          "hidden_dim", "bottleneck_dim", "nlayers", "norm_last_layer", "student_temp",
                          "center_momentum", "clip_grad", "freeze_last_layer", "beta1", "beta2", "eps"],
                         ["student.*", "teacher.*", "center", "loss"]),
    "retrieval_map": (["queries", "database", "relevance"], [],
                      ["map_medium", "map_hard", "ap_medium", "ap_hard", "mp_medium", "mp_hard"]),
    "copy_detection": (["query_tokens", "database_tokens", "whitening_tokens", "positives"], ["topk", "gem_p"],
                       ["indices", "ap", "map"]),
    "label_propagation": (["target", "context", "context_seg"], ["topk", "size_mask_neighborhood", "temperature"],
                          ["seg"]),
}
INT_OUTPUTS = {"out.predictions", "out.mask", "out.indices"}
VIT_KEYS_PER_BLOCK = ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                      "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                      "mlp.fc2.weight", "mlp.fc2.bias"]
F64_OPS = ("matmul", "layer_norm", "gelu", "softmax", "attention", "dino_loss", "interpolate_pos_encoding",
           "vit_forward", "vit_backward", "dino_head", "knn", "attention_mask", "vit_trace", "retrieval_map",
           "copy_detection", "label_propagation")


class Fail(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Fail(msg)


def keys_of(names, prefix):
    return sorted((n[len(prefix):] for n in names if n.startswith(prefix)), key=lambda k: k.encode())


TRACE_BLOCK_PARTS = ["norm1", "attn.qkv", "attn.weights", "attn.proj", "resid1", "norm2", "mlp.fc1", "mlp.act",
                     "mlp.fc2", "out"]
VIT_PARAMS = ["patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias"]
HEAD_PARAMS = ["out_dim", "hidden_dim", "bottleneck_dim", "nlayers", "norm_last_layer"]


def check_trace_names(T, P):
    """vit_trace: in.x, in.model.<backbone key>, optionally in.head.<key> (then the head params);
    the outputs are exactly the trace names of the depth, with the trace shapes."""
    head = any(n.startswith("in.head.") for n in T)
    need(sorted(P) == sorted(VIT_PARAMS + (HEAD_PARAMS if head else [])), f"vit_trace params {sorted(P)}")
    D, depth, p, h = P["embed_dim"], P["depth"], P["patch_size"], P["num_heads"]
    B, C, H, W = T["in.x"].shape
    N = 1 + (H // p) * (W // p)
    Dm = int(D * P["mlp_ratio"])
    shapes = {"patch_embed": (B, N - 1, D), "tokens": (B, N, D), "norm": (B, N, D), "cls": (B, D)}
    for i in range(depth):
        for part in TRACE_BLOCK_PARTS:
            shapes[f"blocks.{i}.{part}"] = ((B, N, 3 * D) if part == "attn.qkv" else (B, h, N, N) if part == "attn.weights"
                                            else (B, N, Dm) if part in ("mlp.fc1", "mlp.act") else (B, N, D))
    if head:
        shapes.update({"head.mlp": (B, P["bottleneck_dim"]), "head.bottleneck": (B, P["bottleneck_dim"]),
                       "head.logits": (B, P["out_dim"])})
    outs = {n[4:]: a.shape for n, a in T.items() if n.startswith("out.")}
    need(outs == shapes, f"vit_trace outputs differ from the trace names: {sorted(set(outs) ^ set(shapes))}")


def check_names_and_shapes(op, T, P):
    if op == "vit_trace":
        return check_trace_names(T, P)
    ins_spec, par_spec, out_spec = CONTRACT[op]
    need(sorted(P) == sorted(par_spec), f"params {sorted(P)} != {sorted(par_spec)}")
    names = set(T)
    expected = set()
    for side, spec in (("in.", ins_spec), ("out.", out_spec)):
        for s in spec:
            if s.endswith("*"):
                ks = keys_of(names, side + s[:-1])
                need(ks, f"no {side}{s} tensors")
                expected |= {side + s[:-1] + k for k in ks}
            else:
                expected.add(side + s)
    need(names == expected, f"tensor names differ from the contract: extra {sorted(names - expected)}, "
                            f"missing {sorted(expected - names)}")
    for n, a in T.items():
        if n in ("in.train_labels", "in.test_labels", "out.predictions"):
            need(a.dtype == np.int64, f"{n} must be I64")
        elif n in ("out.top1", "out.top5"):
            need(a.dtype == np.float64 and a.shape == (1,), f"{n} must be F64 [1]")
        elif n == "out.mask":
            need(a.dtype == np.uint8 and set(np.unique(a)) <= {0, 1}, f"{n} must be U8 of 0/1")
        elif op.endswith("schedule") or (op == "dino_train_steps" and n in (
                "in.lr", "in.wd", "in.momentum", "in.teacher_temp", "out.loss")):
            need(a.dtype == np.float64, f"{n} must be F64")
        elif op == "adamw_step" and n.startswith("in.decay."):
            need(a.dtype == np.uint8 and a.shape == (1,) and a[0] in (0, 1), f"{n} must be U8 [1] of 0/1")
        elif op == "retrieval_map" and n == "in.relevance":
            need(a.dtype == np.uint8 and set(np.unique(a)) <= {0, 1, 2, 3}, f"{n} must be U8 of 0..3")
        elif op == "copy_detection" and n == "in.positives":
            need(a.dtype == np.uint8 and set(np.unique(a)) <= {0, 1}, f"{n} must be U8 of 0/1")
        elif op == "copy_detection" and n == "out.indices":
            need(a.dtype == np.int64, f"{n} must be I64")
        elif (op == "retrieval_map" and n.startswith("out.")) or (op == "copy_detection" and n in ("out.ap", "out.map")):
            need(a.dtype == np.float64, f"{n} must be F64")
        else:
            need(a.dtype == np.float32, f"{n} must be F32")
    sh = {n: a.shape for n, a in T.items()}
    for n in names:                                   # every grad_X has the shape of X
        if n.startswith("out.grad_") and f"in.{n[9:]}" in sh:
            need(sh[n] == sh[f"in.{n[9:]}"], f"{n} shape {sh[n]} != {sh['in.' + n[9:]]}")
    if op == "matmul":
        (M, K), (K2, N) = sh["in.a"], sh["in.b"]
        need(K == K2 and sh["in.grad_c"] == (M, N) and sh["out.c"] == (M, N), "matmul shapes")
    elif op == "layer_norm":
        R, D = sh["in.x"]
        need(sh["in.weight"] == (D,) == sh["in.bias"] and sh["in.grad_y"] == (R, D) == sh["out.y"], "layer_norm shapes")
        need(sh["out.grad_weight"] == (D,) == sh["out.grad_bias"], "layer_norm grad shapes")
    elif op == "gelu":
        need(sh["in.x"] == sh["in.grad_y"] == sh["out.y"] == sh["out.grad_x"], "gelu shapes")
    elif op == "softmax":
        need(len(sh["in.logits"]) == 2 and sh["out.probs"] == sh["in.logits"] == sh["out.log_probs"], "softmax shapes")
    elif op == "attention":
        B, H, N, Dh = sh["in.q"]
        need(sh["in.k"] == sh["in.v"] == sh["in.grad_out"] == sh["out.out"] == (B, H, N, Dh), "attention shapes")
        need(sh["out.attn"] == (B, H, N, N), "attention attn shape")
    elif op == "dino_loss":
        R, K = sh["in.student"]
        need(R % P["ncrops"] == 0, "student rows not a multiple of ncrops")
        need(sh["in.teacher"] == (2 * (R // P["ncrops"]), K) and sh["in.center"] == (1, K) == sh["out.center"],
             "dino_loss shapes")
        need(sh["out.loss"] == (1,) and sh["out.grad_student"] == (R, K), "dino_loss output shapes")
    elif op == "cosine_schedule":
        need(sh["out.values"] == (P["epochs"] * P["niter_per_ep"],), "cosine_schedule length")
    elif op == "teacher_temp_schedule":
        need(sh["out.values"] == (P["nepochs"],), "teacher_temp_schedule length")
    elif op == "ema_update":
        ks = keys_of(names, "in.teacher.")
        need(ks == keys_of(names, "in.student.") == keys_of(names, "out.teacher."), "ema keys")
        need(all(sh[f"in.teacher.{k}"] == sh[f"in.student.{k}"] == sh[f"out.teacher.{k}"] for k in ks), "ema shapes")
    elif op == "clip_gradients":
        ks = keys_of(names, "in.grad.")
        need(ks == keys_of(names, "out.grad.") and sh["out.norms"] == (len(ks),), "clip keys / norms")
        need(all(sh[f"in.grad.{k}"] == sh[f"out.grad.{k}"] for k in ks), "clip shapes")
    elif op == "adamw_step":
        ks = keys_of(names, "in.param.")
        for pre in ("in.grad.", "in.exp_avg.", "in.exp_avg_sq.", "in.decay.", "out.param.", "out.exp_avg.", "out.exp_avg_sq."):
            need(keys_of(names, pre) == ks, f"adamw keys for {pre}")
        need(all(sh[f"in.{n}.{k}"] == sh[f"in.param.{k}"] == sh[f"out.{o}.{k}"]
                 for k in ks for n in ("grad", "exp_avg", "exp_avg_sq") for o in ("param", "exp_avg", "exp_avg_sq")),
             "adamw shapes")
        need(all((T[f"in.exp_avg_sq.{k}"] >= 0).all() for k in ks), "exp_avg_sq must be >= 0")
    elif op == "interpolate_pos_encoding":
        _, n1, D = sh["in.pos_embed"]
        n = (P["height"] // P["patch_size"]) * (P["width"] // P["patch_size"])
        need(sh["out.pos_embed"] == (1, 1 + n, D), "interpolate_pos_encoding output shape")
    elif op in ("vit_forward", "vit_backward"):
        D, depth, p = P["embed_dim"], P["depth"], P["patch_size"]
        keys = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"] + \
            [f"blocks.{i}.{k}" for i in range(depth) for k in VIT_KEYS_PER_BLOCK] + ["norm.weight", "norm.bias"]
        need(sorted(keys_of(names, "in.model.")) == sorted(keys), "vit keys differ from the official backbone keys")
        B, C, H, W = sh["in.images"]
        need(C == 3 and sh["in.model.patch_embed.proj.weight"] == (D, 3, p, p), "vit patch embedding shape")
        N = 1 + (H // p) * (W // p)
        if op == "vit_forward":
            need(sh["out.cls"] == (B, D) and sh["out.last_attn"] == (B, P["num_heads"], N, N), "vit output shapes")
        else:
            need(sh["in.grad_cls"] == (B, D) and sh["out.grad_images"] == (B, C, H, W), "vit_backward shapes")
            need(keys_of(names, "out.grad.model.") == keys_of(names, "in.model."), "vit_backward grad keys")
            need(all(sh[f"out.grad.model.{k}"] == sh[f"in.model.{k}"] for k in keys), "vit_backward grad shapes")
    elif op == "dino_head":
        R, Din = sh["in.x"]
        K = P["out_dim"]
        need(sh["in.head.last_layer.weight_g"] == (K, 1) and sh["in.head.last_layer.weight_v"] == (K, P["bottleneck_dim"]),
             "dino_head last layer shapes")
        need(sh["out.y"] == (R, K) == sh["in.grad_y"], "dino_head y shape")
        trainable = [k for k in keys_of(names, "in.head.") if k != "last_layer.weight_g" or not P["norm_last_layer"]]
        need(keys_of(names, "out.grad.head.") == trainable, "dino_head grads must be the trainable keys")
        need(all(sh[f"out.grad.head.{k}"] == sh[f"in.head.{k}"] for k in trainable), "dino_head grad shapes")
    elif op == "knn":
        (Ntr, D), (Nte, D2) = sh["in.train_features"], sh["in.test_features"]
        need(D == D2 and sh["in.train_labels"] == (Ntr,) and sh["in.test_labels"] == (Nte,) and
             sh["out.predictions"] == (Nte,), "knn shapes")
    elif op == "attention_mask":
        need(sh["out.mask"] == sh["in.attn"] and len(sh["in.attn"]) == 2, "attention_mask shapes")
    elif op == "retrieval_map":
        (Q, D), (Ndb, D2) = sh["in.queries"], sh["in.database"]
        need(D == D2 and sh["in.relevance"] == (Q, Ndb) and sh["out.ap_medium"] == (Q,) == sh["out.ap_hard"] and
             sh["out.mp_medium"] == (3,) == sh["out.mp_hard"], "retrieval_map shapes")
    elif op == "copy_detection":
        (Q, N, D), (Ndb, N2, D2), (_, N3, D3) = sh["in.query_tokens"], sh["in.database_tokens"], sh["in.whitening_tokens"]
        need(N == N2 == N3 and D == D2 == D3 and sh["in.positives"] == (Q, Ndb) and sh["out.indices"] == (Q, P["topk"])
             and sh["out.ap"] == (Q,), "copy_detection shapes")
    elif op == "label_propagation":
        (h, w, D), (M, C) = sh["in.target"], sh["in.context_seg"][:2]
        need(sh["in.context"] == (M, h, w, D) and sh["in.context_seg"] == (M, C, h, w) and sh["out.seg"] == (C, h, w),
             "label_propagation shapes")
    elif op == "dino_train_steps":
        S = sh["in.lr"][0]
        need(all(sh[f"in.{n}"] == (S,) for n in ("lr", "wd", "momentum", "teacher_temp")) and sh["out.loss"] == (S,),
             "dino_train_steps schedules and loss must be [S]")
        ks = keys_of(names, "in.student.")
        need(ks == keys_of(names, "in.teacher.") == keys_of(names, "out.student.") == keys_of(names, "out.teacher."),
             "student/teacher keys of inputs and outputs differ")
        need(all(k.startswith(("backbone.", "head.")) for k in ks), "keys must sit under backbone. / head.")
        need(all(sh[f"{io}.{side}.{k}"] == sh[f"in.student.{k}"] for k in ks for io in ("in", "out")
                 for side in ("student", "teacher")), "student/teacher shapes")
        K = P["out_dim"]
        need(sh["in.center"] == (1, K) == sh["out.center"], "center shape")
        crops = sorted(n for n in names if n.startswith("in.step"))
        nc = len([n for n in crops if n.startswith("in.step0.")])
        need(nc >= 2 and set(crops) == {f"in.step{s}.crop{i}" for s in range(S) for i in range(nc)}, "crop names")
        B = sh["in.step0.crop0"][0]
        for s in range(S):
            need(sh[f"in.step{s}.crop0"] == sh[f"in.step{s}.crop1"], "the two global crops differ in shape")
            need(all(sh[f"in.step{s}.crop{i}"][:2] == (B, 3) for i in range(nc)), "crops must be [B, 3, h, w]")


def ratio(actual, expected, atol, rtol):
    """max |a - e| / (atol + rtol |e|); NaN/NaN and equal infinities count as equal. Integer
    outputs (atol = rtol = 0): 0 if equal, inf otherwise."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    need(a.shape == e.shape, f"shape {a.shape} != {e.shape}")
    if atol == 0 and rtol == 0:
        return 0.0 if np.array_equal(a, e) else float("inf")
    same = (np.isnan(a) & np.isnan(e)) | (np.isinf(e) & (a == e))
    bad = ~same & ~(np.isfinite(a) & np.isfinite(e))
    if bad.any():
        return float("inf")
    with np.errstate(invalid="ignore"):
        r = np.where(same, 0.0, np.abs(a - e) / (atol + rtol * np.abs(e)))
    return float(r.max()) if r.size else 0.0


def float32_torch(op, T, P):
    """The op computed with float32 torch (the official ops for the float32 ones)."""
    t = {n[3:]: torch.from_numpy(a.copy()) for n, a in T.items() if n.startswith("in.")}
    if op == "matmul":
        a, b = t["a"].requires_grad_(), t["b"].requires_grad_()
        c = a @ b
        c.backward(t["grad_c"])
        return {"c": c, "grad_a": a.grad, "grad_b": b.grad}
    if op == "layer_norm":
        x, w, b = (t[n].requires_grad_() for n in ("x", "weight", "bias"))
        y = official.layer_norm(x, w, b, P["eps"])
        y.backward(t["grad_y"])
        return {"y": y, "grad_x": x.grad, "grad_weight": w.grad, "grad_bias": b.grad}
    if op == "gelu":
        x = t["x"].requires_grad_()
        y = official.gelu(x)
        y.backward(t["grad_y"])
        return {"y": y, "grad_x": x.grad}
    if op == "softmax":
        p, lp = official.softmax_with_temperature(t["logits"], P["temperature"])
        return {"probs": p, "log_probs": lp}
    if op == "attention":
        q, k, v = (t[n].requires_grad_() for n in ("q", "k", "v"))
        out, attn = official.attention(q, k, v, P["scale"])
        out.backward(t["grad_out"])
        return {"out": out, "attn": attn, "grad_q": q.grad, "grad_k": k.grad, "grad_v": v.grad}
    if op == "dino_loss":
        s = t["student"].requires_grad_()
        loss = official.dino_loss(s, t["teacher"], t["center"], P["student_temp"], P["teacher_temp"], P["ncrops"])
        loss.backward()
        c = official.update_center(t["center"], t["teacher"], P["center_momentum"])
        return {"loss": loss.reshape(1), "grad_student": s.grad, "center": c}
    if op == "cosine_schedule":
        return {"values": official.cosine_scheduler(P["base_value"], P["final_value"], P["epochs"],
                                                    P["niter_per_ep"], P["warmup_epochs"], P["start_warmup_value"])}
    if op == "teacher_temp_schedule":
        return {"values": official.teacher_temp_schedule(P["warmup_teacher_temp"], P["teacher_temp"],
                                                         P["warmup_teacher_temp_epochs"], P["nepochs"])}
    if op == "ema_update":
        return {f"teacher.{k}": official.ema_update(t[f"teacher.{k}"], t[f"student.{k}"], P["momentum"])
                for k in keys_of(t, "teacher.")}
    if op == "clip_gradients":
        ks = keys_of(t, "grad.")
        grads = [t[f"grad.{k}"] for k in ks]
        norms = official.clip_gradients(grads, P["clip"])
        out = {f"grad.{k}": g for k, g in zip(ks, grads)}
        out["norms"] = torch.stack(norms)
        return out
    if op == "adamw_step":
        out = {}
        for k in keys_of(t, "param."):
            wd = P["weight_decay"] if int(t[f"decay.{k}"][0]) == 1 else 0.0
            p, m, v = (t[f"{n}.{k}"] for n in ("param", "exp_avg", "exp_avg_sq"))
            official.adamw_step_restated(p, t[f"grad.{k}"], m, v, P["lr"], wd, P["beta1"], P["beta2"], P["eps"], P["step"])
            out.update({f"param.{k}": p, f"exp_avg.{k}": m, f"exp_avg_sq.{k}": v})
        return out
    if op == "interpolate_pos_encoding":
        return {"pos_embed": official.interpolate_pos_encoding(t["pos_embed"], P["patch_size"], P["height"], P["width"])}
    if op in ("vit_forward", "vit_backward"):
        m = vit32(t, P)
        x = t["images"].requires_grad_(op == "vit_backward")
        if op == "vit_forward":
            with torch.no_grad():
                return {"cls": m(x), "last_attn": m.get_last_selfattention(x)}
        m(x).backward(t["grad_cls"])
        out = {f"grad.model.{k}": p.grad for k, p in m.named_parameters()}
        out["grad_images"] = x.grad
        return out
    if op == "vit_trace":
        head = None
        if any(n.startswith("head.") for n in t):
            head = official.DINOHead(P["embed_dim"], P["out_dim"], P["nlayers"], P["hidden_dim"], P["bottleneck_dim"],
                                     P["norm_last_layer"])
            official.load_params(head, {n[5:]: v.numpy() for n, v in t.items() if n.startswith("head.")}, torch.float32)
        with torch.no_grad():
            return official.vit_trace(vit32(t, P), t["x"], head)
    if op == "dino_head":
        h = head32(t, P)
        x = t["x"].requires_grad_()
        y = h(x)
        y.backward(t["grad_y"])
        out = {"y": y, "grad_x": x.grad}
        out.update({f"grad.head.{k}": p.grad for k, p in h.named_parameters() if p.requires_grad})
        return out
    if op == "knn":
        pred, top1, top5 = official.knn_classifier(
            F.normalize(t["train_features"], dim=1, p=2), t["train_labels"], F.normalize(t["test_features"], dim=1, p=2),
            t["test_labels"], P["k"], P["temperature"], P["num_classes"])
        return {"predictions": pred, "top1": np.array([top1]), "top5": np.array([top5])}
    if op == "attention_mask":
        return {"mask": official.attention_mask(t["attn"], P["threshold"]).to(torch.uint8)}
    if op == "dino_train_steps":
        return official.train_steps_case({n[3:]: a for n, a in T.items() if n.startswith("in.")}, P)[0]
    if op in APP_F32:
        return APP_F32[op](t, P)
    raise Fail(f"no float32 computation for {op}")


# ---- the paper's other applications: float32 torch (numpy eigh in float32, as the official
# whitening of a float32 covariance), and plausible mistakes the golden cases must catch

def _retrieval_outputs(r):
    (mm, am, pm, _), (mh, ah, ph, _) = r["medium"], r["hard"]
    return {"map_medium": np.array([mm]), "map_hard": np.array([mh]), "ap_medium": am, "ap_hard": ah,
            "mp_medium": pm, "mp_hard": ph}


def _copy_outputs(r):
    idx, aps, m = r
    return {"indices": idx, "ap": aps, "map": np.array([m])}


APP_F32 = {
    "retrieval_map": lambda t, P: _retrieval_outputs(official.retrieval_map(t["queries"], t["database"], t["relevance"].numpy())),
    "copy_detection": lambda t, P: _copy_outputs(official.copy_detection(
        t["query_tokens"], t["database_tokens"], t["whitening_tokens"], t["positives"].numpy(), P["topk"], P["gem_p"])),
    "label_propagation": lambda t, P: {"seg": official.label_propagation(
        t["target"], t["context"], t["context_seg"], P["topk"], P["size_mask_neighborhood"], P["temperature"])[0]},
}


def _retrieval_variants(t, P):
    rel = t["relevance"].numpy()
    no_junk = np.where(rel == 3, 0, rel).astype(np.uint8)          # junk left in the ranking as negatives
    easy_hard = np.where(rel == 1, 2, rel).astype(np.uint8)        # easy images counted as positives of Hard
    q, db = t["queries"], t["database"]
    return {"junk not removed (ranked as negatives)": _retrieval_outputs(official.retrieval_map(q, db, no_junk)),
            "Hard protocol with easy as positives": _retrieval_outputs(official.retrieval_map(q, db, easy_hard))}


def _copy_variants(t, P):
    q, db, w, pos = t["query_tokens"], t["database_tokens"], t["whitening_tokens"], t["positives"].numpy()
    out = {"GeM p = 1 (average pooling)": _copy_outputs(official.copy_detection(q, db, w, pos, P["topk"], 1.0))}
    orig = official.pca_whitening
    try:
        # the covariance of CENTRED whitening features (the official code uses the uncentred one)
        official.pca_whitening = lambda f: (f.mean(0), orig(f - f.mean(0))[1])
        out["covariance of centred whitening features"] = _copy_outputs(official.copy_detection(q, db, w, pos, P["topk"], P["gem_p"]))
        official.pca_whitening = lambda f: (torch.zeros(f.shape[1], dtype=f.dtype), torch.eye(f.shape[1], dtype=f.dtype))
        out["no whitening"] = _copy_outputs(official.copy_detection(q, db, w, pos, P["topk"], P["gem_p"]))
    finally:
        official.pca_whitening = orig
    return out


def _propagation_variants(t, P):
    args = (t["target"], t["context"], t["context_seg"])
    out = {"temperature 1 (not the given T)": {"seg": official.label_propagation(*args, P["topk"], P["size_mask_neighborhood"], 1.0)[0]},
           "top-k over all patches (k = every context patch)": {"seg": official.label_propagation(
               *args, t["context"].shape[0] * t["target"].shape[0] * t["target"].shape[1], P["size_mask_neighborhood"], P["temperature"])[0]}}
    if P["size_mask_neighborhood"] > 0:
        out["no neighbourhood mask"] = {"seg": official.label_propagation(*args, P["topk"], 0, P["temperature"])[0]}
    return out


APP_VARIANTS = {"retrieval_map": _retrieval_variants, "copy_detection": _copy_variants, "label_propagation": _propagation_variants}


def _external_train():
    """reference-tests/external/torch_train_steps.py, loaded by path (it imports nothing from here)."""
    import importlib.util
    ext = os.path.join(os.path.dirname(HERE), "external")
    sys.path.insert(0, ext)
    spec = importlib.util.spec_from_file_location("torch_train_steps", os.path.join(ext, "torch_train_steps.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.train


SECOND = {"dino_train_steps": "float32 torch, external/torch_train_steps.py (own code)"}


def float32_numpy(op, T, P):
    """A second float32 implementation for the whole-network ops: bounds.py's hand-written
    forward/backward with every array in float32 (numpy's summation order and a two-pass
    LayerNorm instead of PyTorch's kernels); for dino_train_steps the external tool's own training
    step (plain tensors, its own LayerNorm, attention, loss, AdamW). None for other ops."""
    if op == "dino_train_steps":
        return {n: (v if n == "loss" else v.astype(np.float32)) for n, v in _external_train()(
            {n[3:]: a for n, a in T.items() if n.startswith("in.")}, P, torch.float32).items()}
    if op not in ("interpolate_pos_encoding", "vit_forward", "vit_backward", "dino_head"):
        return None
    f32 = lambda a: np.asarray(a, np.float32)   # noqa: E731
    saved = bounds.rnd, bounds.shared
    bounds.rnd, bounds.shared = (lambda v, b: f32(v)), (lambda x: np.float32(x))
    try:
        if op == "interpolate_pos_encoding":
            return bounds.pos_embed_op(f32(T["in.pos_embed"]), P["patch_size"], P["height"], P["width"])
        if op == "dino_head":
            W = {n[len("in.head."):]: f32(a) for n, a in T.items() if n.startswith("in.head.")}
            return bounds.head(W, f32(T["in.x"]), P, f32(T["in.grad_y"]))
        W = {n[len("in.model."):]: f32(a) for n, a in T.items() if n.startswith("in.model.")}
        g = f32(T["in.grad_cls"]) if op == "vit_backward" else None
        return bounds.vit(W, f32(T["in.images"]), P, grad_cls=g)
    finally:
        bounds.rnd, bounds.shared = saved


def vit32(t, P):
    params = {n[len("model."):]: v.numpy() for n, v in t.items() if n.startswith("model.")}
    g = int(round((params["pos_embed"].shape[1] - 1) ** 0.5))
    m = official.VisionTransformer(P["patch_size"], P["embed_dim"], P["depth"], P["num_heads"], P["mlp_ratio"],
                                   P["qkv_bias"], img_size=g * P["patch_size"])
    return official.load_params(m, params, torch.float32)


def head32(t, P):
    params = {n[len("head."):]: v.numpy() for n, v in t.items() if n.startswith("head.")}
    h = official.DINOHead(t["x"].shape[1], P["out_dim"], P["nlayers"], P["hidden_dim"], P["bottleneck_dim"],
                          P["norm_last_layer"])
    return official.load_params(h, params, torch.float32)


# ---------------------------------------------------------------------------------------------
# Plausible mistakes, in float32 torch: each must FAIL at least one case of its op
# ---------------------------------------------------------------------------------------------

def _interp_size(pos_embed, patch_size, height, width):
    """Resampling with size=(rows, cols) (no +0.1 in the kernel scale), same identity rule."""
    n0, dim = pos_embed.shape[1] - 1, pos_embed.shape[-1]
    rows, cols = height // patch_size, width // patch_size
    if rows * cols == n0 and height == width:
        return pos_embed
    g = int(round(n0 ** 0.5))
    grid = pos_embed[:, 1:].reshape(1, g, g, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(rows, cols), mode="bicubic", align_corners=False)
    return torch.cat((pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)), 1)


def _interp_grid_only(pos_embed, patch_size, height, width):
    """Identity whenever the patch grid matches (ignores height != width)."""
    n0 = pos_embed.shape[1] - 1
    if (height // patch_size) * (width // patch_size) == n0:
        return pos_embed
    return ORIG_INTERP(pos_embed, patch_size, height, width)


ORIG_INTERP = official.interpolate_pos_encoding


def _with_interp(fn, body):
    official.interpolate_pos_encoding = fn
    try:
        return body()
    finally:
        official.interpolate_pos_encoding = ORIG_INTERP


def variants(op, T, P):
    """name -> outputs of a wrong float32 implementation of op on this case."""
    t = {n[3:]: torch.from_numpy(a.copy()) for n, a in T.items() if n.startswith("in.")}
    out = {}
    if op == "interpolate_pos_encoding":
        args = (t["pos_embed"], P["patch_size"], P["height"], P["width"])
        out["bicubic with size= (no +0.1)"] = {"pos_embed": _interp_size(*args)}
        out["identity when only the grid matches"] = {"pos_embed": _interp_grid_only(*args)}
    if op == "vit_forward":
        x = t["images"]

        def fwd(m):
            with torch.no_grad():
                return {"cls": m(x), "last_attn": m.get_last_selfattention(x)}

        m = vit32(t, P)
        for b in m.blocks:
            b.mlp.act = torch.nn.GELU(approximate="tanh")
        out["tanh GELU"] = fwd(m)
        m = vit32(t, P)
        for ln in [mod for mod in m.modules() if isinstance(mod, torch.nn.LayerNorm)]:
            ln.eps = 1e-5
        out["LayerNorm eps 1e-5"] = fwd(m)
        m = vit32(t, P)
        for b in m.blocks:
            b.attn.scale = P["embed_dim"] ** -0.5
        out["attention scale D^-0.5 (not Dh^-0.5)"] = fwd(m)
        out["pos_embed bicubic with size= (no +0.1)"] = _with_interp(_interp_size, lambda: fwd(vit32(t, P)))
        out["pos_embed identity when only the grid matches"] = _with_interp(_interp_grid_only, lambda: fwd(vit32(t, P)))
    if op == "dino_head":
        h = head32(t, P)
        z = F.normalize(h.mlp(t["x"]), dim=-1, p=2, eps=1e-6)
        out["L2 normalisation eps 1e-6"] = {"y": h.last_layer(z)}
        z = h.mlp(t["x"])
        out["no L2 normalisation"] = {"y": h.last_layer(z)}
        v = h.last_layer.weight_v
        out["last layer without weight norm (v as the weight)"] = {"y": F.normalize(z, dim=-1, p=2) @ v.t()}
    if op == "knn":
        pred, top1, top5 = official.knn_classifier(t["train_features"], t["train_labels"], t["test_features"],
                                                   t["test_labels"], P["k"], P["temperature"], P["num_classes"])
        out["features not L2-normalised"] = {"predictions": pred, "top1": np.array([top1]), "top5": np.array([top5])}
        ntr, nte = (F.normalize(t[n], dim=1, p=2) for n in ("train_features", "test_features"))
        pred, top1, top5 = official.knn_classifier(ntr, t["train_labels"], nte, t["test_labels"], P["k"], 1e6,
                                                   P["num_classes"])
        out["unweighted votes (T -> inf)"] = {"predictions": pred, "top1": np.array([top1]), "top5": np.array([top5])}
    if op == "dino_train_steps":
        ins = {n[3:]: a for n, a in T.items() if n.startswith("in.")}
        for name, hooks in TRAIN_MISTAKES.items():
            if name == "last layer not frozen" and not P["freeze_last_layer"]:
                continue
            if name == "global (not per-parameter) clipping" and not P["clip_grad"]:
                continue
            out[name] = official.train_steps_case(ins, P, hooks=hooks)[0]
    if op in APP_VARIANTS:
        out.update(APP_VARIANTS[op](t, P))
    if op == "attention_mask":
        a = t["attn"]
        out["threshold on the raw (not renormalised) mass"] = {
            "mask": torch.gather(torch.cumsum(torch.sort(a, 1)[0], 1) > (1 - P["threshold"]), 1,
                                 torch.argsort(torch.sort(a, 1)[1], 1)).to(torch.uint8)}
    return out


@torch.no_grad()
def _clip_global(model, clip):
    """torch.nn.utils.clip_grad_norm_-style: ONE coefficient from the norm of all gradients."""
    grads = [p.grad for _, p in model.named_parameters() if p.grad is not None]
    coef = clip / (torch.norm(torch.stack([g.norm(2) for g in grads])) + 1e-6)
    if coef < 1:
        for g in grads:
            g.mul_(coef)
    return {}


def _groups_decay_all(model):
    """Weight decay on every trainable parameter (biases and LayerNorm parameters included)."""
    return [{"params": [p for p in model.parameters() if p.requires_grad]}]


TRAIN_MISTAKES = {   # official.dino_train_steps hooks
    "last layer not frozen": {"no_freeze": True},
    "global (not per-parameter) clipping": {"clip": _clip_global},
    "weight decay on biases and 1-D params": {"groups": _groups_decay_all},
    "EMA before the optimizer step": {"ema_first": True},
    "centre updated before the loss": {"center_first": True},
}


def naive_layer_norm_ratio(T, P, tol):
    """A float32 LayerNorm with var = E[x^2] - E[x]^2 must FAIL the offset case."""
    x, w, b = (T[f"in.{n}"] for n in ("x", "weight", "bias"))
    mu = x.mean(axis=1, keepdims=True, dtype=np.float32)
    var = np.maximum((x * x).mean(axis=1, keepdims=True, dtype=np.float32) - mu * mu, np.float32(0))
    y = (x - mu) / np.sqrt(var + np.float32(P["eps"])) * w + b
    return ratio(y, T["out.y"], *tol["out.y"])


def check_set(folder, aligned):
    with open(os.path.join(folder, "MANIFEST.json")) as f:
        man = json.load(f)
    need(man["format"] == "dino-golden/1", "manifest format")
    need(set(man) == {"format", "generator", "generator_sha256", "producer", "cases"}, "manifest keys")
    files = [c["file"] for c in man["cases"]]
    need(files == sorted(files, key=lambda s: s.encode()), "manifest cases not sorted")
    on_disk = sorted(os.path.relpath(os.path.join(d, n), folder).replace(os.sep, "/")
                     for d, _, ns in os.walk(folder) for n in ns if n.endswith(".safetensors"))
    need(sorted(files) == on_disk, f"manifest and folder differ: {set(files) ^ set(on_disk)}")
    worst, naive, wrong, worst_np = {}, [], {}, {}
    for c in man["cases"]:
        path = os.path.join(folder, c["file"])
        data = open(path, "rb").read()
        try:
            need(hashlib.sha256(data).hexdigest() == c["sha256"] and len(data) == c["bytes"], "manifest hash/bytes")
            T, meta, info = safetensors_io.decode(data, c["file"])
            need(set(meta) == META_KEYS, f"metadata keys {sorted(meta)}")
            need(meta["format"] == "dino-golden/1" and meta["op"] == c["op"] in CONTRACT, "format/op")
            need(c["file"].startswith(meta["op"] + "/"), "file not under its op folder")
            P = json.loads(meta["params"])
            tol = json.loads(meta["tolerance"])
            need(isinstance(P, dict) and isinstance(tol, dict) and "default" in tol, "params/tolerance JSON")
            for k, v in tol.items():
                need(k == "default" or k in T and k.startswith("out."), f"tolerance for unknown output {k}")
                need(len(v) == 2 and all(isinstance(x, (int, float)) and x >= 0 for x in v), f"tolerance {k}")
            if aligned:
                need((8 + info["header_len"]) % 8 == 0 and info["order"][0] == "__metadata__", "header padding")
                need(all(off % T[n].dtype.itemsize == 0 for n, off in info["offsets"].items()), "unaligned tensor")
            check_names_and_shapes(meta["op"], T, P)
            got = float32_torch(meta["op"], T, P)
            for n, v in got.items():
                v = v.detach().numpy() if torch.is_tensor(v) else v
                r = ratio(v, T[f"out.{n}"], *tol.get(f"out.{n}", tol["default"]))
                key = meta["op"]
                if r > worst.get(key, (-1,))[0]:
                    worst[key] = (r, f"{c['file']}:out.{n}")
            if meta["op"] == "layer_norm" and "offset" in c["file"]:
                naive.append((c["file"], naive_layer_norm_ratio(T, P, tol)))
            other = float32_numpy(meta["op"], T, P)
            for n, v in (other or {}).items():
                if f"out.{n}" in T:
                    need(v.dtype == (np.float64 if n == "loss" else np.float32), f"float32 {n} is {v.dtype}")
                    r = ratio(v, T[f"out.{n}"], *tol.get(f"out.{n}", tol["default"]))
                    if r > worst_np.get(meta["op"], (-1,))[0]:
                        worst_np[meta["op"]] = (r, f"{c['file']}:out.{n}")
            for name, outs in variants(meta["op"], T, P).items():
                r = max(ratio(v.detach().numpy() if torch.is_tensor(v) else v, T[f"out.{n}"],
                              *tol.get(f"out.{n}", tol["default"])) for n, v in outs.items())
                key = (meta["op"], name)
                if r > wrong.get(key, (-1,))[0]:
                    wrong[key] = (r, c["file"])
        except Fail as e:
            raise Fail(f"{folder}/{c['file']}: {e}")
    return worst, naive, wrong, worst_np, man


def main(argv):
    folders = argv or ["fixtures/golden", "fixtures/external"]
    ok = True
    for folder in folders:
        aligned = os.path.basename(os.path.normpath(folder)) == "golden"
        try:
            worst, naive, wrong, worst_np, man = check_set(folder, aligned)
        except Fail as e:
            print(f"FAIL {e}")
            ok = False
            continue
        print(f"{folder}: {len(man['cases'])} cases, contract OK{' (aligned)' if aligned else ''}; "
              f"float32 torch vs stored, worst error/tolerance per op:")
        for op in CONTRACT:
            if op in worst:
                r, where = worst[op]
                flag = "ok" if r <= 1 else "EXCEEDS"
                kind = ("float64 schedule" if op.endswith("schedule") else "f64-derived"
                        if op in F64_OPS or not aligned else "float32 ref")
                print(f"  {op:22s} {r:9.3g}  {flag:7s} [{kind}] at {where}")
                ok &= r <= 1
        for op, (r, where) in worst_np.items():
            print(f"  {op:22s} {r:9.3g}  {'ok' if r <= 1 else 'EXCEEDS':7s} [{SECOND.get(op, 'float32 numpy, bounds.py')}] at {where}")
            ok &= r <= 1
        for f, r in naive:
            print(f"  naive E[x^2]-E[x]^2 float32 LayerNorm on {f}: ratio {r:.3g} "
                  f"({'caught' if r > 1 else 'NOT caught'})")
        if wrong:
            print("  wrong implementations (float32 torch), worst error/tolerance over the op's cases"
                  + ("" if aligned else " (informative here: the golden set must catch each one)") + ":")
        for (op, name), (r, f) in wrong.items():
            print(f"    {op:24s} {name:48s} {r:9.3g}  {'caught' if r > 1 else 'NOT caught'} (worst on {f})")
            if aligned:
                ok &= r > 1
    print("selfcheck", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main(sys.argv[1:]))
