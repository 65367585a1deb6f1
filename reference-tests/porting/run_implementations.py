"""Runs real DINO implementations on our cases and writes the table of docs/porting.md.

Usage:
    /usr/bin/python3 reference-tests/porting/run_implementations.py --dino CHECKOUT --lightly CHECKOUT [--write-docs]

CHECKOUT: a work tree of facebookresearch/dino at 7c446df and one of lightly-ai/lightly. Their code
is imported from there and run with Debian's torch 1.13 in float32, as the libraries run; nothing
of theirs is copied into this project. Each function writes its outputs on every case it can
express (fixtures/golden and fixtures/external) as ACTUAL files, `dino-ref compare --json --partial`
judges them (with its diagnosis), and a failing case is compared again with --precision float32,
float16 and bfloat16 to find the first precision tier whose tolerance it meets. The markdown table
goes to stdout, and with --write-docs between the markers of docs/porting.md.

What the environment forces (reported in the table's notes): no torchvision here, so main_dino.py
and eval_knn.py import against a stub `torchvision` whose attributes are never used by the
functions run; torch.distributed is not initialised, so DINOLoss.update_center sees a one-process
all_reduce (the identity) and world size 1; train_one_epoch's `.cuda()` and
`torch.cuda.synchronize()` are the identity on this CPU; lightly.models.utils imports
torchvision.ops.StochasticDepth, stubbed likewise.
"""
import argparse
import contextlib
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from functools import partial

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "reference-tests", "generate"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import dino_golden as dg  # noqa: E402
import official as ours  # noqa: E402  (only vit_trace: forward hooks by module name, on THEIR modules)

SETS = ("fixtures/golden", "fixtures/external")
BEGIN, END = "<!-- implementations:begin -->", "<!-- implementations:end -->"


class CannotExpress(Exception):
    """The implementation has no way to compute this case (reported, not counted as a failure)."""


# ---------------------------------------------------------------------------------------------
# Importing their code
# ---------------------------------------------------------------------------------------------

def stub_torchvision():
    """A `torchvision` module whose attributes are placeholders (imports succeed; never called)."""
    if "torchvision" in sys.modules:
        return
    class Any(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            # a class for class names (the scripts subclass datasets.ImageFolder), a stub module otherwise
            return type(name, (object,), {}) if name[:1].isupper() else Any(f"{self.__name__}.{name}")

        def __call__(self, *a, **k):
            raise RuntimeError(f"stub {self.__name__} called")
    for name in ("torchvision", "torchvision.datasets", "torchvision.transforms", "torchvision.models", "torchvision.ops"):
        sys.modules[name] = Any(name)
    sys.modules["torchvision"].datasets = sys.modules["torchvision.datasets"]
    sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
    sys.modules["torchvision"].models = sys.modules["torchvision.models"]
    sys.modules["torchvision"].ops = sys.modules["torchvision.ops"]
    sys.modules["torchvision.ops"].StochasticDepth = type("StochasticDepth", (nn.Module,), {})


def import_dino(path):
    stub_torchvision()
    sys.path.insert(0, path)
    main_dino = importlib.import_module("main_dino")
    utils = importlib.import_module("utils")
    vits = importlib.import_module("vision_transformer")
    eval_knn = importlib.import_module("eval_knn")
    # one process: all_reduce is the identity and the world size 1 (torch.distributed is not initialised)
    main_dino.dist = types.SimpleNamespace(all_reduce=lambda t: None, get_world_size=lambda: 1)
    return main_dino, utils, vits, eval_knn


def import_lightly(path):
    """lightly's modules one by one, without running its package __init__ files (which import
    optional dependencies such as torchvision and pytorch_lightning)."""
    stub_torchvision()
    for pkg in ("lightly", "lightly.loss", "lightly.models", "lightly.models.modules", "lightly.utils",
                "lightly.utils.benchmarking"):
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(path, *pkg.split("."))]
        sys.modules[pkg] = m
    mods = {}
    for name in ("lightly.loss.dino_loss", "lightly.utils.scheduler", "lightly.models.utils",
                 "lightly.models.modules.heads", "lightly.utils.benchmarking.knn"):
        try:
            mods[name] = importlib.import_module(name)
        except Exception as e:   # noqa: BLE001  (reported in the table)
            mods[name] = e
    return mods


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def t32(a):
    return torch.from_numpy(np.array(a, dtype=np.float32).copy())


