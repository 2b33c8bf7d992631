"""Monitoring benchmark: the scorecard, the alert detectors and the digest over ~1 M decisions.

    python -m bot.monitoring.bench [--decisions 1000000] [--url DATABASE_URL] [--json]

Fills an empty database (a temporary SQLite file unless `--url` names one) with simulated
traffic, then times each monitoring query path and records the process's peak memory after it,
and prints the query plans of the range queries they run (every one must use an index).
Not part of `make test`: on a 2-core machine the fill alone takes minutes.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

DAYS = 56  # eight weeks of traffic
DECISIONS_PER_CONVERSATION = 1.17  # what the simulator's outcome mix averages
WEEKDAY_SHARE = (5 + 2 * 0.5) / 7  # weekends get half the weekday volume

# the range queries behind load_window and the ticket detectors (SQLite syntax, :since/:until)
PLANNED = {
    "conversations in window": "SELECT id FROM conversation WHERE created_at >= :since AND created_at <= :until",
    "decisions of those": "SELECT decision.route FROM decision JOIN conversation ON conversation.id = decision.conversation_id WHERE conversation.created_at >= :since AND conversation.created_at <= :until",
    "feedback of those": "SELECT feedback.kind FROM feedback JOIN conversation ON conversation.id = feedback.conversation_id WHERE conversation.created_at >= :since AND conversation.created_at <= :until",
    "tickets of those": "SELECT ticket.status FROM ticket JOIN conversation ON conversation.id = ticket.conversation_id WHERE conversation.created_at >= :since AND conversation.created_at <= :until",
    "open tickets (SLA, urgent)": "SELECT id FROM ticket WHERE created_at > :since AND created_at <= :until AND claimed_at IS NULL",
    "model calls": "SELECT ok FROM llmcall WHERE created_at >= :since AND created_at <= :until",
    "outbox items": "SELECT status FROM outboxitem WHERE created_at >= :since AND created_at <= :until",
    "recent alerts": "SELECT key FROM alertevent WHERE created_at > :since",
}


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def timed(name: str, fn: Callable[[], Any], out: list[dict[str, Any]]) -> Any:
    """Run one stage; record seconds and the peak memory after it."""
    started = time.perf_counter()
    value = fn()
    out.append(
        {
            "stage": name,
            "seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mb": peak_rss_mb(),
        }
    )
    return value


def query_plans(engine: Engine, since: Any, until: Any) -> dict[str, dict[str, Any]]:
    """EXPLAIN (QUERY PLAN) of each range query, and whether it avoids a full table scan."""
    sqlite = engine.dialect.name == "sqlite"
    plans = {}
    with engine.connect() as conn:
        for name, sql in PLANNED.items():
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = conn.execute(text(prefix + sql), {"since": since, "until": until}).all()
            plan = [str(r[-1]) for r in rows]
            joined = " | ".join(plan)
            if sqlite:
                indexed = "USING" in joined and not any(
                    p.startswith("SCAN ") and "USING" not in p for p in plan
                )
            else:
                empty = "cost=0.00..0.00" in joined  # an empty table: a scan is the right plan
                indexed = "Index" in joined or "Bitmap" in joined or empty
            plans[name] = {"plan": joined, "indexed": indexed}
    return plans


def run(decisions: int, url: str = "", seed: int = 7) -> dict[str, Any]:
    """Fill, then time stats, detectors and digest; returns the report."""
    from bot.db import make_engine
    from bot.monitoring.alerts import alert_settings, detect
    from bot.monitoring.detectors import FAST_DETECTORS
    from bot.monitoring.digest import weekly_digest
    from bot.monitoring.hours import BusinessHours
    from bot.monitoring.scorecard import compute_report
    from bot.monitoring.simulate import SimConfig, simulate
    from bot.runtime_settings import SettingsStore

    workdir = None
    if not url:
        workdir = tempfile.mkdtemp(prefix="deskhand-monbench-")
        url = f"sqlite:///{Path(workdir) / 'bench.sqlite'}"
    engine = make_engine(url)
    stages: list[dict[str, Any]] = []
    per_day = decisions / DECISIONS_PER_CONVERSATION / DAYS / WEEKDAY_SHARE
    sim = timed(
        "fill (simulate)",
        lambda: simulate(engine, SimConfig(days=DAYS, per_day=per_day, seed=seed)),
        stages,
    )
    now = sim.end
    if (
        engine.dialect.name == "postgresql"
    ):  # planner statistics after a bulk fill, as autovacuum would
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    cfg = alert_settings(None)
    hours = BusinessHours()
    settings = SettingsStore(engine)
    app = SimpleNamespace(engine=engine, settings=settings)
    timed("stats 7d", lambda: compute_report(engine, now - timedelta(days=7), now), stages)
    timed(
        "stats 8w by issue-type, weekly series",
        lambda: compute_report(
            engine, now - timedelta(days=DAYS), now, by="issue-type", series="week"
        ),
        stages,
    )
    timed(
        "ticket detectors (every pass)",
        lambda: detect(engine, now, cfg, hours, FAST_DETECTORS),
        stages,
    )
    found = timed(
        "all detectors (every check_minutes)", lambda: detect(engine, now, cfg, hours), stages
    )
    timed("weekly digest", lambda: weekly_digest(engine, now), stages)
    del app
    plans = query_plans(engine, now - timedelta(days=15), now)
    size = Path(workdir, "bench.sqlite").stat().st_size if workdir else None
    engine.dispose()
    return {
        "database": engine.dialect.name,
        "decisions": sim.decisions,
        "conversations": sim.conversations,
        "tickets": sim.tickets,
        "feedback": sim.feedback,
        "database_mb": round(size / 2**20, 1) if size else None,
        "alerts_found": sorted({a.key for a in found}),
        "stages": stages,
        "query_plans": plans,
        "all_indexed": all(p["indexed"] for p in plans.values()),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry."""
    parser = argparse.ArgumentParser(prog="python -m bot.monitoring.bench", description=__doc__)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--url", default="", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.decisions < 1000:
        sys.stderr.write("--decisions must be at least 1000.\n")
        return 2
    report = run(args.decisions, args.url)
    if args.json:
        sys.stdout.write(json.dumps(report, default=str) + "\n")
        return 0
    print(
        f"{report['database']}: {report['decisions']:,} decisions, {report['conversations']:,} "
        f"conversations, {report['tickets']:,} tickets"
    )
    for stage in report["stages"]:
        print(
            f"  {stage['stage']:<40} {stage['seconds']:>8.2f} s   peak RSS {stage['peak_rss_mb']:>8.1f} MB"
        )
    for name, plan in report["query_plans"].items():
        print(f"  [{'index' if plan['indexed'] else 'SCAN '}] {name}: {plan['plan']}")
    return 0 if report["all_indexed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
