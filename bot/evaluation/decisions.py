"""The whole graph on labelled questions: answered right, answered wrong, clarified, escalated."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.app import Deskhand
from bot.config import Config
from bot.contracts import IncomingMessage, Member
from graph.nodes.clarify import candidate_options
from graph.routing import confidence_of, decide
from graph.state import DEFAULT_THRESHOLDS, Thresholds


@dataclass
class Outcome:
    """One labelled question and what the graph saw and did with it."""

    text: str
    gold: frozenset[str]  # article external ids that answer it; empty = must not be answered
    route: str
    answered_id: str  # external id of the cited article, "" when not answered
    hits: list[dict[str, Any]]
    signals: dict[str, Any]
    classification: dict[str, Any]
    latency_ms: float
    content_words: int | None = None

    @property
    def in_scope(self) -> bool:
        """Whether some article answers it."""
        return bool(self.gold)


def load_labelled(
    queries: Path, oos: Path | None = None, limit: int | None = None
) -> list[tuple[str, frozenset[str]]]:
    """CovidFAQ-style queries ({text, faq_ids}) plus out-of-scope lines ({text}, or CLINC's intent == oos)."""
    rows: list[tuple[str, frozenset[str]]] = []
    for line in Path(queries).read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            rows.append((item["text"], frozenset(str(x) for x in item.get("faq_ids", []))))
    rows = rows[:limit] if limit else rows
    if oos:
        extra = []
        for line in Path(oos).read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                if item.get("intent", "oos") == "oos":
                    extra.append((item["text"], frozenset()))
        rows += extra[: (limit // 10 + 1) if limit else None]
    return rows


def split_rows(rows: list, part: str) -> list:
    """Deterministic halves: 'dev' (even positions) to tune on, 'test' (odd) to report on."""
    if part == "all":
        return rows
    return rows[0::2] if part == "dev" else rows[1::2]


def run_outcomes(
    faq: Path,
    rows: list[tuple[str, frozenset[str]]],
    progress: Callable[[int, int], None] | None = None,
    embedder: Any = None,
) -> list[Outcome]:
    """Import the FAQ into a fresh knowledge base and send every question through the service."""
    from knowledge.ingest import import_path

    progress = progress or (lambda done, total: None)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="deskhand-eval-") as home:
        app = Deskhand(Config(home=home), embedder=embedder)
        report = import_path(app.kb, Path(faq))
        if report.errors:
            raise ValueError("; ".join(report.errors))
        ext = {a.id: a.external_id for a in app.kb.list()}
        for i, (text, gold) in enumerate(rows):
            msg = IncomingMessage(
                "eval", "eval", f"q{i}", str(i), text, Member(f"eval-{i}", "eval")
            )
            reply = app.service.handle(msg)
            state = app.graph.get_state(
                {"configurable": {"thread_id": msg.conversation_key}}
            ).values
            hits = [
                {**h, "external_id": ext.get(h["article_id"], "")} for h in state.get("hits") or []
            ]
            answered = (
                ext.get(reply.citations[0].article_id, "")
                if reply.route == "answer" and reply.citations
                else ""
            )
            outcomes.append(
                Outcome(
                    text,
                    gold,
                    reply.route,
                    answered,
                    hits,
                    state.get("signals") or {},
                    state.get("classification") or {},
                    reply.latency_ms,
                    state.get("content_words"),
                )
            )
            progress(i + 1, len(rows))
    return outcomes


def replay(outcomes: list[Outcome], thresholds: Thresholds) -> list[str]:
    """Re-decide every outcome under other thresholds, without re-running the models."""
    routes = []
    for o in outcomes:
        state = {
            "hits": o.hits,
            "confidence": confidence_of(o.hits, thresholds),
            "content_words": o.content_words,
            "signals": o.signals,
            "classification": o.classification,
            "thresholds": thresholds,
        }
        routes.append(decide(state)[0])  # type: ignore[arg-type]
    return routes


def score(
    outcomes: list[Outcome], routes: list[str] | None = None, thresholds: Thresholds | None = None
) -> dict[str, Any]:
    """Counts and rates of answered_correct / answered_wrong / clarified / escalated.

    `clarified_right_offered` counts clarifications whose options (as the clarify node builds
    them) include a right article: one tap from a correct answer.
    """
    replayed = routes is not None
    routes = routes if replayed else [o.route for o in outcomes]
    th: Thresholds = {**DEFAULT_THRESHOLDS, **(thresholds or {})}  # type: ignore[typeddict-item]
    counts = {
        "answered_correct": 0,
        "answered_wrong": 0,
        "clarified": 0,
        "escalated": 0,
        "clarified_right_offered": 0,
    }
    for o, route in zip(outcomes, routes, strict=True):
        if route == "answer":
            top = _top_id(o) if replayed else o.answered_id
            counts["answered_correct" if top and top in o.gold else "answered_wrong"] += 1
        elif route == "clarify":
            counts["clarified"] += 1
            counts["clarified_right_offered"] += _right_offered(o, th)
        else:
            counts["escalated"] += 1
    n = len(outcomes)
    result: dict[str, Any] = {"n": n, **counts}
    result.update({f"{k}_rate": round(v / n, 4) if n else 0.0 for k, v in counts.items()})
    result["in_scope_n"] = sum(o.in_scope for o in outcomes)
    result["oos_n"] = n - result["in_scope_n"]
    result["oos_answered"] = sum(
        1 for o, r in zip(outcomes, routes, strict=True) if not o.in_scope and r == "answer"
    )
    return result


def _right_offered(o: Outcome, th: Thresholds) -> bool:
    """Whether the options a clarification offers include an article that answers it."""
    by_id = {str(h["article_id"]): h.get("external_id", "") for h in o.hits}
    offered = candidate_options(o.hits, floor=th["clarify"] * 0.9)
    return any(by_id.get(opt["value"]) in o.gold for opt in offered)


def _top_id(o: Outcome) -> str:
    return str(o.hits[0].get("external_id", "")) if o.hits else ""


def latency(outcomes: list[Outcome]) -> dict[str, float]:
    """p50/p95 of handle() over the run."""
    arr = np.asarray([o.latency_ms for o in outcomes]) if outcomes else np.zeros(1)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
    }


def sweep(outcomes: list[Outcome], base: Thresholds | None = None) -> list[dict[str, Any]]:
    """Answer-threshold sweep (clarify fixed relative) for precision-vs-coverage plots and calibration."""
    base = base or dict(DEFAULT_THRESHOLDS)  # type: ignore[assignment]
    rows = []
    for answer in np.round(np.arange(0.30, 0.96, 0.01), 2):
        for clarify in np.round(np.arange(0.20, float(answer) + 0.001, 0.05), 2):
            th = {**base, "answer": float(answer), "clarify": float(clarify)}
            rows.append(
                {
                    "answer": float(answer),
                    "clarify": float(clarify),
                    **score(outcomes, replay(outcomes, th), th),
                }
            )  # type: ignore[arg-type]
    return rows


def pick_thresholds(rows: list[dict[str, Any]], target_wrong: float) -> dict[str, Any] | None:
    """The sweep row with the most correct answers whose wrong-answer rate stays within target."""
    ok = [r for r in rows if r["answered_wrong_rate"] <= target_wrong]
    if not ok:
        return None
    return max(
        ok, key=lambda r: (r["answered_correct_rate"], -r["answered_wrong_rate"], r["clarify"])
    )
