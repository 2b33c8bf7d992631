"""The evaluation suite through the CLI on small slices: JSON keys, reports and plots exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import deskhand


@pytest.fixture
def slices(tmp_path: Path, datasets: Path) -> dict[str, Path]:
    """Small slices of the shared datasets, written to tmp (never into the repo)."""
    train = [
        json.loads(x) for x in (datasets / "clinc150" / "train.jsonl").read_text().splitlines()
    ]
    val = [json.loads(x) for x in (datasets / "clinc150" / "val.jsonl").read_text().splitlines()]
    keep = sorted({r["intent"] for r in train if r["intent"] != "oos"})[:8] + ["oos"]
    out = {
        "train": tmp_path / "train.jsonl",
        "val": tmp_path / "val.jsonl",
        "oos": tmp_path / "oos.jsonl",
    }
    out["train"].write_text("\n".join(json.dumps(r) for r in train if r["intent"] in keep))
    out["val"].write_text("\n".join(json.dumps(r) for r in val if r["intent"] in keep))
    out["oos"].write_text("\n".join(json.dumps(r) for r in val if r["intent"] == "oos"))
    return out


def test_eval_intents_json_and_report(tmp_path: Path, slices: dict[str, Path]) -> None:
    run = deskhand(
        tmp_path / "home",
        "eval",
        "intents",
        "--train",
        str(slices["train"]),
        "--test",
        str(slices["val"]),
        "--json",
        "--quiet",
        "--report-dir",
        str(tmp_path / "r"),
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    for key in (
        "n",
        "in_scope_accuracy",
        "oos_recall",
        "oos_precision",
        "macro_f1",
        "threshold",
        "p50_ms",
        "p95_ms",
    ):
        assert key in data
    assert data["in_scope_accuracy"] > 0.85
    assert (tmp_path / "r" / "intents.md").exists()
    assert (tmp_path / "r" / "intents_sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_retrieval_and_decisions_json(
    tmp_path: Path, slices: dict[str, Path], datasets: Path
) -> None:
    faq, queries = datasets / "covidfaq" / "faq.jsonl", datasets / "covidfaq" / "queries.jsonl"
    pairs = tmp_path / "pairs.jsonl"  # stands in for the held-out pairs, which are run once
    pairs.write_text(
        json.dumps(
            {
                "first": "my parcel arrived damaged, can I claim a refund?",
                "followup": "how long does that take?",
                "articles": ["refunds"],
                "kind": "context",
            }
        )
        + "\n"
        + json.dumps(
            {
                "first": "a billing thing",
                "followup": "my hub arrived broken",
                "articles": ["hub-shipping-returns"],
                "kind": "new_topic",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    run = deskhand(
        tmp_path / "home",
        "eval",
        "retrieval",
        "--faq",
        str(faq),
        "--queries",
        str(queries),
        "--limit",
        "60",
        "--json",
        "--quiet",
        "--report-dir",
        str(tmp_path / "r"),
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert {"n", "mrr", "hit_at_1", "hit_at_5", "p50_ms", "p95_ms"} <= data.keys()
    assert data["n"] == 60 and data["mrr"] > 0.6
    assert data["mrr"] <= data["label_ceiling"]["mrr"] <= 1.0
    assert (tmp_path / "r" / "retrieval_scores.png").read_bytes()[:4] == b"\x89PNG"
    run = deskhand(
        tmp_path / "home",
        "eval",
        "decisions",
        "--faq",
        str(faq),
        "--queries",
        str(queries),
        "--oos",
        str(slices["oos"]),
        "--heldout-followups",
        str(pairs),
        "--limit",
        "60",
        "--split",
        "all",
        "--json",
        "--quiet",
        "--report-dir",
        str(tmp_path / "r"),
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    for key in (
        "n",
        "answered_correct",
        "answered_wrong",
        "clarified",
        "escalated",
        "declined",
        "answered_wrong_rate",
        "in_scope_correct_rate",
        "oos_answered_rate",
        "smalltalk_ticket_rate",
        "followups",
        "intervals_95",
    ):
        assert key in data
    assert data["n"] == sum(
        data[k]
        for k in ("answered_correct", "answered_wrong", "clarified", "escalated", "declined")
    )
    assert data["smalltalk_n"] == 50 and data["smalltalk_ticket_rate"] == 0.0
    dev, heldout = data["followups"]["dev"], data["followups"]["heldout"]
    assert dev["context"]["n"] == 15 and dev["new_topic"]["n"] == 5
    assert heldout["kb"] == "sample" and heldout["context"]["answered_right"] == 1
    assert heldout["new_topic"]["answered_right"] == heldout["new_topic"]["treated_as_new"] == 1
    low, high = data["intervals_95"]["in_scope_correct_rate"]
    assert low <= data["in_scope_correct_rate"] <= high
    assert data["oos_answered"] == 0
    assert data["oos_ticket_unasked_rate"] == 0.0  # off-topic lines are declined, never tickets
    assert 0 <= data["clarified_right_offered"] <= data["clarified"]
    ceiling = data["label_ceiling"]
    assert ceiling["max_wrong_rate"] == 0.02 and 0 < ceiling["answered_correct_rate"] <= 1
    assert (tmp_path / "r" / "decisions_precision_coverage.png").exists()