def np32(t):
    return t.detach().float().numpy()


def keys(ins, prefix):
    return sorted((n[len(prefix):] for n in ins if n.startswith(prefix)), key=lambda k: k.encode())


def load(module, tensors):
    module.load_state_dict({k: t32(v) for k, v in tensors.items()}, strict=True)
    return module


def grid_size(pos):
    return int(round((pos.shape[1] - 1) ** 0.5))


def official_vit(vits, P, p):
    """vision_transformer.VisionTransformer as the official vit_* constructors build it
    (norm_layer LayerNorm eps 1e-6), for the case's sizes."""
    m = vits.VisionTransformer(img_size=[grid_size(P["pos_embed"]) * p["patch_size"]], patch_size=p["patch_size"],
                               embed_dim=p["embed_dim"], depth=p["depth"], num_heads=p["num_heads"],
                               mlp_ratio=p["mlp_ratio"], qkv_bias=p["qkv_bias"], norm_layer=partial(nn.LayerNorm, eps=1e-6))
    return load(m, P)


def official_head(vits, P, p, in_dim):
    h = vits.DINOHead(in_dim, p["out_dim"], use_bn=False, norm_last_layer=p["norm_last_layer"], nlayers=p["nlayers"],
                      hidden_dim=p["hidden_dim"], bottleneck_dim=p["bottleneck_dim"])
    return load(h, P)


def head_outputs(h, ins, official_key=lambda k: k):
    """A dino_head case's outputs from a head module: y, grad_x and the trainable parameters'
    gradients under their official keys."""
    x = t32(ins["x"]).requires_grad_()
    y = h(x)
    y.backward(t32(ins["grad_y"]))
    out = {"y": np32(y), "grad_x": np32(x.grad)}
    out.update({f"grad.head.{official_key(k)}": np32(q.grad) for k, q in h.named_parameters() if q.requires_grad})
    return out


