"""Minimal safetensors writer and reader for dino-golden/1 case files (numpy only).

Debian bookworm has no python3-safetensors, so this is our own small implementation of the
public format: 8-byte little-endian header length N, N bytes of JSON header, then the raw
little-endian tensor data. Our writer is deterministic byte for byte:
  - header entries: "__metadata__" first (its keys sorted), then the tensors ordered by
    (element size descending, name in byte order), so that every tensor starts at a multiple of
    its element size; each entry is {"dtype", "shape", "data_offsets"} in that order;
  - compact JSON (separators "," and ":", ASCII only), padded with spaces so that 8 + N is a
    multiple of 8;
  - tensor data contiguous in header order, with no holes.
The reader accepts any valid file (any entry order, unaligned data) and checks that the data
offsets tile the buffer exactly.
"""
import json
import struct

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8"), "U8": np.dtype("u1")}
_BY_NUMPY = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64",
             np.dtype("uint8"): "U8"}


def _dtype_name(a):
    try:
        return _BY_NUMPY[a.dtype.newbyteorder("=")]
    except KeyError:
        raise TypeError(f"unsupported dtype {a.dtype}; use float32, float64, int64 or uint8")


def encode(tensors, metadata):
    """Return the bytes of a safetensors file. tensors: name -> numpy array; metadata: str -> str."""
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"__metadata__ must map str to str, got {k!r}: {type(v).__name__}")
    arrays = {name: np.asarray(a) for name, a in tensors.items()}
    order = sorted(arrays, key=lambda n: (-DTYPES[_dtype_name(arrays[n])].itemsize, n.encode()))
    parts = ['"__metadata__":' + json.dumps({k: metadata[k] for k in sorted(metadata)},
                                              separators=(",", ":"), ensure_ascii=True)]
    blobs = []
    offset = 0
    for name in order:
        a = arrays[name]
        dname = _dtype_name(a)
        raw = np.ascontiguousarray(a, dtype=DTYPES[dname]).tobytes()
        entry = {"dtype": dname, "shape": [int(s) for s in a.shape],
                 "data_offsets": [offset, offset + len(raw)]}
        parts.append(json.dumps(name, ensure_ascii=True) + ":" +
                     json.dumps(entry, separators=(",", ":"), ensure_ascii=True))
        blobs.append(raw)
        offset += len(raw)
    header = ("{" + ",".join(parts) + "}").encode("ascii")
    header += b" " * ((-(8 + len(header))) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(blobs)


def write(path, tensors, metadata):
    data = encode(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)
    return data


def decode(buf, name="<buffer>"):
    """Parse safetensors bytes. Returns (tensors, metadata, info) where info holds the header
    length, the entry order and each tensor's absolute byte offset (for alignment checks)."""
    if len(buf) < 8:
        raise ValueError(f"{name}: shorter than 8 bytes")
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError(f"{name}: header length {n} exceeds the file")
    text = buf[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        raise ValueError(f"{name}: header does not start with '{{'")
    pairs = json.loads(text, object_pairs_hook=lambda kv: kv)
    header = dict(pairs)
    metadata = header.pop("__metadata__", {}) or {}
    metadata = dict(metadata)
    data = buf[8 + n:]
    spans = []
    tensors = {}
    offsets = {}
    for tname, e in header.items():
        e = dict(e)
        if e["dtype"] not in DTYPES:
            raise ValueError(f"{name}: tensor {tname}: unsupported dtype {e['dtype']}")
        dt = DTYPES[e["dtype"]]
        begin, end = e["data_offsets"]
        count = int(np.prod(e["shape"], dtype=np.int64)) if e["shape"] else 1
        if end - begin != count * dt.itemsize:
            raise ValueError(f"{name}: tensor {tname}: {end - begin} bytes for shape {e['shape']} {e['dtype']}")
        spans.append((begin, end, tname))
        tensors[tname] = np.frombuffer(data[begin:end], dtype=dt).reshape(e["shape"]).copy()
        offsets[tname] = 8 + n + begin
    spans.sort()
    pos = 0
    for begin, end, tname in spans:
        if begin != pos:
            raise ValueError(f"{name}: tensor {tname}: hole or overlap at data offset {pos}..{begin}")
        pos = end
    if pos != len(data):
        raise ValueError(f"{name}: {len(data) - pos} trailing bytes after the last tensor")
    info = {"header_len": n, "order": [k for k, _ in pairs], "offsets": offsets,
            "dtypes": {k: dict(v)["dtype"] for k, v in pairs if k != "__metadata__"}}
    return tensors, metadata, info


def read(path):
    with open(path, "rb") as f:
        return decode(f.read(), str(path))
