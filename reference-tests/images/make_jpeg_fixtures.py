"""Writes small JPEG files and what PIL decodes them to, for the JPEG reader's tests.

Usage (Debian's python3-pil, libjpeg-turbo):

  /usr/bin/python3 reference-tests/images/make_jpeg_fixtures.py --out fixtures/jpeg     # (re)write
  /usr/bin/python3 reference-tests/images/make_jpeg_fixtures.py --check fixtures/jpeg   # regenerate into a temp folder, compare byte for byte

The official evaluation scripts read images with torchvision's default loader,
PIL.Image.open(f).convert("RGB"); each <name>.jpg here comes with <name>.pil.png, that RGB image
saved losslessly, so a test can measure how far another decoder lands from PIL's. The source
image is a 37x23 colour pattern (smooth gradients, a sharp edge, fine stripes), seeded:

  rgb420.jpg       baseline, quality 90, 4:2:0 chroma subsampling (PIL's default)
  rgb444.jpg       baseline, quality 90, no chroma subsampling
  progressive.jpg  progressive, quality 80, 4:2:0
  grey.jpg         single channel (L), quality 90
  cmyk.jpg         CMYK (Adobe), quality 90
MANIFEST.json records the producer, PIL's version and every file's sha256.
"""
import argparse
import hashlib
import json
import os
import sys
import tempfile

import numpy as np
from PIL import Image, features

W, H = 37, 23


def pattern():
    rng = np.random.RandomState(0)
    y, x = np.mgrid[0:H, 0:W]
    r = 255 * x / (W - 1)
    g = 255 * y / (H - 1)
    b = np.where(x + y > 30, 220, 40) + 30 * np.sin(x * 1.3)
    img = np.stack([r, g, b], -1) + rng.normal(0, 6, (H, W, 3))
    img[:, 30:32] = [250, 250, 250]  # a sharp vertical stripe
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out")
    g.add_argument("--check")
    a = ap.parse_args()
    if a.out:
        write_all(a.out)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        write_all(tmp)
        names = sorted(set(os.listdir(tmp)) | set(os.listdir(a.check)))
        bad = [n for n in names if not (os.path.exists(os.path.join(a.check, n)) and os.path.exists(os.path.join(tmp, n))
                                        and open(os.path.join(a.check, n), "rb").read() == open(os.path.join(tmp, n), "rb").read())]
    for n in bad:
        print(f"check jpeg fixtures: {n} differs from a regeneration", file=sys.stderr)
    print("jpeg fixtures: " + ("FAIL" if bad else "identical to a regeneration"))
    return 1 if bad else 0


def write_all(out):
    os.makedirs(out, exist_ok=True)
    src = pattern()
    saves = {
        "rgb420.jpg": (src, dict(quality=90, subsampling=2)),
        "rgb444.jpg": (src, dict(quality=90, subsampling=0)),
        "progressive.jpg": (src, dict(quality=80, progressive=True, subsampling=2)),
        "grey.jpg": (src.convert("L"), dict(quality=90)),
        "cmyk.jpg": (src.convert("CMYK"), dict(quality=90)),
    }
    files = []
    for name, (img, kw) in saves.items():
        path = os.path.join(out, name)
        img.save(path, "JPEG", **kw)
        decoded = os.path.join(out, name[:-4] + ".pil.png")
        with Image.open(path) as f:
            f.convert("RGB").save(decoded, "PNG")
        for p in (path, decoded):
            files.append({"file": os.path.basename(p), "bytes": os.path.getsize(p),
                          "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest()})
    manifest = {
        "producer": f"reference-tests/images/make_jpeg_fixtures.py with Pillow {Image.__version__} "
                    f"(libjpeg-turbo {features.version('libjpeg_turbo')}), Python {sys.version.split()[0]}",
        "files": files,
    }
    with open(os.path.join(out, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"{out}: {len(files)} files")


if __name__ == "__main__":
    sys.exit(main())
