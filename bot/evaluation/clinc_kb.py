"""A second help center for `eval decisions --dataset clinc-kb`, built from CLINC150 at run time.

90 intents from six domains become 90 FAQ articles: the title is the intent's most central train
phrasing (nearest the mean of its train vectors), the body "About <intent>." plus the next four
central ones. The questions are CLINC150 *val* lines of those intents (never in an article); the
off-topic lines are val's and train's out-of-scope lines plus every third val line of the four
other domains (cooking, travel... are off-topic for a banking-and-home help center). Rows are
grouped per intent with an even count each, so `--split dev` takes every other val line of every
intent and `--split test` the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

IN_SCOPE_DOMAINS = ("banking", "credit_cards", "auto_and_commute", "travel", "work", "home")
BODY_PHRASINGS = 4
OTHER_DOMAIN_EVERY = 3


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def build_clinc_kb(clinc_dir: Path, out_dir: Path, embedder: Any) -> tuple[Path, Path, Path]:
    """Write faq.jsonl, queries.jsonl and oos.jsonl under `out_dir`; return their paths."""
    domains = json.loads((clinc_dir / "domains.json").read_text(encoding="utf-8"))
    train = _jsonl(clinc_dir / "train.jsonl")
    val = _jsonl(clinc_dir / "val.jsonl")
    intents = [i for d in IN_SCOPE_DOMAINS for i in domains[d]]
    faq = []
    for intent in intents:
        texts = [r["text"] for r in train if r["intent"] == intent]
        vectors = np.asarray(embedder.embed(texts))
        order = np.argsort(-(vectors @ vectors.mean(axis=0)), kind="stable")
        title = texts[order[0]]
        extra = [texts[i].rstrip("?.") + "?" for i in order[1 : 1 + BODY_PHRASINGS]]
        body = f"About {intent.replace('_', ' ')}. " + " ".join(extra)
        question = title[0].upper() + title[1:] + ("" if title.endswith("?") else "?")
        faq.append({"id": intent, "question": question, "answer": body})
    queries = [
        {"text": r["text"], "faq_ids": [intent]}
        for intent in intents
        for r in val
        if r["intent"] == intent
    ]
    others = [r for r in val if r["intent"] != "oos" and r["intent"] not in intents]
    off = [r for r in val + train if r["intent"] == "oos"] + others[::OTHER_DOMAIN_EVERY]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / "faq.jsonl", out_dir / "queries.jsonl", out_dir / "oos.jsonl"
    for path, rows in zip(
        paths, (faq, queries, [{"text": r["text"], "intent": "oos"} for r in off]), strict=True
    ):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return paths
