"""The CLINC-built help center for `eval decisions --dataset clinc-kb`: articles from train
phrasings, questions only from val, the two halves disjoint."""

from __future__ import annotations

import json
from pathlib import Path

from bot.evaluation.clinc_kb import IN_SCOPE_DOMAINS, build_clinc_kb
from bot.evaluation.decisions import load_labelled, split_rows
from knowledge.embeddings import HashingEmbedder


def _fake_clinc(root: Path) -> Path:
    """Two intents per domain (six in scope, one other), five train and four val lines each."""
    domains = {d: [f"{d}_a", f"{d}_b"] for d in (*IN_SCOPE_DOMAINS, "cooking")}
    train, val = [], []
    for intents in domains.values():
        for intent in intents:
            train += [{"text": f"train {intent} phrasing {i}", "intent": intent} for i in range(5)]
            val += [{"text": f"val {intent} question {i}", "intent": intent} for i in range(4)]
    val += [{"text": "what is the weather", "intent": "oos"}]
    train += [{"text": "tell me a joke", "intent": "oos"}]
    root.mkdir()
    (root / "domains.json").write_text(json.dumps(domains))
    for name, rows in (("train", train), ("val", val)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_clinc_kb_articles_come_from_train_and_questions_from_val(tmp_path: Path) -> None:
    faq, queries, oos = build_clinc_kb(
        _fake_clinc(tmp_path / "clinc"), tmp_path / "kb", HashingEmbedder()
    )
    articles = [json.loads(x) for x in faq.read_text().splitlines()]
    assert len(articles) == 2 * len(IN_SCOPE_DOMAINS)
    assert all(
        "train" in a["question"].lower() and a["answer"].startswith("About ") for a in articles
    )
    rows = load_labelled(queries, oos)
    in_scope = [r for r in rows if r[1]]
    assert len(in_scope) == 4 * len(articles)
    assert all(text.startswith("val ") for text, _ in in_scope)
    off = {text for text, gold in rows if not gold}
    assert {"what is the weather", "tell me a joke"} <= off
    assert any("cooking" in t for t in off) and not any("banking" in t for t in off)
    dev, test = split_rows(rows, "dev"), split_rows(rows, "test")
    assert not {t for t, _ in dev} & {t for t, _ in test}
    # every intent is asked in both halves
    assert {g for _, g in dev if g} == {g for _, g in test if g} == {g for _, g in in_scope}
