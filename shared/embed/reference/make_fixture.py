#!/usr/bin/env python3
"""Reference embeddings for all-MiniLM-L6-v2, computed independently of our Rust code.

sentence-transformers needs PyTorch, and PyPI's torch wheels pull in CUDA packages (gigabytes)
that this workplace cannot justify, so this is the fallback the issue allows: a NumPy forward
pass of the same BERT (float64) over the same model.safetensors, tokenized by the reference
`tokenizers` Python package with the same tokenizer.json, truncated to 256 word pieces,
attention-masked mean pooling and L2 normalization, exactly as sentence-transformers configures
this model (1_Pooling/config.json: mean tokens; sentence_bert_config.json: max_seq_length 256).

Run once; the output is committed:
    pip install numpy safetensors tokenizers
    infra/dev/fetch-model.sh
    python3 shared/embed/reference/make_fixture.py models/all-MiniLM-L6-v2 \
        shared/embed/reference/sentences.json shared/embed/tests/fixtures/reference_vectors.json
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_PIECES = 256


def layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu(x):
    # BERT's exact GELU: x * Phi(x), with the error function.
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def encode(weights, config, ids):
    w = {k: v.astype(np.float64) for k, v in weights.items() if v.dtype != np.int64}
    heads = config["num_attention_heads"]
    hidden = config["hidden_size"]
    head_dim = hidden // heads
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][:n]
    x = x + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], config["layer_norm_eps"])
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda name, t: t @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        q = lin("attention.self.query", x).reshape(n, heads, head_dim).transpose(1, 0, 2)
        k = lin("attention.self.key", x).reshape(n, heads, head_dim).transpose(1, 0, 2)
        v = lin("attention.self.value", x).reshape(n, heads, head_dim).transpose(1, 0, 2)
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
        scores = scores - scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs = probs / probs.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(1, 0, 2).reshape(n, hidden)
        x = layer_norm(x + lin("attention.output.dense", context),
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                       config["layer_norm_eps"])
        inner = gelu(lin("intermediate.dense", x))
        x = layer_norm(x + lin("output.dense", inner),
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], config["layer_norm_eps"])
    # One sentence at a time, so every position is real: masked mean = plain mean.
    pooled = x.mean(axis=0)
    return pooled / np.linalg.norm(pooled)


def main():
    model_dir, sentences_path, out_path = sys.argv[1:4]
    config = json.load(open(f"{model_dir}/config.json"))
    weights = load_file(f"{model_dir}/model.safetensors")
    tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tokenizer.enable_truncation(max_length=MAX_PIECES)
    tokenizer.no_padding()
    sentences = json.load(open(sentences_path))
    out = []
    for text in sentences:
        enc = tokenizer.encode(text)
        vector = encode(weights, config, enc.ids)
        out.append({"text": text, "pieces": len(enc.ids), "truncated": len(enc.overflowing) > 0,
                    "vector": [round(float(v), 7) for v in vector]})
    json.dump({"model": "sentence-transformers/all-MiniLM-L6-v2", "max_pieces": MAX_PIECES,
               "made_by": "shared/embed/reference/make_fixture.py (NumPy float64 forward pass)",
               "sentences": out}, open(out_path, "w"), indent=1)
    print(f"wrote {len(out)} reference vectors to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
