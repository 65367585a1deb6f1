"""Writes the dino-golden/1 case files from PyTorch (Debian python3-torch 1.13.1, CPU).

Usage: /usr/bin/python3 reference-tests/generate/generate.py --out fixtures/golden [--op NAME]

Every case is a safetensors file fixtures/golden/<op>/<case>.safetensors (contract:
README.md, "The case-file format") and fixtures/golden/MANIFEST.json indexes them. The bytes are
deterministic: fixed seeds (torch.manual_seed per case), one thread, sorted JSON, no timestamps.
Precision: matmul, layer_norm, gelu, softmax, attention and dino_loss are computed in float64 from
the float32 inputs (autograd in float64) and stored rounded to float32; ema_update,
clip_gradients and adamw_step run the official float32 torch ops (their float32 rounding is the
reference); the schedules are float64 numpy as in the official utils. interpolate_pos_encoding,
vit_forward, vit_backward and dino_head run torch modules (official.py) in float64 from the float32
inputs, recomputed by bounds.py's hand-written forward/backward (asserted equal to 1e-9), whose
rounding-error model gives their tolerances; knn and attention_mask are float64 with integer
outputs; dino_train_steps is a float32 torch training run (the official code trains in float32)
whose tolerance is its measured drift to a float64 run and to a batch-permuted float32 run.
"""
import os

# one BLAS thread: float64 reductions in numpy (bounds.py) and torch then do not depend on the
# machine's core count
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import glob  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import bounds  # noqa: E402
import cases  # noqa: E402
import official  # noqa: E402
import safetensors_io  # noqa: E402

FORMAT = "dino-golden/1"
GENERATOR = "reference-tests/generate/generate.py"
F64_OPS = ("matmul", "layer_norm", "gelu", "softmax", "attention", "dino_loss")
F32_OPS = ("ema_update", "clip_gradients", "adamw_step")
SCHEDULE_OPS = ("cosine_schedule", "teacher_temp_schedule")
MODEL_OPS = ("interpolate_pos_encoding", "vit_forward", "vit_backward", "dino_head", "vit_trace")   # float64 -> float32
EVAL_OPS = ("knn", "attention_mask")                                                 # float64 -> integers
TRAIN_OPS = ("dino_train_steps",)                                                    # float32 runs
APP_OPS = ("retrieval_map", "copy_detection", "label_propagation")                  # float64 applications
OPS = F64_OPS + SCHEDULE_OPS + F32_OPS + MODEL_OPS + EVAL_OPS + TRAIN_OPS + APP_OPS


def torch_id():
    """'torch 1.13.1 (Debian python3-torch 1.13.1+dfsg-4, torch.__version__ 1.13.0a0)': Debian's
    build reports 1.13.0a0 although it is the 1.13.1 release."""
    try:
        deb = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-torch"], check=True,
                             capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        deb = ""
    if deb:
        upstream = deb.split("+")[0].split("-")[0]
        return f"torch {upstream} (Debian python3-torch {deb}, torch.__version__ {torch.__version__})"
    return f"torch {torch.__version__}"


def producers():
    tid = torch_id()
    return {
        "f64": f"{tid} cpu float64 (float32 inputs; outputs rounded to float32)",
        "f32": f"{tid} cpu float32",
        "schedule": f"numpy {np.__version__} float64 (official utils semantics)",
        "eval": f"{tid} cpu float64 (float32 inputs; integer, mask and percentage outputs)",
        "train": f"{tid} cpu float32 (torch.optim.AdamW foreach=False; loss float32 values stored as F64)",
        "app": f"{tid} + numpy {np.__version__} cpu float64 (float32 inputs; APs as F64, indices as I64, soft labels rounded to float32)",
    }


def generator_sha256(folder=HERE):
    """sha256 of the text `sha256sum` prints for every *.py file of reference-tests/generate in
    byte order of the names: lines '<hex>  <name>\\n'. Shell equivalent:
    cd reference-tests/generate && LC_ALL=C sha256sum $(LC_ALL=C ls *.py) | sha256sum"""
    names = sorted((os.path.basename(p) for p in glob.glob(os.path.join(folder, "*.py"))),
                   key=lambda n: n.encode())
    text = ""
    for n in names:
        with open(os.path.join(folder, n), "rb") as f:
            text += f"{hashlib.sha256(f.read()).hexdigest()}  {n}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def _t64(a, grad=False):
    t = torch.from_numpy(np.array(a, dtype=np.float32)).double()
    return t.requires_grad_(grad)


