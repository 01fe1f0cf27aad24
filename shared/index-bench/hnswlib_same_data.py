#!/usr/bin/env python3
"""hnswlib (C++, PyPI) on exactly the vectors snapkb-index-bench used, for a same-machine,
same-data comparison. Usage:

    snapkb-index-bench --save-data DIR ...   # writes DIR/base.fbin and DIR/queries.fbin
    pip install hnswlib numpy
    python3 shared/index-bench/hnswlib_same_data.py DIR [--k 10] [--ef 16,32,64,128]

Single-threaded, inner-product space on the normalized vectors, M=16, ef_construction=200.
"""
import argparse
import json
import time

import hnswlib
import numpy as np


def read_fbin(path):
    raw = np.fromfile(path, dtype=np.uint8)
    n, d = np.frombuffer(raw[:8], dtype=np.uint32)
    return np.frombuffer(raw[8:], dtype=np.float32).reshape(int(n), int(d))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ef", default="16,32,64,128,256")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    args = ap.parse_args()
    base = read_fbin(f"{args.dir}/base.fbin")
    queries = read_fbin(f"{args.dir}/queries.fbin")
    n, d = base.shape
    index = hnswlib.Index(space="ip", dim=d)
    index.init_index(max_elements=n, ef_construction=args.ef_construction, M=args.m)
    index.set_num_threads(1)
    t = time.perf_counter()
    index.add_items(base, num_threads=1)
    build_s = time.perf_counter() - t
    truth = np.argsort(-(queries @ base.T), axis=1)[:, : args.k]
    results = []
    for ef in [int(e) for e in args.ef.split(",")]:
        index.set_ef(max(ef, args.k))
        latencies, hits = [], 0
        for q, t_ids in zip(queries, truth):
            t = time.perf_counter()
            labels, _ = index.knn_query(q, k=args.k, num_threads=1)
            latencies.append((time.perf_counter() - t) * 1e6)
            hits += len(set(labels[0]) & set(t_ids))
        latencies.sort()
        results.append({
            "ef": ef,
            "recall_at_10": hits / (len(queries) * args.k),
            "p50_us": latencies[len(latencies) // 2],
            "p99_us": latencies[int(len(latencies) * 0.99)],
        })
    print(json.dumps({"engine": f"hnswlib {hnswlib.__version__ if hasattr(hnswlib, '__version__') else ''}".strip(),
                      "n": n, "dims": d, "build_s": build_s, "build_vectors_per_s": n / build_s,
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