class OneProcessDDP(nn.Module):
    """What DistributedDataParallel looks like to train_one_epoch: the network under `.module`."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x)


@contextlib.contextmanager
def on_cpu():
    """train_one_epoch moves images to the GPU and synchronises it: both the identity here."""
    saved = torch.Tensor.cuda, torch.cuda.synchronize
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.cuda.synchronize = lambda *a, **k: None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        torch.Tensor.cuda, torch.cuda.synchronize = saved


# ---------------------------------------------------------------------------------------------
# The official code (facebookresearch/dino @ 7c446df)
# ---------------------------------------------------------------------------------------------

def dino_functions(main_dino, utils, vits, eval_knn):
    def loss(ins, p):
        K = ins["center"].shape[1]
        fn = main_dino.DINOLoss(K, p["ncrops"], p["teacher_temp"], p["teacher_temp"], 0, 1, p["student_temp"], p["center_momentum"])
        fn.center = t32(ins["center"])
        s = t32(ins["student"]).requires_grad_()
        value = fn(s, t32(ins["teacher"]), 0)
        value.backward()
        return {"loss": np32(value.reshape(1)), "grad_student": np32(s.grad), "center": np32(fn.center)}

    def cosine(ins, p):
        return {"values": np.asarray(utils.cosine_scheduler(p["base_value"], p["final_value"], p["epochs"], p["niter_per_ep"],
                                                            p["warmup_epochs"], p["start_warmup_value"]), np.float64)}

    def teacher_temp(ins, p):
        fn = main_dino.DINOLoss(1, 2, p["warmup_teacher_temp"], p["teacher_temp"], p["warmup_teacher_temp_epochs"], p["nepochs"])
        return {"values": np.asarray(fn.teacher_temp_schedule, np.float64)}

    def clip(ins, p):
        ks = keys(ins, "grad.")
        holder = nn.Module()
        for i, k in enumerate(ks):   # registered in the byte order of the keys: the order of out.norms
            setattr(holder, f"p{i}", nn.Parameter(torch.zeros_like(t32(ins[f"grad.{k}"]))))
        for i, k in enumerate(ks):
            getattr(holder, f"p{i}").grad = t32(ins[f"grad.{k}"])
        norms = utils.clip_gradients(holder, p["clip"])
        out = {f"grad.{k}": np32(getattr(holder, f"p{i}").grad) for i, k in enumerate(ks)}
        out["norms"] = np.array(norms, np.float32)
        return out

    def interpolate(ins, p):
        pos = ins["pos_embed"]
        D = pos.shape[2]
        m = vits.VisionTransformer(img_size=[grid_size(pos) * p["patch_size"]], patch_size=p["patch_size"], embed_dim=D,
                                   depth=0, num_heads=1, norm_layer=partial(nn.LayerNorm, eps=1e-6))
        m.pos_embed.data = t32(pos)
        rows, cols = p["height"] // p["patch_size"], p["width"] // p["patch_size"]
        x = torch.zeros(1, 1 + rows * cols, D)
        with torch.no_grad():   # as prepare_tokens calls it: (x, w, h) with w, h = the image's dims 2 and 3
            return {"pos_embed": np32(m.interpolate_pos_encoding(x, p["height"], p["width"]))}

    def vit_forward(ins, p):
        m = official_vit(vits, {n[6:]: a for n, a in ins.items() if n.startswith("model.")}, p)
        x = t32(ins["images"])
        with torch.no_grad():
            return {"cls": np32(m(x)), "last_attn": np32(m.get_last_selfattention(x))}

    def vit_backward(ins, p):
        m = official_vit(vits, {n[6:]: a for n, a in ins.items() if n.startswith("model.")}, p)
        x = t32(ins["images"]).requires_grad_()
        m(x).backward(t32(ins["grad_cls"]))
        out = {f"grad.model.{k}": np32(q.grad) for k, q in m.named_parameters()}
        out["grad_images"] = np32(x.grad)
        return out

    def vit_trace(ins, p):
        m = official_vit(vits, {n[6:]: a for n, a in ins.items() if n.startswith("model.")}, p)
        head = None
        if any(n.startswith("head.") for n in ins):
            head = official_head(vits, {n[5:]: a for n, a in ins.items() if n.startswith("head.")}, p, p["embed_dim"])
        with torch.no_grad():
            return {k: np32(v) for k, v in ours.vit_trace(m, t32(ins["x"]), head).items()}

    def dino_head(ins, p):
        h = official_head(vits, {n[5:]: a for n, a in ins.items() if n.startswith("head.")}, p, ins["x"].shape[1])
        return head_outputs(h, ins)

    def knn(ins, p):
        norm = lambda a: F.normalize(t32(a), dim=1, p=2)   # noqa: E731  (eval_knn.py normalises both sets)
        top1, top5 = eval_knn.knn_classifier(norm(ins["train_features"]), torch.from_numpy(ins["train_labels"].copy()),
                                             norm(ins["test_features"]), torch.from_numpy(ins["test_labels"].copy()),
                                             p["k"], p["temperature"], p["num_classes"])
        return {"top1": np.array([top1], np.float64), "top5": np.array([top5], np.float64)}   # no predictions returned

    def train_steps(ins, p):
        S = len(ins["lr"])
        ncrops = len([n for n in ins if n.startswith("step0.crop")])
        nets = {}
        for side in ("student", "teacher"):
            W = {n[len(side) + 1:]: a for n, a in ins.items() if n.startswith(side + ".")}
            vit = official_vit(vits, {k[9:]: v for k, v in W.items() if k.startswith("backbone.")}, p)
            head = official_head(vits, {k[5:]: v for k, v in W.items() if k.startswith("head.")}, p, p["embed_dim"])
            nets[side] = utils.MultiCropWrapper(vit, head)
        teacher = nets["teacher"]
        for q in teacher.parameters():
            q.requires_grad = False
        student = OneProcessDDP(nets["student"])
        loss = main_dino.DINOLoss(p["out_dim"], ncrops, 0.04, 0.04, 0, S, p["student_temp"], p["center_momentum"])
        loss.center = t32(ins["center"])
        loss.teacher_temp_schedule = np.asarray(ins["teacher_temp"], np.float64)   # indexed by epoch = step
        optimizer = torch.optim.AdamW(utils.get_params_groups(student), betas=(p["beta1"], p["beta2"]), eps=p["eps"])
        args = types.SimpleNamespace(epochs=S, clip_grad=p["clip_grad"], freeze_last_layer=S if p["freeze_last_layer"] else 0)
        losses = []
        with on_cpu():
            for s in range(S):   # one epoch of one batch per step: the schedules' index it = epoch = s
                crops = [t32(ins[f"step{s}.crop{i}"]) for i in range(ncrops)]
                stats = main_dino.train_one_epoch(student, teacher, teacher, loss, [(crops, None)], optimizer,
                                                  ins["lr"], ins["wd"], ins["momentum"], s, None, args)
                losses.append(stats["loss"])
        out = {f"student.{k}": np32(q) for k, q in nets["student"].named_parameters()}
        out.update({f"teacher.{k}": np32(q) for k, q in teacher.named_parameters()})
        out["center"] = np32(loss.center)
        out["loss"] = np.array(losses, np.float64)
        return out

    return {
        "main_dino.py DINOLoss (forward, update_center)": {"dino_loss": loss},
        "main_dino.py DINOLoss.teacher_temp_schedule": {"teacher_temp_schedule": teacher_temp},
        "utils.py cosine_scheduler": {"cosine_schedule": cosine},
        "utils.py clip_gradients": {"clip_gradients": clip},
        "vision_transformer.py VisionTransformer": {"interpolate_pos_encoding": interpolate, "vit_forward": vit_forward,
                                                    "vit_backward": vit_backward, "vit_trace": vit_trace},
        "vision_transformer.py DINOHead": {"dino_head": dino_head},
        "eval_knn.py knn_classifier": {"knn": knn},
        "main_dino.py train_one_epoch": {"dino_train_steps": train_steps},
    }


# ---------------------------------------------------------------------------------------------
# lightly
# ---------------------------------------------------------------------------------------------

def lightly_functions(mods):
    out = {}
    dl = mods["lightly.loss.dino_loss"]
    if not isinstance(dl, Exception):
        def loss(ins, p):
            K = ins["center"].shape[1]
            fn = dl.DINOLoss(output_dim=K, warmup_teacher_temp=p["teacher_temp"], teacher_temp=p["teacher_temp"],
                             warmup_teacher_temp_epochs=0, student_temp=p["student_temp"], center_momentum=p["center_momentum"])
            fn.center = t32(ins["center"]).reshape(1, 1, K)
            s = t32(ins["student"]).requires_grad_()
            views = list(s.chunk(p["ncrops"]))
            value = fn(list(t32(ins["teacher"]).chunk(2)), views, teacher_temp=p["teacher_temp"])
            value.backward()
            return {"loss": np32(value.reshape(1)), "grad_student": np32(s.grad), "center": np32(fn.center.reshape(1, K))}

        def teacher_temp(ins, p):
            fn = dl.DINOLoss(output_dim=1, warmup_teacher_temp=p["warmup_teacher_temp"], teacher_temp=p["teacher_temp"],
                             warmup_teacher_temp_epochs=p["warmup_teacher_temp_epochs"])
            # the temperature its forward(epoch=e) uses: the float32 linspace during the warm-up, then teacher_temp
            vals = [float(fn.teacher_temp_schedule[e]) if e < fn.warmup_teacher_temp_epochs else float(torch.tensor(fn.teacher_temp))
                    for e in range(p["nepochs"])]
            return {"values": np.array(vals, np.float64)}
        out["lightly.loss.DINOLoss"] = {"dino_loss": loss}
        out["lightly.loss.DINOLoss teacher temperature (its forward's epoch schedule)"] = {"teacher_temp_schedule": teacher_temp}
    sch = mods["lightly.utils.scheduler"]
    if not isinstance(sch, Exception):
        def cosine(ins, p):
            total, warm = p["epochs"] * p["niter_per_ep"], p["warmup_epochs"] * p["niter_per_ep"]
            if warm > 0:
                vals = [sch.cosine_warmup_schedule(i, total, p["base_value"], p["final_value"], warm, p["start_warmup_value"])
                        for i in range(total)]
            else:
                vals = [sch.cosine_schedule(i, total, p["base_value"], p["final_value"]) for i in range(total)]
            return {"values": np.array(vals, np.float64)}
        out["lightly.utils.scheduler cosine_(warmup_)schedule"] = {"cosine_schedule": cosine}
    mu = mods["lightly.models.utils"]
    if not isinstance(mu, Exception):
        def ema(ins, p):
            result = {}
            for k in keys(ins, "teacher."):
                t, s = nn.Linear(1, 1), nn.Linear(1, 1)
                t.weight, s.weight = nn.Parameter(t32(ins[f"teacher.{k}"])), nn.Parameter(t32(ins[f"student.{k}"]))
                del t.bias, s.bias
                t.bias = s.bias = None
                mu.update_momentum(s, t, p["momentum"])
                result[f"teacher.{k}"] = np32(t.weight)
            return result
        out["lightly.models.utils update_momentum"] = {"ema_update": ema}
    heads = mods["lightly.models.modules.heads"]
    if not isinstance(heads, Exception):
        def head(ins, p):
            if p["nlayers"] != 3:
                raise CannotExpress(f"DINOProjectionHead has 3 layers; the case has nlayers {p['nlayers']}")
            W = {n[5:]: a for n, a in ins.items() if n.startswith("head.")}
            h = heads.DINOProjectionHead(ins["x"].shape[1], p["hidden_dim"], p["bottleneck_dim"], p["out_dim"],
                                         norm_last_layer=p["norm_last_layer"])
            load(h, {k.replace("mlp.", "layers."): v for k, v in W.items()})
            return head_outputs(h, ins, lambda k: k.replace("layers.", "mlp."))
        out["lightly.models.modules.heads DINOProjectionHead"] = {"dino_head": head}
    kn = mods["lightly.utils.benchmarking.knn"]
    if not isinstance(kn, Exception):
        def knn(ins, p):
            tr, te = F.normalize(t32(ins["train_features"]), dim=1), F.normalize(t32(ins["test_features"]), dim=1)
            ranked = kn.knn_predict(te, tr.t(), torch.from_numpy(ins["train_labels"]), p["num_classes"], p["k"], p["temperature"])
            y = torch.from_numpy(ins["test_labels"]).view(-1, 1)
            top1 = float((ranked[:, :1] == y).sum()) * 100.0 / len(y)
            top5 = float((ranked[:, :min(5, p["k"], p["num_classes"])] == y).sum()) * 100.0 / len(y)
            return {"predictions": ranked[:, 0].numpy().astype(np.int64), "top1": np.array([top1]), "top5": np.array([top5])}
        out["lightly.utils.benchmarking knn_predict"] = {"knn": knn}
    return out


# ---------------------------------------------------------------------------------------------
# Running and judging
# ---------------------------------------------------------------------------------------------

def cli(*args):
    r = subprocess.run(["node", os.path.join(ROOT, "bin", "dino-ref.js"), "compare", *args], capture_output=True, text=True, cwd=ROOT)
    if r.returncode == 2:
        raise RuntimeError(f"dino-ref compare {' '.join(args)}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def judge(functions, tmp, label):
    """{function: {op: {"cases", "pass", "fail": [(case, diagnosis ids, tier)], "raised": [...], "cannot": [...]}}}"""
    table = {}
    for fname, ops in functions.items():
        table[fname] = {}
        for op, fn in ops.items():
            row = {"cases": 0, "pass": 0, "fail": [], "raised": [], "cannot": []}
            table[fname][op] = row
            for s in SETS:
                folder = os.path.join(ROOT, s, op)
                if not os.path.isdir(folder):
                    continue
                for path in dg.find_case_files(folder):
                    rel = os.path.relpath(path, ROOT)
                    case = dg.read_case(path)
                    row["cases"] += 1
                    try:
                        outs = fn(case.inputs, case.params)
                    except CannotExpress as e:
                        row["cannot"].append((rel, str(e)))
                        continue
                    except Exception as e:   # noqa: BLE001  (an implementation that raises is a finding)
                        row["raised"].append((rel, f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"))
                        continue
                    actual = os.path.join(tmp, label, rel)
                    os.makedirs(os.path.dirname(actual), exist_ok=True)
                    dg.write_actual(actual, outs, producer=fname)
                    [r] = cli("--json", "--partial", path, actual)
                    if r["verdict"] == "pass":
                        row["pass"] += 1
                        continue
                    tier = None
                    for precision in ("float32", "float16", "bfloat16"):
                        [q] = cli("--json", "--partial", "--no-diagnosis", "--precision", precision, path, actual)
                        if q["verdict"] == "pass":
                            tier = precision
                            break
                    worst = max(r["outputs"], key=lambda o: o["worst_ratio"] if o["worst_ratio"] is not None else float("inf"))
                    row["fail"].append((rel, [d["id"] for d in r["diagnosis"]], tier, worst["output"], worst["worst_ratio"]))
    return table


def short(rel):
    """fixtures/golden/op/name.safetensors -> golden/name"""
    parts = rel.split("/")
    return f"{parts[1]}/{parts[-1][:-len('.safetensors')]}"


def markdown(title, table):
    lines = [f"| {title} | op | cases | pass | fail: diagnosis, tier where it passes | could not run |", "| --- | --- | ---: | ---: | --- | --- |"]
    for fname, ops in table.items():
        for op, row in ops.items():
            fails = "; ".join(
                f"`{short(c)}` ({'diagnosis ' + ', '.join(f'`{i}`' for i in ids) if ids else 'no catalogue match'}; "
                f"{'passes at ' + tier if tier else 'fails every tier'}; worst `{out}` {ratio:.3g}x tol)" if ratio is not None else
                f"`{short(c)}` ({'diagnosis ' + ', '.join(ids) if ids else 'no catalogue match'}; worst `{out}`)"
                for c, ids, tier, out, ratio in row["fail"]) or "-"
            other = "; ".join([f"`{short(c)}` raises {why}" for c, why in row["raised"]]
                              + [f"`{short(c)}`: {why}" for c, why in row["cannot"]]) or "-"
            lines.append(f"| {fname} | `{op}` | {row['cases']} | {row['pass']} | {fails} | {other} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dino", required=True, help="a checkout of facebookresearch/dino at 7c446df")
    ap.add_argument("--lightly", required=True, help="a checkout of lightly-ai/lightly")
    ap.add_argument("--write-docs", action="store_true", help="replace the table in docs/porting.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="dino-impls-")
    try:
        official = judge(dino_functions(*import_dino(os.path.abspath(args.dino))), tmp, "official")
        mods = import_lightly(os.path.abspath(args.lightly))
        lightly = judge(lightly_functions(mods), tmp, "lightly")
    finally:
        shutil.rmtree(tmp)
    missing = [f"`{n}` ({type(e).__name__}: {str(e).splitlines()[0][:100]})" for n, e in mods.items() if isinstance(e, Exception)]
    text = "\n\n".join([
        markdown("official function (facebookresearch/dino @ 7c446df)", official),
        markdown("lightly function", lightly),
        f"lightly modules that could not be imported here: {', '.join(missing) if missing else 'none'}.",
    ])
    print(text)
    if args.write_docs:
        path = os.path.join(ROOT, "docs", "porting.md")
        doc = open(path, encoding="utf-8").read()
        start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        with open(path, "w", encoding="utf-8") as f:
            f.write(doc[:start] + "\n" + text + "\n" + doc[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