def _f32(t):
    return t.detach().float().numpy()


def _json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# One function per op: inputs (float32 numpy) and params -> outputs, tolerance table
# ---------------------------------------------------------------------------------------------

def run_matmul(ins, p):
    a, b, g = _t64(ins["a"], True), _t64(ins["b"], True), _t64(ins["grad_c"])
    c = a @ b
    c.backward(g)
    outs = {"c": _f32(c), "grad_a": _f32(a.grad), "grad_b": _f32(b.grad)}
    return outs, cases.tol_matmul(*(ins[n].astype(np.float64) for n in ("a", "b", "grad_c")))


def run_layer_norm(ins, p):
    x, w, b = _t64(ins["x"], True), _t64(ins["weight"], True), _t64(ins["bias"], True)
    y = official.layer_norm(x, w, b, p["eps"])
    y.backward(_t64(ins["grad_y"]))
    outs = {"y": _f32(y), "grad_x": _f32(x.grad), "grad_weight": _f32(w.grad), "grad_bias": _f32(b.grad)}
    d = {n: ins[n].astype(np.float64) for n in ("x", "weight", "bias", "grad_y")}
    return outs, cases.tol_layer_norm(d["x"], d["weight"], d["bias"], d["grad_y"], p["eps"])


def run_gelu(ins, p):
    x = _t64(ins["x"], True)
    y = official.gelu(x)
    y.backward(_t64(ins["grad_y"]))
    return {"y": _f32(y), "grad_x": _f32(x.grad)}, cases.tol_gelu(ins["x"], ins["grad_y"])


def run_softmax(ins, p):
    probs, log_probs = official.softmax_with_temperature(_t64(ins["logits"]), p["temperature"])
    return ({"probs": _f32(probs), "log_probs": _f32(log_probs)},
            cases.tol_softmax(ins["logits"].astype(np.float64), p["temperature"]))


def run_attention(ins, p):
    q, k, v = (_t64(ins[n], True) for n in ("q", "k", "v"))
    out, attn = official.attention(q, k, v, p["scale"])
    out.backward(_t64(ins["grad_out"]))
    outs = {"out": _f32(out), "attn": _f32(attn), "grad_q": _f32(q.grad), "grad_k": _f32(k.grad),
            "grad_v": _f32(v.grad)}
    d = [ins[n].astype(np.float64) for n in ("q", "k", "v", "grad_out")]
    return outs, cases.tol_attention(*d, p["scale"])


def run_dino_loss(ins, p):
    s, t, c = _t64(ins["student"], True), _t64(ins["teacher"]), _t64(ins["center"])
    loss = official.dino_loss(s, t, c, p["student_temp"], p["teacher_temp"], p["ncrops"])
    loss.backward()
    new_center = official.update_center(c, t, p["center_momentum"])   # after the loss, old centre used
    outs = {"loss": _f32(loss.reshape(1)), "grad_student": _f32(s.grad), "center": _f32(new_center)}
    d = [ins[n].astype(np.float64) for n in ("student", "teacher", "center")]
    return outs, cases.tol_dino_loss(*d, p["student_temp"], p["teacher_temp"], p["ncrops"],
                                     p["center_momentum"])


def run_cosine_schedule(ins, p):
    v = official.cosine_scheduler(p["base_value"], p["final_value"], p["epochs"], p["niter_per_ep"],
                                  p["warmup_epochs"], p["start_warmup_value"])
    scale = max(abs(p["base_value"]), abs(p["final_value"]), abs(p["start_warmup_value"]))
    return {"values": v.astype(np.float64)}, cases.tol_schedule(scale)


def run_teacher_temp_schedule(ins, p):
    v = official.teacher_temp_schedule(p["warmup_teacher_temp"], p["teacher_temp"],
                                       p["warmup_teacher_temp_epochs"], p["nepochs"])
    return {"values": v.astype(np.float64)}, cases.tol_schedule(max(p["warmup_teacher_temp"], p["teacher_temp"]))


