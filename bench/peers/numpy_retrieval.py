"""numpy peer of `sail eval --task retrieval`: read a sail store (fp16 or fp32 parts), apply a linear
head from its safetensors file (LayerNorm -> Linear -> L2 normalise), and compute exact pessimistic
ranks in both directions from one blocked product (rank = 1 + non-positives scoring >= the positive).

Rows are 1:1 pairs (image i <-> caption i). Prints one JSON line with R@1/5/10 both ways, the seconds
of the whole run (read, head, ranks), the BLAS in use and the environment.
Usage: python3 numpy_retrieval.py --store DIR --head FILE.safetensors [--threads 2] [--block 2048]
"""
import argparse
import json
import os
import struct
import sys
import time

T0 = time.perf_counter()


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--head")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--block", type=int, default=2048)
    ap.add_argument("--image-modality", default="image")
    ap.add_argument("--text-modality", default="text")
    return ap.parse_args()


ARGS = parse()
# before numpy loads OpenBLAS
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blasinfo import blas_kind, env_report, loaded_blas  # noqa: E402


def read_modality(store, name):
    with open(os.path.join(store, "manifest.json")) as f:
        man = json.load(f)
    spec = man["modalities"][name]
    dtype = np.float16 if spec["dtype"] == "float16" else np.float32
    parts = []
    for p in man["parts"]:
        with open(os.path.join(store, p["name"] + ".json")) as f:
            info = json.load(f)
        parts.append(np.fromfile(os.path.join(store, info["files"][name]["file"]), dtype=dtype).reshape(-1, spec["dim"]))
    return np.concatenate(parts).astype(np.float32)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"])
    return out


def apply_head(x, w, side):
    mu = x.mean(1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(1, keepdims=True)
    y = xc / np.sqrt(var + 1e-5) * w[f"{side}_layer_norm.weight"] + w[f"{side}_layer_norm.bias"]
    z = y @ w[f"{side}_mapping_network.weight"].T + w[f"{side}_mapping_network.bias"]
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def main():
    v = read_modality(ARGS.store, ARGS.image_modality)
    t = read_modality(ARGS.store, ARGS.text_modality)
    if ARGS.head:
        w = read_safetensors(ARGS.head)
        v = apply_head(v, w, "vision")
        t = apply_head(t, w, "text")
    else:
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        t /= np.linalg.norm(t, axis=1, keepdims=True)
    n = v.shape[0]
    t_read = time.perf_counter()
    pos = np.einsum("ij,ij->i", v, t)  # score of each pair = the threshold both ways (1:1 pairs)
    row = np.zeros(n, np.int64)
    col = np.zeros(n, np.int64)
    b = ARGS.block
    for q0 in range(0, n, b):
        q1 = min(n, q0 + b)
        s = v[q0:q1] @ t.T  # [b, n]: one product serves both directions
        row[q0:q1] += (s >= pos[q0:q1, None]).sum(1)
        col += (s >= pos[None, :]).sum(0)
        # the pairs inside this block counted themselves if their own score reached the threshold
        d = s[np.arange(q1 - q0), np.arange(q0, q1)]
        row[q0:q1] -= d >= pos[q0:q1]
        col[q0:q1] -= d >= pos[q0:q1]
    ranks = {"imageToText": row + 1, "textToImage": col + 1}
    out = {"peer": "numpy", "numpy": np.__version__, "n": n, "threads": ARGS.threads}
    for k, r in ranks.items():
        out[k] = {f"R@{x}": float(100 * np.mean(r <= x)) for x in (1, 5, 10)}
    libs = loaded_blas()
    out.update({
        "seconds_read_and_head": t_read - T0, "seconds_total": time.perf_counter() - T0,
        "blas": blas_kind(libs), "blas_libraries": libs, "env": env_report(),
    })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
