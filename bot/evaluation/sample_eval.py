"""The bundled sample's labelled questions: does each get the route (and article) it should?"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.app import SAMPLE_DIR
from bot.contracts import IncomingMessage, Member

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

_run = itertools.count()


def evaluate_sample(app: Deskhand, path: Path | None = None) -> dict[str, Any]:
    """Route accuracy, wrong answers and per-line misses on bot/sample/eval.jsonl."""
    path = path or SAMPLE_DIR / "eval.jsonl"
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    stem = {a.id: Path(a.source).stem for a in app.kb.list()}
    run = next(_run)
    matched, wrong, misses = 0, 0, []
    for i, row in enumerate(rows):
        msg = IncomingMessage(
            "eval", "sample", f"r{run}-{i}", "", row["text"], Member(f"sample-{run}-{i}")
        )
        reply = app.service.handle(msg)
        cited = stem.get(reply.citations[0].article_id, "") if reply.citations else ""
        right_article = row["expect"] != "answer" or cited == row.get("article")
        if reply.route == "answer" and (row["expect"] != "answer" or not right_article):
            wrong += 1
        if reply.route == row["expect"] and right_article:
            matched += 1
        else:
            misses.append(
                {
                    "text": row["text"],
                    "expect": row["expect"],
                    "got": reply.route,
                    "cited": cited,
                    "reasons": reply.reasons,
                }
            )
    n = len(rows)
    return {
        "n": n,
        "matched": matched,
        "matched_rate": round(matched / n, 4),
        "answered_wrong": wrong,
        "misses": misses,
    }