def _keys(ins, prefix):
    return sorted((n[len(prefix):] for n in ins if n.startswith(prefix)), key=lambda k: k.encode())


def run_ema_update(ins, p):
    outs = {}
    for k in _keys(ins, "teacher."):
        t = torch.from_numpy(ins[f"teacher.{k}"].copy())
        official.ema_update(t, torch.from_numpy(ins[f"student.{k}"].copy()), p["momentum"])
        outs[f"teacher.{k}"] = t.numpy()
    tol = cases.tol_ema({k: ins[f"teacher.{k}"] for k in _keys(ins, "teacher.")},
                        {k: ins[f"student.{k}"] for k in _keys(ins, "teacher.")}, p["momentum"])
    return outs, tol


def run_clip_gradients(ins, p):
    keys = _keys(ins, "grad.")   # norms follow the byte order of the keys (contract)
    grads = [torch.from_numpy(ins[f"grad.{k}"].copy()) for k in keys]
    norms = official.clip_gradients(grads, p["clip"])
    outs = {f"grad.{k}": g.numpy() for k, g in zip(keys, grads)}
    outs["norms"] = torch.stack(norms).numpy().astype(np.float32)
    return outs, cases.tol_clip({k: ins[f"grad.{k}"] for k in keys}, p["clip"])


def run_adamw_step(ins, p):
    outs, state = {}, {}
    for k in _keys(ins, "param."):
        wd = p["weight_decay"] if int(ins[f"decay.{k}"][0]) == 1 else 0.0
        args = [torch.from_numpy(ins[f"{n}.{k}"].copy()) for n in ("param", "grad", "exp_avg", "exp_avg_sq")]
        hp = (p["lr"], wd, p["beta1"], p["beta2"], p["eps"], p["step"])
        via_optim = official.adamw_step_torch(*args, *hp)
        official.adamw_step_restated(*args, *hp)   # in place on args
        for a, b in zip((args[0], args[2], args[3]), via_optim):   # torch.optim.AdamW == restatement
            assert np.array_equal(a.numpy().view(np.uint32), b.numpy().view(np.uint32)), k
        outs[f"param.{k}"], outs[f"exp_avg.{k}"], outs[f"exp_avg_sq.{k}"] = (
            via_optim[0].numpy(), via_optim[1].numpy(), via_optim[2].numpy())
        state[k] = {n: ins[f"{n}.{k}"] for n in ("param", "grad", "exp_avg", "exp_avg_sq")}
    # the tolerance is built per key with that key's weight decay
    tol = {}
    for k in state:
        wd = p["weight_decay"] if int(ins[f"decay.{k}"][0]) == 1 else 0.0
        tol.update(cases.tol_adamw({k: state[k]}, p["lr"], wd, p["beta1"], p["beta2"], p["eps"], p["step"]))
    tol.pop("default")
    tol["default"] = [max(v[0] for v in tol.values()), max(v[1] for v in tol.values())]
    return outs, tol


# ---------------------------------------------------------------------------------------------
# Model and evaluation ops: torch float64 modules (official.py); the tolerances from bounds.py,
# whose hand-written float64 values must agree with torch's
# ---------------------------------------------------------------------------------------------

def _agree(bound_vals, torch_vals, what):
    """bounds.py's hand-written forward/backward must reproduce torch float64 autograd."""
    b, t = np.asarray(bound_vals, np.float64), np.asarray(torch_vals, np.float64)
    assert b.shape == t.shape, (what, b.shape, t.shape)
    scale = max(float(np.max(np.abs(t))) if t.size else 0.0, 1e-300)
    err = float(np.max(np.abs(b - t))) if t.size else 0.0
    assert err <= 1e-9 * scale, f"{what}: bounds.py differs from torch float64 by {err:.3g} (scale {scale:.3g})"


def _pos_grid_size(pos_embed, patch_size):
    g = int(round((pos_embed.shape[1] - 1) ** 0.5))
    return g * patch_size


NOISE_SEED = 1   # the random signs of bounds.error_bounds (same for every case)


