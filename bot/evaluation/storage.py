"""Storage growth: how many bytes of stored memory a conversation costs as it gets longer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot import conversation_state
from bot.contracts import IncomingMessage, Member

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand


def thread_state_bytes(app: Deskhand, conversation_key: str) -> int:
    """Bytes one conversation's stored memory occupies (one row, rewritten each turn)."""
    return conversation_state.stored_bytes(app.engine, conversation_key)


def answerable(app: Deskhand, questions: list[str], want: int = 12) -> list[str]:
    """Questions the bot answers (not escalates), probed one per fresh thread."""
    found: list[str] = []
    for i, text in enumerate(questions):
        msg = IncomingMessage("bench", "probe", f"probe-{i}", f"p{i}", text, Member(f"p{i}"))
        if app.service.handle(msg).route == "answer":
            found.append(text)
        if len(found) >= want:
            break
    return found


def state_growth(
    app: Deskhand, questions: list[str], messages: int = 120, marks: tuple[int, ...] = ()
) -> dict[str, Any]:
    """Send `messages` answerable questions into ONE thread; memory bytes at each mark."""
    texts = answerable(app, questions)
    if not texts:
        return {"error": "no answerable question in the sample"}
    marks = marks or (messages // 4, messages // 2, messages)
    key, sizes, routes = "bench:growth:T", {}, {}
    for i in range(messages):
        msg = IncomingMessage("bench", "growth", "T", f"g{i}", texts[i % len(texts)], Member("g"))
        route = app.service.handle(msg).route
        routes[route] = routes.get(route, 0) + 1
        if i + 1 in marks:
            sizes[i + 1] = thread_state_bytes(app, key)
    return {
        "messages": messages,
        "routes": routes,
        "bytes_at": sizes,
        "bytes_per_message": round(sizes[messages] / messages, 1),
    }


def _file_bytes(path: Any) -> int:
    """A SQLite file with its WAL and shared-memory side files."""
    from pathlib import Path

    total = 0
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(f"{path}{suffix}")
        if candidate.exists():
            total += candidate.stat().st_size
    return total


def current_rss_mb() -> float:
    """Resident memory now (Linux /proc), in MB."""
    import os

    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def run_soak(
    messages: int = 5000,
    threads: int = 500,
    marks: tuple[int, ...] = (1000, 2000, 5000),
    progress: Any = None,
) -> dict[str, Any]:
    """Soak: `messages` member messages spread round-robin over `threads` threads of one app."""
    import tempfile
    import time
    from pathlib import Path

    import numpy as np

    from bot.app import Deskhand
    from bot.config import Config
    from bot.evaluation.bench import peak_rss_mb, sample_questions

    questions = sample_questions()
    report: dict[str, Any] = {"messages": messages, "threads": threads, "at": {}}
    with tempfile.TemporaryDirectory(prefix="deskhand-soak-") as home:
        app = Deskhand(Config(home=str(Path(home))))
        app.load_sample()
        db_path = Path(str(app.config.db_url).removeprefix("sqlite:///"))
        times: list[float] = []
        routes: dict[str, int] = {}
        for i in range(messages):
            thread = i % threads
            text = questions[(i * 7 + thread) % len(questions)]
            msg = IncomingMessage(
                "bench", f"c{thread % 10}", f"t{thread}", f"m{i}", text, Member(f"u{thread}")
            )
            t0 = time.perf_counter()
            route = app.service.handle(msg).route
            times.append((time.perf_counter() - t0) * 1000)
            routes[route] = routes.get(route, 0) + 1
            if progress:
                progress(i + 1, messages)
            if i + 1 in marks:
                arr = np.asarray(times)
                report["at"][i + 1] = {
                    "p50_ms": round(float(np.percentile(arr, 50)), 1),
                    "p95_ms": round(float(np.percentile(arr, 95)), 1),
                    "rss_mb": current_rss_mb(),
                    "peak_rss_mb": round(peak_rss_mb(), 1),
                    "db_bytes": _file_bytes(db_path),
                }
                times = []  # each mark reports the latency of the messages since the last one
        report["routes"] = routes
    return report
