"""`deskhand bench`: latency, throughput, import rate and memory without an LLM."""

from __future__ import annotations

import json
import platform
import random
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bot.app import SAMPLE_DIR, Deskhand
from bot.config import Config
from bot.contracts import IncomingMessage, Member

TOPICS = ["billing", "account", "integrations", "orders", "mobile", "security", "reports", "teams"]
VERBS = [
    "configure",
    "reset",
    "export",
    "connect",
    "cancel",
    "upgrade",
    "sync",
    "invite",
    "archive",
]
THINGS = [
    "workspace",
    "invoice",
    "webhook",
    "calendar",
    "project",
    "label",
    "device",
    "report",
    "token",
]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sample_questions() -> list[str]:
    """Distinct member-style questions: the sample eval set plus every scope example."""
    import yaml

    texts = [
        json.loads(line)["text"]
        for line in (SAMPLE_DIR / "eval.jsonl").read_text().splitlines()
        if line.strip()
    ]
    scope = yaml.safe_load((SAMPLE_DIR / "scope.yaml").read_text())
    for section in ("issue_types", "out_of_scope"):
        for item in scope.get(section) or []:
            texts += item.get("examples", [])
    return list(dict.fromkeys(texts))


def synthetic_articles(n: int, seed: int = 7) -> list[dict[str, str]]:
    """N plausible, distinct help articles for scale tests."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic, verb, thing = rng.choice(TOPICS), rng.choice(VERBS), rng.choice(THINGS)
        title = f"How to {verb} a {thing} in {topic} (#{i})"
        steps = "\n".join(
            f"{s}. Open {topic.title()} → {thing.title()} and choose option {rng.randint(1, 9)}."
            for s in range(1, 4)
        )
        body = (
            f"You can {verb} a {thing} from the {topic} settings in about {rng.randint(1, 10)} minutes.\n\n"
            f"## Steps\n{steps}\n\nIf it fails, check the {thing} permissions and retry after {rng.randint(2, 30)} seconds."
        )
        out.append(
            {"title": title, "body": body, "topic": topic, "url": f"https://help.example/a/{i}"}
        )
    return out


def _latency(
    app: Deskhand, questions: list[str], progress: Callable[[int, int], None], offset: int = 0
) -> dict[str, float]:
    times, cpu = [], []
    started = time.perf_counter()
    for i, text in enumerate(questions):
        msg = IncomingMessage(
            "bench", "c1", f"t{offset + i}", str(i), text, Member(f"u{i}", "bench")
        )
        t0, c0 = time.perf_counter(), time.process_time()
        app.service.handle(msg)
        cpu.append((time.process_time() - c0) * 1000)
        times.append((time.perf_counter() - t0) * 1000)
        progress(offset + i + 1, offset + len(questions) * 2)
    wall = time.perf_counter() - started
    arr = np.asarray(times)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "handle_cpu_p50_ms": round(float(np.percentile(np.asarray(cpu), 50)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
        "max_ms": round(float(arr.max()), 2),
        "msgs_per_s": round(len(times) / wall, 1),
        "n": len(times),
    }


def embed_floor(embedder: Any, texts: list[str]) -> dict[str, float]:
    """p50/p95 of one uncached single-query embedding on one thread (the unavoidable work).

    Wall time and this process's CPU time: on a shared machine the CPU figure moves far less.
    """
    once = getattr(embedder, "embed_once", None) or (lambda t: embedder.embed([t]))
    once("warm up")
    times, cpu = [], []
    for text in texts:
        t0, c0 = time.perf_counter(), time.process_time()
        once(text)
        cpu.append((time.process_time() - c0) * 1000)
        times.append((time.perf_counter() - t0) * 1000)
    arr = np.asarray(times)
    return {
        "embed_p50_ms": round(float(np.percentile(arr, 50)), 2),
        "embed_p95_ms": round(float(np.percentile(arr, 95)), 2),
        "embed_cpu_p50_ms": round(float(np.percentile(np.asarray(cpu), 50)), 2),
    }


def overhead_ratio(result: dict[str, Any]) -> float:
    """handle() p50 over one embedding's p50: how far a message is from its unavoidable cost."""
    return round(result["p50_ms"] / result["embed_p50_ms"], 2)


def overhead_ratio_cpu(result: dict[str, Any]) -> float:
    """The same ratio in CPU time (handle() CPU p50 / one embedding's CPU p50)."""
    return round(result["handle_cpu_p50_ms"] / result["embed_cpu_p50_ms"], 2)


def _import_rate(app: Deskhand, articles: list[dict[str, str]]) -> dict[str, float]:
    from knowledge.store import ArticleDraft

    drafts = [ArticleDraft(**a) for a in articles]
    t0 = time.perf_counter()
    app.kb.add_articles(drafts, actor="bench")
    seconds = time.perf_counter() - t0
    chunks = app.index.count()
    return {
        "articles": len(articles),
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "chunks_per_s": round(chunks / seconds, 1),
    }


def run_bench(
    messages: int = 300, synthetic: int = 0, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Measure handle() on the sample KB (and optionally an N-article synthetic KB)."""
    progress = progress or (lambda done, total: None)
    questions = sample_questions()
    questions = (questions * (messages // len(questions) + 1))[:messages]
    with tempfile.TemporaryDirectory(prefix="deskhand-bench-") as home:
        app = Deskhand(Config(home=str(Path(home) / "sample")))
        t0 = time.perf_counter()
        app.load_sample()
        sample_import_s = time.perf_counter() - t0
        app.service.handle(IncomingMessage("bench", "warm", "w", "w", "warm up", Member("w")))
        result: dict[str, Any] = {
            "kb": "sample",
            "articles": len(app.kb.list()),
            "chunks": app.index.count(),
        }
        result.update(_latency(app, questions, progress))
        result.update(embed_floor(app.embedder, sample_questions()))
        result["overhead_ratio"] = overhead_ratio(result)
        result["overhead_ratio_cpu"] = overhead_ratio_cpu(result)
        result["import_chunks_per_s"] = round(result["chunks"] / sample_import_s, 1)
        from bot.evaluation.storage import state_growth

        result["state_growth"] = state_growth(app, sample_questions(), messages=120)
        if synthetic:
            big = Deskhand(Config(home=str(Path(home) / "synthetic")), embedder=app.embedder)
            big.scope.import_file(SAMPLE_DIR / "scope.yaml", actor="bench")
            rate = _import_rate(big, synthetic_articles(synthetic))
            big.service.handle(IncomingMessage("bench", "warm", "w", "w", "warm up", Member("w")))
            lat = _latency(
                big, questions[: min(len(questions), 200)], progress, offset=len(questions)
            )
            result["synthetic"] = {**rate, **lat}
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["machine"] = (
        f"{platform.machine()} {platform.processor() or ''} {__import__('os').cpu_count()} cores, Python {platform.python_version()}".strip()
    )
    return result