def run_interpolate_pos_encoding(ins, p):
    out = official.interpolate_pos_encoding(_t64(ins["pos_embed"]), p["patch_size"], p["height"], p["width"])
    ref, e = bounds.error_bounds(bounds.pos_embed_op, ins["pos_embed"].astype(np.float64), p["patch_size"],
                                 p["height"], p["width"], seed=NOISE_SEED)
    _agree(ref["pos_embed"], out.numpy(), "interpolate_pos_encoding")
    return {"pos_embed": _f32(out)}, cases.tol_interpolate_pos_encoding(e)


def _vit64(ins, p):
    P = {n[len("model."):]: a for n, a in ins.items() if n.startswith("model.")}
    m = official.VisionTransformer(p["patch_size"], p["embed_dim"], p["depth"], p["num_heads"], p["mlp_ratio"],
                                   p["qkv_bias"], img_size=_pos_grid_size(P["pos_embed"], p["patch_size"]))
    official.load_params(m, P, torch.float64)
    return m, {k: v.astype(np.float64) for k, v in P.items()}


def run_vit_forward(ins, p):
    m, P = _vit64(ins, p)
    x = _t64(ins["images"])
    with torch.no_grad():
        cls, attn = m(x), m.get_last_selfattention(x)
    ref, e = bounds.error_bounds(bounds.vit, P, ins["images"].astype(np.float64), p, seed=NOISE_SEED)
    _agree(ref["cls"], cls.numpy(), "vit cls")
    _agree(ref["last_attn"], attn.numpy(), "vit last_attn")
    return {"cls": _f32(cls), "last_attn": _f32(attn)}, cases.tol_whole_network(e, ["cls", "last_attn"])


def run_vit_backward(ins, p):
    m, P = _vit64(ins, p)
    x = _t64(ins["images"], True)
    m(x).backward(_t64(ins["grad_cls"]))
    outs = {f"grad.model.{k}": _f32(t.grad) for k, t in m.named_parameters()}
    outs["grad_images"] = _f32(x.grad)
    ref, e = bounds.error_bounds(bounds.vit, P, ins["images"].astype(np.float64), p,
                                 grad_cls=ins["grad_cls"].astype(np.float64), seed=NOISE_SEED)
    for k, t in m.named_parameters():
        _agree(ref[f"grad.model.{k}"], t.grad.numpy(), k)
    _agree(ref["grad_images"], x.grad.numpy(), "grad_images")
    return outs, cases.tol_whole_network(e, list(outs))


def run_dino_head(ins, p):
    P = {n[len("head."):]: a for n, a in ins.items() if n.startswith("head.")}
    h = official.DINOHead(ins["x"].shape[1], p["out_dim"], p["nlayers"], p["hidden_dim"], p["bottleneck_dim"],
                          p["norm_last_layer"])
    official.load_params(h, P, torch.float64)
    x = _t64(ins["x"], True)
    y = h(x)
    y.backward(_t64(ins["grad_y"]))
    params = dict(h.named_parameters())
    trainable = sorted((k for k, t in params.items() if t.requires_grad), key=lambda k: k.encode())
    outs = {"y": _f32(y), "grad_x": _f32(x.grad)}
    outs.update({f"grad.head.{k}": _f32(params[k].grad) for k in trainable})
    ref, e = bounds.error_bounds(bounds.head, {k: v.astype(np.float64) for k, v in P.items()},
                                 ins["x"].astype(np.float64), p, ins["grad_y"].astype(np.float64), seed=NOISE_SEED)
    assert sorted(n for n in ref if n.startswith("grad.head.")) == sorted(f"grad.head.{k}" for k in trainable)
    _agree(ref["y"], y.detach().numpy(), "head y")
    _agree(ref["grad_x"], x.grad.numpy(), "head grad_x")
    for k in trainable:
        _agree(ref[f"grad.head.{k}"], params[k].grad.numpy(), k)
    return outs, cases.tol_whole_network(e, list(outs))


