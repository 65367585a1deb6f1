"""Writes the dino-golden/1 case files from PyTorch (Debian python3-torch 1.13.1, CPU).

Usage: /usr/bin/python3 reference-tests/generate/generate.py --out fixtures/golden [--op NAME]

Every case is a safetensors file fixtures/golden/<op>/<case>.safetensors (contract:
shared/golden-format.md) and fixtures/golden/MANIFEST.json indexes them. The bytes are
deterministic: fixed seeds (torch.manual_seed per case), one thread, sorted JSON, no timestamps.
Precision: matmul, layer_norm, gelu, softmax, attention and dino_loss are computed in float64 from
the float32 inputs (autograd in float64) and stored rounded to float32; ema_update,
clip_gradients and adamw_step run the official float32 torch ops (their float32 rounding is the
reference); the schedules are float64 numpy as in the official utils.
"""
import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import cases  # noqa: E402
import official  # noqa: E402
import safetensors_io  # noqa: E402

FORMAT = "dino-golden/1"
GENERATOR = "reference-tests/generate/generate.py"
F64_OPS = ("matmul", "layer_norm", "gelu", "softmax", "attention", "dino_loss")
F32_OPS = ("ema_update", "clip_gradients", "adamw_step")
SCHEDULE_OPS = ("cosine_schedule", "teacher_temp_schedule")
OPS = F64_OPS + SCHEDULE_OPS + F32_OPS


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


RUN = {op: globals()[f"run_{op}"] for op in OPS}


def build_case(op, case, prod):
    if op in SCHEDULE_OPS:
        ins, params = {}, dict(case["params"])
    else:
        torch.manual_seed(case["seed"])
        ins, params = cases.BUILDERS[op](case)
    outs, tol = RUN[op](ins, params)
    producer = prod["schedule"] if op in SCHEDULE_OPS else prod["f32"] if op in F32_OPS else prod["f64"]
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
                "producer": f"{torch_id()} cpu; float64 from float32 inputs for {', '.join(F64_OPS)}; "
                            f"float32 for {', '.join(F32_OPS)}; {prod['schedule']} for the schedules",
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
