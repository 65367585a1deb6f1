"""PyTorch CPU throughput on this machine, for comparison with `dino-ref bench`.

Run: /usr/bin/python3 reference-tests/bench_vit_torch.py [--repeats N] [--threads 1,2] [--models vits16,tiny]

Prints one JSON object per line:
  {"name": "environment", ...}                                   torch version, BLAS in use
  {"name": "vit_small/16 forward 224px b16", "impl": "torch", "threads": T, "images_per_s": ...}
  {"name": "vit_tiny_p4_d64 forward+backward 32px b32", "impl": "torch", "threads": T, "images_per_s": ...}

Models (reference-tests/generate/official.py, float32, dropout/drop path 0):
  - ViT-S/16: D 384, depth 12, 6 heads, mlp 4, 224x224 images, batch 16; forward only
    (eval, torch.inference_mode), the k-NN / linear-probe feature pass.
  - tiny ViT: patch 4, D 64, depth 4, 4 heads, mlp 4, 32x32 images (8x8 = 64 patches + CLS),
    batch 32; forward + backward of sum(cls * g) (a training step's network part; no optimizer).
Timing: one warm-up run, then the median of --repeats runs (wall clock, time.perf_counter).
Threads: torch.set_num_threads(T) AND openblas_set_num_threads(T). Debian's torch is built with
BLAS_INFO=generic and calls the system libblas.so.3 (OpenBLAS when libopenblas0-pthread is
installed, as here); it does not forward set_num_threads to OpenBLAS, whose pthread build would
otherwise use every core even at T = 1 (and oversubscribe at T = 2). Each line records the
BLAS thread count, the OpenBLAS kernel in use (openblas_core: its choice for this CPU unless
OPENBLAS_CORETYPE forces one) and the 1-minute load average (the cores may be shared).
"""
import argparse
import ctypes
import json
import os
import re
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "generate"))

import torch  # noqa: E402

import official  # noqa: E402


def blas_info():
    cfg = torch.__config__.show()
    m = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    return {"name": "environment", "torch": torch.__version__, "build_blas_info": m.group(1) if m else "?",
            "libblas.so.3": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"),
            "blas_libraries_loaded": loaded_blas(), "cpu_count": os.cpu_count(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"), "loadavg_1min": os.getloadavg()[0]}


def loaded_blas():
    torch.randn(64, 64) @ torch.randn(64, 64)           # make sure the BLAS is loaded
    try:
        with open("/proc/self/maps") as f:
            return sorted({ln.split()[-1] for ln in f if "blas" in ln.lower() and "/" in ln})
    except OSError:
        return []


def set_threads(n):
    """torch's intra-op threads AND OpenBLAS's own pool (Debian's generic-BLAS torch does not
    forward set_num_threads to OpenBLAS, whose pthread build otherwise uses every core: with
    torch at 2 threads that oversubscribes). Returns OpenBLAS's thread count and kernel name
    (None, None without it)."""
    torch.set_num_threads(n)
    for lib in loaded_blas():
        if "openblas" in os.path.basename(lib):
            ob = ctypes.CDLL(lib)
            ob.openblas_set_num_threads(n)
            ob.openblas_get_corename.restype = ctypes.c_char_p
            return ob.openblas_get_num_threads(), ob.openblas_get_corename().decode()
    return None, None


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def bench_vits16(threads, repeats):
    torch.manual_seed(0)
    m = official.vit_small(16).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, 0, 0.02)
    x = torch.randn(16, 3, 224, 224)

    def fwd():
        with torch.inference_mode():
            m(x)

    med, times = timed(fwd, repeats)
    return {"name": "vit_small/16 forward 224px b16", "impl": "torch", "threads": threads,
            "images_per_s": round(16 / med, 2), "ms_per_batch": round(1000 * med, 1), "repeats": repeats}


def bench_tiny(threads, repeats):
    torch.manual_seed(0)
    m = official.VisionTransformer(4, 64, 4, 4, 4.0, True, img_size=32)
    for p in m.parameters():
        torch.nn.init.normal_(p, 0, 0.05)
    x = torch.randn(32, 3, 32, 32, requires_grad=True)
    g = torch.randn(32, 64)

    def step():
        m.zero_grad(set_to_none=True)
        x.grad = None
        m(x).backward(g)

    med, times = timed(step, repeats)
    return {"name": "vit_tiny_p4_d64 forward+backward 32px b32", "impl": "torch", "threads": threads,
            "images_per_s": round(32 / med, 1), "ms_per_batch": round(1000 * med, 2), "repeats": repeats}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="comma-separated torch.set_num_threads values")
    ap.add_argument("--models", default="vits16,tiny", help="comma-separated: vits16 (forward), tiny (forward+backward)")
    args = ap.parse_args(argv)
    models = {"vits16": (bench_vits16, args.repeats), "tiny": (bench_tiny, 4 * args.repeats)}
    chosen = [m for m in args.models.split(",") if m]
    unknown = [m for m in chosen if m not in models]
    if unknown:
        ap.error(f"--models: unknown {unknown}; expected some of {sorted(models)}")
    print(json.dumps(blas_info()), flush=True)
    for t in (int(v) for v in args.threads.split(",")):
        blas_threads, core = set_threads(t)
        for fn, reps in (models[m] for m in chosen):
            r = fn(t, reps)
            r.update({"blas_threads": blas_threads, "openblas_core": core, "loadavg_1min": round(os.getloadavg()[0], 2)})
            print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
