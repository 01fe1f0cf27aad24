"""The simple baseline snapkb's retrieval is judged against: a short script anyone could write.

BeautifulSoup on each page's body, greedy ~200-word passages inside sections (each passage
prefixed with its section heading), then three rankings of the passages per question: exact
cosine over all-MiniLM-L6-v2 vectors (the same model and vectors as snapkb, from the
`snapkb-embed` binary), rank_bm25's BM25Okapi, and reciprocal-rank fusion of the two (k = 60).
Passages fold to their page in rank order and are scored like `snapkb eval` scores documents.

Usage: python3 baseline.py DOCS_DIR QUESTIONS.jsonl SNAPKB_EMBED_BIN
Prints a markdown table (and the passage count) on stdout.
"""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
from bs4 import BeautifulSoup
from rank_bm25 import BM25Okapi

PASSAGE_WORDS = 200
CUTOFF = 10
RRF_K = 60


def passages_of(html):
    """Greedy passages of about PASSAGE_WORDS words inside each section, heading first."""
    soup = BeautifulSoup(html, "html.parser")
    body = soup.body or soup
    for tag in body(["script", "style", "nav"]):
        tag.decompose()
    out, heading, words = [], "", []

    def flush():
        if words:
            out.append((heading + "\n" + " ".join(words)).strip())
        words.clear()

    for el in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "dd", "dt", "td"]):
        if el.find_parent(["p", "li", "pre", "dd", "dt", "td"]) is not None:
            continue  # its text is part of an enclosing block
        text = " ".join(el.get_text(" ").split())
        if not text:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            flush()
            heading = text
            continue
        for w in text.split():
            words.append(w)
            if len(words) >= PASSAGE_WORDS:
                flush()
    flush()
    return out


def tokens(text):
    return re.findall(r"\w+", text.lower())


def embed(texts, binary):
    proc = subprocess.run(
        [binary], input="\n".join(t.replace("\n", " ") for t in texts) + "\n",
        capture_output=True, text=True, check=True,
    )
    vectors = np.array([json.loads(line) for line in proc.stdout.splitlines()], dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def score(ranked_pages, relevant):
    top = ranked_pages[:CUTOFF]
    first = next((i for i, p in enumerate(top) if p in relevant), None)
    gain = lambda i: 1.0 / math.log2(i + 2)
    dcg = sum(gain(i) for i, p in enumerate(top) if p in relevant)
    ideal = sum(gain(i) for i in range(min(len(relevant), CUTOFF)))
    return {
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        "hit1": float(first is not None and first < 1),
        "hit5": float(first is not None and first < 5),
        "hit10": float(first is not None),
        "ndcg": dcg / ideal if ideal else 0.0,
    }


def pages_in_order(order, owner):
    seen, pages = set(), []
    for i in order:
        p = owner[i]
        if p not in seen:
            seen.add(p)
            pages.append(p)
    return pages


def main():
    docs, questions_path, binary = sys.argv[1:4]
    texts, owner = [], []
    for name in sorted(os.listdir(docs)):
        if not name.endswith(".html"):
            continue
        with open(os.path.join(docs, name), encoding="utf-8", errors="replace") as f:
            for p in passages_of(f.read()):
                texts.append(p)
                owner.append(name)
    questions = [json.loads(l) for l in open(questions_path) if l.strip() and not l.startswith("//")]
    vectors = embed(texts, binary)
    queries = embed([q["question"] for q in questions], binary)
    bm25 = BM25Okapi([tokens(t) for t in texts])
    results = {"vector": [], "keyword": [], "hybrid": []}
    for q, qv in zip(questions, queries):
        relevant = set(q["relevant"])
        cos = vectors @ qv
        by_vector = list(np.argsort(-cos)[:200])
        kw = bm25.get_scores(tokens(q["question"]))
        by_keyword = list(np.argsort(-kw)[:200])
        fused = {}
        for ranking in (by_vector, by_keyword):
            for rank, i in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        by_hybrid = sorted(fused, key=lambda i: -fused[i])
        for mode, order in (("vector", by_vector), ("keyword", by_keyword), ("hybrid", by_hybrid)):
            results[mode].append(score(pages_in_order(order, owner), relevant))
    print(f"baseline: {len(texts)} passages of {len(set(owner))} pages, {len(questions)} questions\n")
    print("| method | MRR@10 | Hit@1 | Hit@5 | Hit@10 | nDCG@10 |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, label in (("vector", "exact MiniLM cosine"), ("keyword", "rank_bm25"), ("hybrid", "RRF of the two")):
        rows = results[mode]
        avg = lambda k: sum(r[k] for r in rows) / len(rows)
        print(f"| baseline {label} | {avg('mrr'):.3f} | {avg('hit1'):.3f} | {avg('hit5'):.3f} | {avg('hit10'):.3f} | {avg('ndcg'):.3f} |")


if __name__ == "__main__":
    main()