def run_vit_trace(ins, p):
    """The official modules with forward hooks (official.vit_trace) in float64; every intermediate
    recomputed by bounds.vit_trace, whose error model gives each one's tolerance."""
    m, P = _vit64(ins, p)
    head, HP = None, None
    if any(n.startswith("head.") for n in ins):
        HP = {n[len("head."):]: a for n, a in ins.items() if n.startswith("head.")}
        head = official.DINOHead(p["embed_dim"], p["out_dim"], p["nlayers"], p["hidden_dim"], p["bottleneck_dim"],
                                 p["norm_last_layer"])
        official.load_params(head, HP, torch.float64)
        HP = {k: v.astype(np.float64) for k, v in HP.items()}
    with torch.no_grad():
        trace = official.vit_trace(m, _t64(ins["x"]), head)
    ref, e = bounds.error_bounds(bounds.vit_trace, P, ins["x"].astype(np.float64), p, HP, p, seed=NOISE_SEED)
    assert sorted(ref) == sorted(trace), sorted(set(ref) ^ set(trace))
    for k in trace:
        _agree(ref[k], trace[k].numpy(), f"vit_trace {k}")
    return {k: _f32(v) for k, v in trace.items()}, cases.tol_whole_network(e, list(trace))


def run_knn(ins, p):
    norm = lambda a: F.normalize(_t64(a), dim=1, p=2)   # noqa: E731  (eval_knn.py normalises both sets)
    pred, top1, top5 = official.knn_classifier(norm(ins["train_features"]), torch.from_numpy(ins["train_labels"]),
                                               norm(ins["test_features"]), torch.from_numpy(ins["test_labels"]),
                                               p["k"], p["temperature"], p["num_classes"])
    outs = {"predictions": pred.numpy().astype(np.int64), "top1": np.array([top1], np.float64),
            "top5": np.array([top5], np.float64)}
    return outs, cases.tol_knn()


def run_attention_mask(ins, p):
    mask = official.attention_mask(_t64(ins["attn"]), p["threshold"])
    return {"mask": mask.numpy().astype(np.uint8)}, cases.tol_attention_mask()


def run_dino_train_steps(ins, p):
    """The float32 run is the reference (the official code trains in float32); its tolerance is
    the measured drift to the float64 run and to a float32 run with the batch permuted
    (cases.tol_train_steps). Also asserts that clip_grad > 0 clips some but not all tensors at
    every step, and that the frozen last layer (and a normalised weight_g) did not move."""
    ref, norms = official.train_steps_case(ins, p, torch.float32)
    f64, _ = official.train_steps_case(ins, p, torch.float64)
    B = ins["step0.crop0"].shape[0]
    perm, _ = official.train_steps_case(ins, p, torch.float32, perm=list(range(B))[::-1])
    for step_norms in norms:
        clipped = [n for n, v in step_norms.items() if v + 1e-6 > p["clip_grad"]]
        assert 0 < len(clipped) < len(step_norms), ("clip_grad must clip some tensors, not all", step_norms)
    for k in ("head.last_layer.weight_g", "head.last_layer.weight_v"):
        if p["freeze_last_layer"] or (k.endswith("_g") and p["norm_last_layer"]):
            assert np.array_equal(ref[f"student.{k}"], ins[f"student.{k}"].astype(np.float64)), k
    outs = {n: (v if n == "loss" else v.astype(np.float32)) for n, v in ref.items()}
    return outs, cases.tol_train_steps(ref, [f64, perm])


# ---------------------------------------------------------------------------------------------
# The paper's other applications: official.py restatements of eval_image_retrieval.py,
# eval_copy_detection.py and eval_video_segmentation.py, in float64
# ---------------------------------------------------------------------------------------------

def run_retrieval_map(ins, p):
    r = official.retrieval_map(_t64(ins["queries"]), _t64(ins["database"]), ins["relevance"])
    (map_m, ap_m, mp_m, _), (map_h, ap_h, mp_h, _) = r["medium"], r["hard"]
    outs = {"map_medium": np.array([map_m]), "map_hard": np.array([map_h]), "ap_medium": ap_m, "ap_hard": ap_h,
            "mp_medium": mp_m, "mp_hard": mp_h}
    rel = ins["relevance"]
    nres = int(max(np.max(np.sum((rel == 1) | (rel == 2), axis=1)), 1))
    return {k: np.asarray(v, np.float64) for k, v in outs.items()}, cases.tol_retrieval_map(rel.shape[0], nres)


def run_copy_detection(ins, p):
    idx, aps, m = official.copy_detection(_t64(ins["query_tokens"]), _t64(ins["database_tokens"]),
                                          _t64(ins["whitening_tokens"]), ins["positives"], p["topk"], p["gem_p"])
    nres = int(np.max(np.sum(ins["positives"], axis=1)))
    outs = {"indices": idx.numpy().astype(np.int64), "ap": aps.astype(np.float64), "map": np.array([m], np.float64)}
    return outs, cases.tol_copy_detection(ins["positives"].shape[0], nres)


def run_label_propagation(ins, p):
    seg, aff = official.label_propagation(_t64(ins["target"]), _t64(ins["context"]), _t64(ins["context_seg"]),
                                          p["topk"], p["size_mask_neighborhood"], p["temperature"])
    kept = int(torch.max(torch.sum(aff > 0, dim=0)))
    D = ins["target"].shape[2]
    return {"seg": _f32(seg)}, cases.tol_label_propagation(D, p["temperature"], kept, cases._amax(ins["context_seg"]))


RUN = {op: globals()[f"run_{op}"] for op in OPS}


def build_case(op, case, prod):
    if op in SCHEDULE_OPS:
        ins, params = {}, dict(case["params"])
    else:
        torch.manual_seed(case["seed"])
        ins, params = cases.BUILDERS[op](case)
    outs, tol = RUN[op](ins, params)
    producer = (prod["schedule"] if op in SCHEDULE_OPS else prod["f32"] if op in F32_OPS
                else prod["eval"] if op in EVAL_OPS else prod["train"] if op in TRAIN_OPS
                else prod["app"] if op in APP_OPS else prod["f64"])
    seed = f" (seed {case['seed']})" if "seed" in case else ""
    meta = {"format": FORMAT, "op": op, "params": _json(params), "tolerance": _json(tol),
            "producer": producer, "description": f"{op}: {case['desc']}{seed}; {cases.RULE}."}
    tensors = {f"in.{n}": a for n, a in ins.items()}
    tensors.update({f"out.{n}": a for n, a in outs.items()})
    return tensors, meta


def write_manifest(out_dir, prod):
    entries = []
    for path in sorted(glob.glob(os.path.join(out_dir, "*", "*.safetensors"))):
        rel = os.path.relpath(path, out_dir).replace(os.sep, "/")
        with open(path, "rb") as f:
            data = f.read()
        _, meta, _ = safetensors_io.decode(data, rel)
        entries.append({"file": rel, "op": meta["op"], "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data)})
    entries.sort(key=lambda e: e["file"].encode())
    manifest = {"format": FORMAT, "generator": GENERATOR, "generator_sha256": generator_sha256(),
                "producer": f"{torch_id()} cpu; float64 from float32 inputs for {', '.join(F64_OPS + MODEL_OPS + EVAL_OPS + APP_OPS)}; "
                            f"float32 for {', '.join(F32_OPS + TRAIN_OPS)}; {prod['schedule']} for the schedules",
                "cases": entries}
    with open(os.path.join(out_dir, "MANIFEST.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(manifest, sort_keys=True, indent=1) + "\n")
    return entries


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="fixtures/golden", help="output folder (default fixtures/golden)")
    ap.add_argument("--op", default="all", help=f"one op or 'all': {', '.join(OPS)}")
    args = ap.parse_args(argv)
    if args.op != "all" and args.op not in OPS:
        ap.error(f"unknown op {args.op!r}; expected one of {', '.join(OPS)} or all")
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    prod = producers()
    ops = OPS if args.op == "all" else (args.op,)
    for op in ops:
        folder = os.path.join(args.out, op)
        if os.path.isdir(folder):
            shutil.rmtree(folder)       # no stale cases of this op survive
        os.makedirs(folder)
        for case in cases.CASES[op]:
            tensors, meta = build_case(op, case, prod)
            safetensors_io.write(os.path.join(folder, f"{case['name']}.safetensors"), tensors, meta)
    entries = write_manifest(args.out, prod)
    total = sum(e["bytes"] for e in entries)
    print(f"wrote {sum(len(cases.CASES[o]) for o in ops)} cases ({', '.join(ops)}); "
          f"manifest lists {len(entries)} files, {total} bytes")


if __name__ == "__main__":
    main()
